import { writeSync } from 'node:fs';
import { mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { tempName } from '../../registry/fsutil.js';
import type { IngestedFile } from '../../registry/blobs.js';
import { DIRECT_ALIGN, DirectFile } from './direct-io.js';
import { hasherFor, type Hasher } from './hasher.js';
import { recordPartial, type PartialFile } from './partial-files.js';

/** Bytes are gathered into slots of this size: one write(2) and one hash step each, not one per ~64 KiB chunk. */
const SLOT = 4 * 1024 * 1024;
/** The size of one pwrite(2) (see writePieces). */
const WRITE_PIECE = 64 * 1024;
/** Slots per file: one fills from the socket while the others are written and hashed. */
const SLOTS = 4;
/**
 * A large file is flushed to disk in the background every this many bytes, while the download goes on: the fsync
 * the store needs before the rename then finds little left to write (curl never fsyncs; we must).
 */
const EARLY_SYNC = 128 * 1024 * 1024;
/** A resumable file also records its flushed length at least this often (what a killed pull leaves usable). */
const CHECKPOINT_MS = 1000;

/** A file the sink finished: in the registry's tmp folder, flushed to disk, with its digests. */
export interface HashedFile extends IngestedFile {
  /** The git blob id (sha1 of "blob SIZE\0" + content), when the sink was asked for it. */
  gitOid?: string;
}

export interface SinkOptions {
  /** The git blob id is wanted: the size the listing announced (it prefixes the content). */
  gitSize?: number;
  /** The size expected, when known: large files are hashed in a worker thread. */
  size?: number;
  /** A partial file that outlives the process (claimed from a dead pull, or new). */
  partial?: PartialFile;
}

interface Slot {
  buf: Buffer;
  busy: Promise<void> | undefined;
  /** Its memory starts where the kernel takes direct writes from. */
  aligned: boolean;
}

/**
 * A file being written into the registry's tmp folder, hashed as the bytes pass: sha256 (the store's address and
 * the LFS oid) and, for files the Hub tracks in git, the git blob id. The network's data is never read back (only
 * the prefix of a resumed partial file is, once, from disk).
 *
 * Bytes are copied once into a few large slots; a full slot is written at its offset and handed to the hasher (a
 * worker thread for large files), which hashes it while the next slot fills: socket, hash and disk overlap. Large
 * files are written with direct I/O where the filesystem allows it (DirectFile); the rest goes into the page cache,
 * from this thread.
 */
export class HashingSink {
  readonly tmpPath: string;
  private fh: FileHandle | undefined;
  private direct: DirectFile | undefined;
  private readonly hasher: Hasher;
  private slots: Slot[] = [];
  private cur: Slot | undefined;
  private fill = 0;
  private written = 0;
  private failed: unknown;
  /** Bytes held back from a checkpoint so that the file stays block-aligned for direct writes (< DIRECT_ALIGN). */
  private carry: Buffer | undefined;
  private syncedAt = 0;
  private checkpointAt = Date.now();
  private syncing: Promise<void> | undefined;
  /** Bytes accepted so far: where a resumed download continues. */
  size = 0;
  /** Of the bytes written, those that went to the disk by direct I/O (the tests read it). */
  directBytes = 0;

  private constructor(
    tmpPath: string,
    private readonly options: SinkOptions,
  ) {
    this.tmpPath = tmpPath;
    this.hasher = hasherFor(options.size, options.gitSize);
  }

  /** A new file in `tmpDir`, or the given partial file (its recorded prefix is hashed from disk first). */
  static async create(tmpDir: string, options: SinkOptions = {}): Promise<HashingSink> {
    await mkdir(tmpDir, { recursive: true });
    const partial = options.partial;
    const sink = new HashingSink(partial ? partial.dataPath : join(tmpDir, tempName('pull')), options);
    const fresh = !partial || partial.bytes === 0;
    sink.fh = await open(sink.tmpPath, fresh ? (partial ? 'w' : 'wx') : 'r+', 0o644);
    if (sink.hasher.shared) sink.direct = DirectFile.open(sink.tmpPath, tmpDir);
    if (fresh) return sink;
    try {
      await sink.rehashPrefix(Math.min(partial.bytes, (await sink.fh.stat()).size));
    } catch (err) {
      await sink.discard();
      throw err;
    }
    return sink;
  }

  /** Hashes the first `n` bytes already on disk and continues after them. */
  private async rehashPrefix(n: number): Promise<void> {
    const fh = this.fh as FileHandle;
    // Direct writes continue from a block boundary: the few bytes past it are fetched again.
    if (this.direct) n -= n % DIRECT_ALIGN;
    await fh.truncate(n);
    const slot = this.newSlot();
    for (let pos = 0; pos < n; ) {
      const { bytesRead } = await fh.read(slot.buf, 0, Math.min(slot.buf.length, n - pos), pos);
      if (bytesRead === 0) break;
      await this.hasher.update(slot.buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    this.size = this.written = this.syncedAt = n;
  }

  private newSlot(): Slot {
    const want = this.options.size === undefined ? SLOT : Math.min(SLOT, Math.max(this.options.size, 64 * 1024));
    const direct = this.direct?.alignedSlot(want);
    const buf = direct ?? (this.hasher.shared ? Buffer.from(new SharedArrayBuffer(want)) : Buffer.allocUnsafeSlow(want));
    const slot = { buf, busy: undefined, aligned: direct !== undefined };
    this.slots.push(slot);
    if (this.slots.length >= SLOTS) this.direct?.doneProbing();
    return slot;
  }

  private freeSlot(): Slot | undefined {
    return this.slots.find((s) => !s.busy) ?? (this.slots.length < SLOTS ? this.newSlot() : undefined);
  }

  /** Takes a chunk (copied; the caller may reuse it once the returned promise, if any, settles). */
  write(chunk: Uint8Array): Promise<void> | undefined {
    if (this.failed) throw this.failed;
    this.size += chunk.length;
    return this.copyIn(chunk, 0);
  }

  private copyIn(chunk: Uint8Array, from: number): Promise<void> | undefined {
    let off = from;
    while (off < chunk.length) {
      let cur = this.cur;
      if (!cur) {
        if (this.failed) throw this.failed;
        const slot = this.freeSlot();
        if (!slot) return Promise.race(this.slots.map((s) => s.busy)).then(() => this.copyIn(chunk, off));
        cur = this.takeSlot(slot);
      }
      const n = Math.min(chunk.length - off, cur.buf.length - this.fill);
      cur.buf.set(chunk.subarray(off, off + n), this.fill);
      this.fill += n;
      off += n;
      if (this.fill === cur.buf.length) this.dispatch();
    }
    // A slow download still records its progress every CHECKPOINT_MS, with whatever the slot holds by then.
    if (this.options.partial && this.fill > 0 && !this.syncing && Date.now() - this.checkpointAt >= CHECKPOINT_MS)
      this.checkpointDispatch();
    if (this.failed) throw this.failed;
    return undefined;
  }

  /** Makes `slot` the one being filled, starting with the bytes a checkpoint held back. */
  private takeSlot(slot: Slot): Slot {
    this.cur = slot;
    this.fill = 0;
    if (this.carry) {
      this.carry.copy(slot.buf, 0);
      this.fill = this.carry.length;
      this.carry = undefined;
    }
    return slot;
  }

  /**
   * Dispatches a slot that is not full, for a checkpoint. With direct I/O only whole blocks go, and the rest starts
   * the next slot: a cut at an odd length would leave every later slot unaligned, hence buffered.
   */
  private checkpointDispatch(): void {
    const slot = this.cur as Slot;
    if (this.direct && slot.aligned && this.written % DIRECT_ALIGN === 0) {
      const keep = this.fill % DIRECT_ALIGN;
      if (keep === this.fill) return; // less than a block: the next checkpoint takes it
      if (keep > 0) {
        this.carry = Buffer.from(slot.buf.subarray(this.fill - keep, this.fill));
        this.fill -= keep;
      }
    }
    this.dispatch();
  }

  /** Dispatches whatever is held: the slot being filled and bytes a checkpoint held back. */
  private async flushTail(): Promise<void> {
    if (this.carry && !this.cur) {
      let slot = this.freeSlot();
      while (!slot) {
        await Promise.race(this.slots.map((s) => s.busy));
        if (this.failed) throw this.failed;
        slot = this.freeSlot();
      }
      this.takeSlot(slot);
    }
    if (this.fill > 0) this.dispatch();
  }

  /** Writes the current slot at its offset and hashes it, both in the background. */
  private dispatch(): void {
    const slot = this.cur as Slot;
    const data = slot.buf.subarray(0, this.fill);
    this.cur = undefined;
    this.fill = 0;
    const position = this.written;
    this.written += data.length;
    // The hasher sees slots in the order they are dispatched, which is the file's order.
    const hashed = this.hasher.update(data);
    let written: Promise<void>;
    try {
      written = this.writeOut(data, position, slot.aligned);
    } catch (err) {
      written = Promise.reject(err);
    }
    // The slot is free only when both are done with its memory, even if one of them failed early.
    const done = Promise.allSettled([hashed, written]).then((results) => {
      slot.busy = undefined;
      for (const r of results) if (r.status === 'rejected') this.failed ??= r.reason;
    });
    slot.busy = done;
    const due = this.written - this.syncedAt >= EARLY_SYNC || (this.options.partial && Date.now() - this.checkpointAt >= CHECKPOINT_MS);
    if (due && !this.syncing) this.syncing = this.checkpoint();
  }

  /**
   * Waits for the writes dispatched so far, fdatasyncs, and (for a resumable file) records their length: only
   * bytes known to be on disk are ever claimed by a later pull.
   */
  private async checkpoint(): Promise<void> {
    const upTo = this.written;
    const fh = this.fh as FileHandle;
    this.syncedAt = upTo;
    this.checkpointAt = Date.now();
    try {
      await Promise.all(this.slots.map((s) => s.busy));
      await fh.datasync();
      if (this.options.partial && !this.failed) await recordPartial(this.options.partial, upTo);
    } catch {
      // The final fsync reports real trouble; a failed early one only loses the head start.
    } finally {
      this.syncing = undefined;
    }
  }

  private async drain(): Promise<void> {
    while (this.slots.some((s) => s.busy)) await Promise.all(this.slots.map((s) => s.busy));
    if (this.syncing) await this.syncing;
    if (this.failed) throw this.failed;
  }

  /** Writes a slot's bytes at `position`: whole blocks directly when it can, the rest into the page cache. */
  private writeOut(data: Buffer, position: number, aligned: boolean): Promise<void> {
    const direct = this.direct?.write(data, position, aligned);
    if (direct === undefined || direct.bytes === 0) {
      this.writePieces(data, position);
      return Promise.resolve();
    }
    if (direct.bytes < data.length) this.writePieces(data.subarray(direct.bytes), position + direct.bytes);
    this.directBytes += direct.bytes;
    return direct.done.catch((err: unknown) => {
      // A filesystem that opened the file for direct I/O but refuses the write: buffered from here on.
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
      this.direct?.disable();
      this.directBytes -= direct.bytes;
      this.writePieces(data.subarray(0, direct.bytes), position);
    });
  }

  /**
   * Writes a slot at its offset, synchronously, WRITE_PIECE bytes per pwrite(2). One large write makes the kernel
   * fill the page cache with large folios, which it takes from big free blocks of memory; in a virtual machine that
   * returns free memory to its host, those blocks must be faulted back in page by page, and 1 GiB written in 4 MiB
   * writes cost 2.4-3.9 s of system time against 0.6-0.8 s in 64 KiB writes (bench/RESULTS.md, pull). The copy
   * into the page cache is short (the disk is written later, by the kernel or our fdatasync), so it stays on this
   * thread: asynchronous writes would wait on the file's lock in the thread pool, spinning on a core the hasher
   * and the network need.
   */
  private writePieces(data: Buffer, position: number): void {
    const fd = (this.fh as FileHandle).fd;
    for (let done = 0; done < data.length; ) {
      done += writeSync(fd, data, done, Math.min(WRITE_PIECE, data.length - done), position + done);
    }
  }

  private async closeDirect(): Promise<void> {
    const direct = this.direct;
    this.direct = undefined;
    await direct?.close();
  }

  /** Starts over (the server ignored a Range request and sent the whole file). */
  async reset(): Promise<void> {
    this.carry = undefined;
    if (this.fill > 0) this.dispatch();
    await this.drain();
    this.syncedAt = 0;
    this.written = 0;
    this.size = 0;
    await (this.fh as FileHandle).truncate(0);
    this.hasher.reset();
  }

  /** Flushes, fsyncs and closes: the result can go to the store as it is. */
  async finish(): Promise<HashedFile> {
    await this.flushTail();
    await this.drain();
    const fh = this.fh as FileHandle;
    this.fh = undefined;
    try {
      await this.closeDirect();
      await fh.sync();
    } finally {
      await fh.close();
    }
    // Complete: nothing left to resume (a crash from here on leaves a plain temporary file for gc).
    if (this.options.partial) await unlink(this.options.partial.sidecarPath).catch(() => {});
    const d = await this.hasher.digest();
    return { sha256: d.sha256, size: this.size, tmpPath: this.tmpPath, ...(d.sha1 ? { gitOid: d.sha1 } : {}) };
  }

  /**
   * Keeps what arrived for a later pull (after a network failure or an interrupt): flushed, its length recorded.
   * Falls back to discarding when the file is not resumable.
   */
  async suspend(): Promise<void> {
    if (!this.options.partial || !this.fh) return this.discard();
    try {
      await this.flushTail();
      await this.drain();
      await this.closeDirect();
      await this.fh.datasync();
      await recordPartial(this.options.partial, this.written);
      this.hasher.drop();
      await this.fh.close();
      this.fh = undefined;
    } catch {
      await this.discard();
    }
  }

  /** Drops the file (a failure, or content that did not verify). */
  async discard(): Promise<void> {
    await this.drain().catch(() => {});
    await this.closeDirect().catch(() => {});
    await this.fh?.close().catch(() => {});
    this.fh = undefined;
    this.hasher.drop();
    await unlink(this.tmpPath).catch(() => {});
    if (this.options.partial) await unlink(this.options.partial.sidecarPath).catch(() => {});
  }
}
