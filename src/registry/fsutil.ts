import { createHash, randomBytes } from 'node:crypto';
import { link, mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { ModelctlError } from '../errors.js';
import { basename, dirname, join } from 'node:path';
import { fsyncDir } from '../util/fs.js';

export { fsyncDir };

export function tempName(prefix: string): string {
  return `${prefix}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
}

/**
 * Writes `data` to `path` atomically: a temporary file (in `tmpDir`, which must be on the same filesystem, or
 * beside the target), fsync, rename, fsync of the folder. A reader sees the old file or the new one, never a torn
 * one; a crash leaves at worst the temporary file, which gc removes.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: { tmpDir?: string; mode?: number; exclusive?: boolean } = {},
): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmpDir = options.tmpDir ?? dir;
  if (options.tmpDir) await mkdir(tmpDir, { recursive: true });
  const tmp = join(tmpDir, `.${tempName(basename(path))}`);
  const mode = options.mode ?? 0o644;
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  try {
    if (options.exclusive) {
      // Never replace: link(2) fails if the target exists, even on a case-insensitive filesystem where another
      // spelling of the name is already there. The temporary name is then dropped.
      await link(tmp, path);
      await unlink(tmp);
    } else {
      await rename(tmp, path);
    }
  } catch (err) {
    await unlink(tmp).catch(() => {});
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new ModelctlError('VERSION_EXISTS', `${path} already exists`, {
        hint: 'registry files are never replaced; choose another version',
      });
    }
    throw err;
  }
  fsyncDir(dir);
}

export function isEnoent(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** A write refused for want of space (a full disk, an exhausted quota): what rm and gc must work around. */
export function isNoSpace(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** Read size of the streamed hashes: large enough that the per-read cost vanishes, small enough to stay cached. */
export const HASH_CHUNK = 4 * 1024 * 1024;

/** sha256 and length of an open file's content, read from the start. */
export async function hashHandle(fh: FileHandle, signal?: AbortSignal): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(HASH_CHUNK);
  let size = 0;
  for (;;) {
    signal?.throwIfAborted();
    const { bytesRead } = await fh.read(buffer, 0, HASH_CHUNK, size);
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
    size += bytesRead;
  }
  return { sha256: hash.digest('hex'), size };
}
