import { createHash } from 'node:crypto';
import { chmod, mkdir, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ModelctlError, fsError } from '../errors.js';
import { fsyncDir, hashHandle, isEnoent, tempName } from './fsutil.js';
import type { Layout } from './layout.js';
import { backdate, blobIntact, recordPlaced } from './verify.js';

const CHUNK = 4 * 1024 * 1024;

export interface IngestedFile {
  sha256: string;
  size: number;
  /** The complete, fsynced copy in the registry's tmp folder, waiting to be placed under the lock. */
  tmpPath: string;
}

export interface CopyProgress {
  bytes: number;
  total: number;
}

async function writeAll(fh: FileHandle, chunk: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < chunk.length) {
    const { bytesWritten } = await fh.write(chunk, done, chunk.length - done, position + done);
    done += bytesWritten;
  }
}

/**
 * Copies `src` into the registry's tmp folder and hashes it in the same pass: the next chunk is read while the
 * previous one is written, and hashing runs on the main thread meanwhile. The file is read exactly once.
 */
export async function ingestFile(
  layout: Layout,
  src: string,
  onProgress?: (p: CopyProgress) => void,
  signal?: AbortSignal,
): Promise<IngestedFile> {
  let input: FileHandle;
  try {
    input = await open(src, 'r');
  } catch (err) {
    throw fsError(err, src);
  }
  await mkdir(layout.tmpDir, { recursive: true });
  const tmpPath = join(layout.tmpDir, tempName('blob'));
  let output: FileHandle | undefined;
  try {
    const total = (await input.stat()).size;
    output = await open(tmpPath, 'wx', 0o644);
    const hash = createHash('sha256');
    const buffers = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
    let pending: Promise<void> | undefined;
    let position = 0;
    for (let i = 0; ; i++) {
      signal?.throwIfAborted();
      const buffer = buffers[i & 1] as Buffer;
      let bytesRead: number;
      try {
        ({ bytesRead } = await input.read(buffer, 0, CHUNK, position));
      } catch (err) {
        throw fsError(err, src);
      }
      if (pending) await pending;
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      hash.update(chunk);
      pending = writeAll(output, chunk, position);
      // Awaited with the next chunk; until then a failure (a full disk) must not be an unhandled rejection.
      pending.catch(() => {});
      position += bytesRead;
      onProgress?.({ bytes: position, total });
    }
    await output.sync();
    await output.close();
    output = undefined;
    return { sha256: hash.digest('hex'), size: position, tmpPath };
  } catch (err) {
    await output?.close().catch(() => {});
    await unlink(tmpPath).catch(() => {});
    throw err;
  } finally {
    await input.close();
  }
}

/**
 * Moves an ingested file to its content address. Called under the registry lock, so gc cannot see a placed blob
 * before the manifest that references it. A blob that already exists and is intact (verify.ts) is kept and the copy
 * dropped; a damaged one is replaced by the copy, so storing the same file again repairs it. Records the placed
 * blob's fingerprint. Returns true when the blob was written.
 */
export async function placeBlob(layout: Layout, file: IngestedFile): Promise<boolean> {
  const target = layout.blob(file.sha256);
  const exists = await stat(target).then(
    () => true,
    (err: unknown) => {
      if (!isEnoent(err)) throw err;
      return false;
    },
  );
  if (exists && (await blobIntact(layout, file.sha256, file.size))) {
    await unlink(file.tmpPath).catch(() => {});
    return false;
  }
  await mkdir(dirname(target), { recursive: true });
  try {
    await backdate(file.tmpPath);
    await chmod(file.tmpPath, 0o444);
    await rename(file.tmpPath, target).catch(async (err: unknown) => {
      // Windows will not rename over a read-only file (the damaged blob being replaced).
      if (!exists || (err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
      await chmod(target, 0o644);
      await rename(file.tmpPath, target);
    });
  } catch (err) {
    if (!isEnoent(err)) throw err;
    throw new ModelctlError('INTEGRITY', 'a temporary copy this register made was removed before it could be stored', {
      hint: 'another process removed it (was `modelctl gc --grace` run with a short grace?); run the register again',
    });
  }
  fsyncDir(dirname(target));
  await recordPlaced(layout, file.sha256);
  return true;
}

/** sha256 of a file, streamed. */
export async function hashFile(path: string, signal?: AbortSignal): Promise<{ sha256: string; size: number }> {
  const fh = await open(path, 'r');
  try {
    return await hashHandle(fh, signal);
  } finally {
    await fh.close();
  }
}
