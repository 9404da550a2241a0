import { chmod, mkdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ModelctlError, fsError, ioError } from '../errors.js';
import { compareFile, type ExpectedContent } from '../hub/local-digest.js';
import { tempName } from '../registry/fsutil.js';
import type { Registry } from '../registry/index.js';
import { isSafeRelativePath, type Manifest } from '../registry/manifest.js';
import { verifyVersion } from '../registry/verify.js';
import { expandHome } from '../util/paths.js';
import { kernelCopy } from '../util/fs.js';

/**
 * A version's files written out into a folder (`pull --local-dir`, `checkout`): the exact relative paths, the
 * exact bytes, each copied from the registry's blob (a reflink where the filesystem has them, never a hard link
 * into the store, so editing the folder cannot damage the registry) under a temporary name and renamed into
 * place. A file already there with other content is a CONFLICT unless forced; the check runs first, on the
 * checksums alone, so a pull can refuse before it downloads or registers anything.
 */

export interface OutFile extends ExpectedContent {
  path: string;
}

export interface WriteOutCheck {
  dir: string;
  /** Files to write (absent, or different and forced) and files already there with the same content. */
  toWrite: string[];
  same: string[];
  /** Different files that --force will replace. */
  overwritten: string[];
}

/** Compares the folder with the files to come; refuses (CONFLICT) if any differs and `force` is not set. */
export async function checkWriteOut(dir: string, files: OutFile[], force: boolean): Promise<WriteOutCheck> {
  const abs = resolve(expandHome(dir));
  const st = await stat(abs).catch(() => undefined);
  if (st && !st.isDirectory()) {
    throw new ModelctlError('CONFLICT', `${dir} exists and is not a folder`, { hint: 'give a folder (it is created if missing)' });
  }
  const check: WriteOutCheck = { dir: abs, toWrite: [], same: [], overwritten: [] };
  for (const f of files) {
    if (!isSafeRelativePath(f.path)) {
      throw new ModelctlError('INVALID_INPUT', `cannot write a file named ${JSON.stringify(f.path)}`, {
        hint: 'file names may not hold control characters, backslashes or ..',
      });
    }
    let state: Awaited<ReturnType<typeof compareFile>>;
    try {
      state = await compareFile(join(abs, ...f.path.split('/')), f);
    } catch (err) {
      throw fsError(err, join(dir, f.path));
    }
    if (state === 'same') check.same.push(f.path);
    else check.toWrite.push(f.path);
    if (state === 'different') check.overwritten.push(f.path);
  }
  if (check.overwritten.length > 0 && !force) {
    const shown = check.overwritten.slice(0, 3).join(', ');
    const more = check.overwritten.length > 3 ? ` and ${check.overwritten.length - 3} more` : '';
    throw new ModelctlError('CONFLICT', `${dir} already holds other content at ${shown}${more}`, {
      hint: 'nothing was written or registered; pass --force to overwrite them, or choose another folder',
      details: { dir: abs, files: check.overwritten },
    });
  }
  return check;
}

/**
 * A registered version's files into the checked folder, after verify-on-use checked its blobs (`checkout`, and
 * `pull --local-dir` once the version is registered).
 */
export async function writeVersionOut(
  registry: Registry,
  m: Manifest,
  check: WriteOutCheck,
): Promise<{ dir: string; written: string[]; same: string[] }> {
  await verifyVersion(registry.store, m, { paths: check.toWrite });
  const shaOf = new Map(m.files.map((f) => [f.path, f.sha256]));
  await writeOut(check, (path) => registry.store.layout.blob(shaOf.get(path) as string));
  return { dir: check.dir, written: check.toWrite, same: check.same };
}

/** `modelctl checkout REF DIR`: a registry version's files written out into a folder. */
export async function checkout(options: {
  registry: Registry;
  ref: string;
  dir: string;
  force?: boolean;
}): Promise<{ manifest: Manifest; dir: string; written: string[]; same: string[] }> {
  const m = await options.registry.resolve(options.ref);
  const check = await checkWriteOut(options.dir, m.files, options.force === true);
  return { manifest: m, ...(await writeVersionOut(options.registry, m, check)) };
}

/** Copies each file still to write from its source (`sourceOf(path)`: a registry blob) into the checked folder. */
export async function writeOut(check: WriteOutCheck, sourceOf: (path: string) => string): Promise<void> {
  for (const path of check.toWrite) {
    const target = join(check.dir, ...path.split('/'));
    const tmp = join(dirname(target), `.${basename(target)}.${tempName('modelctl')}`);
    try {
      await mkdir(dirname(target), { recursive: true });
      await kernelCopy(sourceOf(path), tmp);
      await chmod(tmp, 0o644);
      await rename(tmp, target);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      if ((err as NodeJS.ErrnoException).code === 'EISDIR')
        throw new ModelctlError('CONFLICT', `${join(check.dir, path)} is a folder`, { hint: 'remove it, or choose another folder' });
      throw ioError(fsError(err, target, 'write'), target);
    }
  }
}
