import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, lstat, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ModelctlError, fsError } from '../errors.js';
import { fsyncDir, kernelCopy } from '../util/fs.js';

/**
 * Writing what a deploy target made (a Triton model folder, a manifest file) where the user asked: built beside the
 * target under a temporary name and renamed into place, so that a reader never sees half of it. What is already
 * there with the same content is left alone ("unchanged"); different content is refused unless `force`, and then
 * replaced whole. Model bytes are copied from the store (a reflink where the filesystem has them), never linked: a
 * deployed file edited by hand must not change the registry.
 */

/**
 * What goes into the output: a text, or a file's bytes by sha256 and size: a blob of the store (copied) or, with
 * `move`, a file the caller staged for this output alone (renamed into place when on the same filesystem).
 */
export type Entry = { relPath: string; text: string } | { relPath: string; blob: string; sha256: string; size: number; move?: boolean };

export type WriteOutcome = 'created' | 'unchanged' | 'replaced';

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function filesUnder(dir: string, prefix = ''): Promise<string[] | undefined> {
  const found: string[] = [];
  for (const d of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${d.name}` : d.name;
    if (d.isDirectory()) {
      const inner = await filesUnder(join(dir, d.name), rel);
      if (!inner) return undefined;
      found.push(...inner);
    } else if (d.isFile()) found.push(rel);
    else return undefined; // a link or a device: not something deploy wrote
  }
  return found;
}

async function sameEntry(path: string, entry: Entry): Promise<boolean> {
  if ('text' in entry) return (await readFile(path)).equals(Buffer.from(entry.text));
  const st = await lstat(path);
  return st.size === entry.size && (await sha256Of(path)) === entry.sha256;
}

/** True when `target` holds exactly these entries (a folder) or this one text (a file). */
async function sameContent(target: string, entries: readonly Entry[], single: boolean): Promise<boolean> {
  const st = await lstat(target);
  if (single) return st.isFile() && sameEntry(target, entries[0] as Entry);
  if (!st.isDirectory()) return false;
  const files = await filesUnder(target);
  if (!files || files.length !== entries.length) return false;
  const wanted = new Map(entries.map((e) => [e.relPath, e]));
  for (const rel of files) {
    const entry = wanted.get(rel);
    if (!entry || !(await sameEntry(join(target, rel), entry))) return false;
  }
  return true;
}

async function writeEntry(path: string, entry: Entry): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  if ('text' in entry) await writeFile(path, entry.text, { flag: 'wx' });
  else {
    const moved =
      entry.move === true &&
      (await rename(entry.blob, path).then(
        () => true,
        () => false,
      ));
    if (!moved) await kernelCopy(entry.blob, path);
    // Blobs are read-only; the copy is the user's to edit or remove.
    await chmod(path, 0o644);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw fsError(err, path);
  }
}

interface OutputOptions {
  force?: boolean;
  single?: boolean;
  /** Names the target in the refusal ("Triton model folder"). */
  what: string;
}

/**
 * Whether `target` can be written: absent, or already holding this content ("same"), or different and `force`
 * given; otherwise the CONFLICT refusal. Callers writing several targets check them all first.
 */
export async function checkOutput(
  target: string,
  entries: readonly Entry[],
  options: OutputOptions,
): Promise<'absent' | 'same' | 'replace'> {
  if (!(await exists(target))) return 'absent';
  if (await sameContent(target, entries, options.single === true)) return 'same';
  if (!options.force) {
    throw new ModelctlError('CONFLICT', `${target} already exists with different content`, {
      hint: `pass --force to replace the ${options.what}, or choose another --out`,
    });
  }
  return 'replace';
}

/** Writes `entries` as the folder `target` (or, with `single`, the one entry as the file `target`). */
export async function writeOutput(target: string, entries: readonly Entry[], options: OutputOptions): Promise<WriteOutcome> {
  const single = options.single === true;
  const state = await checkOutput(target, entries, options);
  if (state === 'same') return 'unchanged';
  const present = state === 'replace';
  const parent = dirname(target);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const staging = join(parent, `.${basename(target)}.modelctl-${tag}`);
  try {
    await mkdir(parent, { recursive: true });
    if (single) await writeEntry(staging, entries[0] as Entry);
    else for (const entry of entries) await writeEntry(join(staging, entry.relPath), entry);
    if (present) {
      const old = join(parent, `.${basename(target)}.old-${tag}`);
      await rename(target, old);
      await rename(staging, target).catch(async (err: unknown) => {
        await rename(old, target);
        throw err;
      });
      await rm(old, { recursive: true, force: true });
    } else await rename(staging, target);
    fsyncDir(parent);
  } catch (err) {
    await rm(staging, { recursive: true, force: true }).catch(() => {});
    throw fsError(err, target, 'write');
  }
  return present ? 'replaced' : 'created';
}
