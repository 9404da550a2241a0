import { createHash, type Hash } from 'node:crypto';
import { mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { tempName } from '../registry/fsutil.js';
import type { IngestedFile } from '../registry/blobs.js';

/** Writes larger than this are batched: undici hands over ~64 KiB chunks and one write(2) each would dominate. */
const BATCH = 4 * 1024 * 1024;
/**
 * A large file is flushed to disk in the background every this many bytes, while the download goes on: the fsync
 * the store needs before the rename then finds little left to write (curl never fsyncs; we must).
 */
const EARLY_SYNC = 128 * 1024 * 1024;
const IN_FLIGHT = 4;

export interface SinkResult extends IngestedFile {
  /** The git blob id (sha1 of "blob SIZE\0" + content), when the sink was asked for it. */
  gitOid?: string;
}

/**
 * A file being written into the registry's tmp folder, hashed as the bytes pass: sha256 (the store's address and
 * the LFS oid) and, for files the Hub tracks in git, the git blob id. The data is never read back.
 */
export class HashingSink {
  readonly tmpPath: string;
  private fh: FileHandle | undefined;
  private sha256: Hash = createHash('sha256');
  private sha1: Hash | undefined;
  private batch: Buffer[] = [];
  private batched = 0;
  private written = 0;
  private inFlight = new Set<Promise<void>>();
  private failed: unknown;
  private syncedAt = 0;
  private syncing: Promise<void> | undefined;
  /** Bytes accepted so far (written or batched): where a resumed download continues. */
  size = 0;

  private constructor(tmpPath: string, private readonly gitSize: number | undefined) {
    this.tmpPath = tmpPath;
    this.resetHashes();
  }

  /** `gitSize`: the size the listing announced, when the git blob id must be computed (it prefixes the content). */
  static async create(tmpDir: string, gitSize?: number): Promise<HashingSink> {
    await mkdir(tmpDir, { recursive: true });
    const sink = new HashingSink(join(tmpDir, tempName('pull')), gitSize);
    sink.fh = await open(sink.tmpPath, 'wx', 0o644);
    return sink;
  }

  private resetHashes(): void {
    this.sha256 = createHash('sha256');
    if (this.gitSize !== undefined) this.sha1 = createHash('sha1').update(`blob ${this.gitSize}\0`);
  }

  write(chunk: Uint8Array): Promise<void> | undefined {
    this.sha256.update(chunk);
    this.sha1?.update(chunk);
    this.size += chunk.length;
    this.batch.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    this.batched += chunk.length;
    if (this.batched < BATCH) return undefined;
    return this.flushBatch();
  }

  /**
   * Hands the batch to the disk with one writev (no copy into a bigger buffer). Up to IN_FLIGHT batches are
   * written at once, at their own offsets, so the socket keeps being read while the disk is slow.
   */
  private async flushBatch(): Promise<void> {
    const parts = this.batch;
    const length = this.batched;
    this.batch = [];
    this.batched = 0;
    while (this.inFlight.size >= IN_FLIGHT) await Promise.race(this.inFlight);
    if (this.failed) throw this.failed;
    const position = this.written;
    this.written += length;
    const write = this.writeAll(parts, length, position).then(
      () => {
        this.inFlight.delete(write);
      },
      (err: unknown) => {
        this.inFlight.delete(write);
        this.failed ??= err;
      },
    );
    this.inFlight.add(write);
    if (this.written - this.syncedAt >= EARLY_SYNC && !this.syncing) {
      this.syncedAt = this.written;
      const fh = this.fh as FileHandle;
      const before = [...this.inFlight];
      this.syncing = Promise.all(before).then(() => fh.datasync()).catch(() => {}).finally(() => {
        this.syncing = undefined;
      });
    }
  }

  private async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.race(this.inFlight);
    if (this.syncing) await this.syncing;
    if (this.failed) throw this.failed;
  }

  private async writeAll(parts: Buffer[], length: number, position: number): Promise<void> {
    const fh = this.fh as FileHandle;
    const { bytesWritten } = await fh.writev(parts, position);
    if (bytesWritten === length) return;
    // A short writev (rare on regular files): finish the rest from one buffer.
    const rest = Buffer.concat(parts, length).subarray(bytesWritten);
    let done = 0;
    while (done < rest.length) {
      const r = await fh.write(rest, done, rest.length - done, position + bytesWritten + done);
      done += r.bytesWritten;
    }
  }

  /** Starts over (the server ignored a Range request and sent the whole file). */
  async reset(): Promise<void> {
    await this.drain();
    this.syncedAt = 0;
    this.batch = [];
    this.batched = 0;
    this.written = 0;
    this.size = 0;
    await (this.fh as FileHandle).truncate(0);
    this.resetHashes();
  }

  /** Flushes, fsyncs and closes: the result can go to the store as it is. */
  async finish(): Promise<SinkResult> {
    if (this.batched > 0) await this.flushBatch();
    await this.drain();
    const fh = this.fh as FileHandle;
    this.fh = undefined;
    await fh.sync();
    await fh.close();
    return {
      sha256: this.sha256.digest('hex'),
      size: this.size,
      tmpPath: this.tmpPath,
      ...(this.sha1 ? { gitOid: this.sha1.digest('hex') } : {}),
    };
  }

  /** Drops the file (a failure, or content that did not verify). */
  async discard(): Promise<void> {
    await this.drain().catch(() => {});
    await this.fh?.close().catch(() => {});
    this.fh = undefined;
    await unlink(this.tmpPath).catch(() => {});
  }
}

/** The git blob id of a buffer: sha1("blob SIZE\0" + content). */
export function gitBlobId(content: Uint8Array): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}
