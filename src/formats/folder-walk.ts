import type { Dirent } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { ModelctlError, fsError } from '../errors.js';
import { throwIfAborted } from './io.js';
import type { InspectedFile } from './types.js';

/**
 * The files of a model folder: every regular file below it, by POSIX path, sorted.
 *
 * Left out, because they are never part of a model and would only bloat or leak into the registry: .git/,
 * .cache/ (huggingface-cli keeps its download bookkeeping there), __pycache__/ and .DS_Store.
 *
 * Symlinks: registering copies the target's bytes into the store, so a link that leaves the folder could pull in
 * any file the user can read (a planted "model" linking to ~/.ssh/id_rsa). Links to files inside the folder are
 * kept; links leaving it are skipped and reported in warnings, with one exception: a Hugging Face cache snapshot
 * (…/models--org--name/snapshots/<rev>/), whose files are links into the same repo's blobs/ folder by design.
 * Links to folders are not followed (they could loop or list a file twice).
 */

const SKIPPED_DIRS = new Set(['.git', '.cache', '__pycache__']);
const SKIPPED_FILES = new Set(['.DS_Store']);
const MAX_FILES = 100_000;

export interface FolderListing {
  files: InspectedFile[];
  /** One line per symlink or special file left out. */
  skipped: string[];
}

function inside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** The blobs/ folder a Hugging Face cache snapshot may link into, when `realRoot` is such a snapshot. */
function hfCacheBlobs(realRoot: string): string | undefined {
  const snapshots = dirname(realRoot);
  const repo = dirname(snapshots);
  return basename(snapshots) === 'snapshots' && /^(models|datasets|spaces)--/.test(basename(repo)) ? join(repo, 'blobs') : undefined;
}

export async function listFolder(root: string, signal?: AbortSignal): Promise<FolderListing> {
  let realRoot: string;
  try {
    realRoot = await realpath(root);
  } catch (err) {
    throw fsError(err, root);
  }
  const blobs = hfCacheBlobs(realRoot);
  const files: InspectedFile[] = [];
  const skipped: string[] = [];
  const pending = [root];
  while (pending.length > 0) {
    throwIfAborted(signal);
    const dir = pending.pop() as string;
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      throw fsError(err, dir, 'list');
    }
    for (const entry of entries) {
      const abs = join(dir, entry.name);
      const rel = relative(root, abs).split(sep).join('/');
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name)) pending.push(abs);
      } else if (entry.isFile()) {
        if (SKIPPED_FILES.has(entry.name)) continue;
        const st = await stat(abs).catch((err: unknown) => {
          throw fsError(err, abs);
        });
        files.push({ path: rel, abs, size: st.size });
      } else if (entry.isSymbolicLink()) {
        const target = await realpath(abs).catch(() => undefined);
        const st = target ? await stat(target).catch(() => undefined) : undefined;
        if (!target || !st) skipped.push(`${rel}: broken symlink, skipped`);
        else if (!inside(target, realRoot) && !(blobs && inside(target, blobs)))
          skipped.push(`${rel}: symlink to ${target}, outside the folder, skipped`);
        else if (st.isDirectory()) skipped.push(`${rel}: symlink to a folder, not followed`);
        else if (st.isFile() && !SKIPPED_FILES.has(entry.name)) files.push({ path: rel, abs, size: st.size });
      } else {
        skipped.push(`${rel}: not a regular file, skipped`);
      }
      if (files.length > MAX_FILES) {
        throw new ModelctlError('INVALID_INPUT', `${root} holds more than ${MAX_FILES} files; that is not a model folder`, {
          hint: 'point at the folder that holds the model files, not at a parent folder',
        });
      }
    }
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files, skipped };
}
