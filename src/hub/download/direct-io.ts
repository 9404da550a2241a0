import { closeSync, constants, openSync, unlinkSync, write, writeSync } from 'node:fs';
import { join } from 'node:path';
import { tempName } from '../../registry/fsutil.js';

/**
 * Direct I/O (O_DIRECT) for large downloads on Linux: the slots go from our memory to the disk without being
 * copied into the page cache. Buffered, a gigabyte costs about 0.5 s of CPU to copy into the page cache plus the
 * writeback our fdatasync waits for; direct, the device does the work (bench/RESULTS.md, pull: about 0.07 s of CPU
 * per GiB), which leaves the cores to the socket, the hash and, on loopback, the server.
 *
 * Direct writes need the file offset, the length and the memory address aligned (to the device's logical block
 * size, at most 4096 here). JavaScript cannot see an address, so each slot is allocated 4096 bytes larger and the
 * kernel is asked, by test writes to a scratch file, at which offset in it a write is accepted. Whatever does not
 * fit the rules (a file's tail, a slot cut short by a checkpoint) is written buffered, through the ordinary handle.
 */

/** File offsets and lengths of direct writes are multiples of this (the largest logical block size in use). */
export const DIRECT_ALIGN = 4096;
const O_DIRECT: number | undefined = (constants as Record<string, number | undefined>).O_DIRECT;

/** A second handle on a file being written, opened with O_DIRECT, and what its slots must look like. */
export class DirectFile {
  private disabled = false;
  private chain: Promise<void> = Promise.resolve();

  private constructor(
    private readonly fd: number,
    private probeFd: number,
    private readonly probePath: string,
  ) {}

  /** Undefined where O_DIRECT does not exist or the filesystem refuses it (tmpfs, some network filesystems). */
  static open(path: string, tmpDir: string): DirectFile | undefined {
    if (O_DIRECT === undefined || ['1', 'true', 'yes', 'on'].includes((process.env.MODELCTL_NO_DIRECT_IO ?? '').toLowerCase()))
      return undefined;
    const probePath = join(tmpDir, tempName('direct-probe'));
    let fd = -1;
    let probeFd = -1;
    try {
      fd = openSync(path, constants.O_WRONLY | O_DIRECT);
      probeFd = openSync(probePath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_DIRECT, 0o600);
      return new DirectFile(fd, probeFd, probePath);
    } catch {
      if (fd >= 0) closeSync(fd);
      if (probeFd >= 0) closeSync(probeFd);
      try {
        unlinkSync(probePath);
      } catch {
        // never created
      }
      return undefined;
    }
  }

  /**
   * A slot of `size` bytes whose start the kernel accepts for direct writes: a view into a shared buffer
   * DIRECT_ALIGN bytes larger. Undefined when no offset works (the caller then uses a plain slot).
   */
  alignedSlot(size: number): Buffer | undefined {
    if (this.disabled || this.probeFd < 0) return undefined;
    const buf = Buffer.from(new SharedArrayBuffer(size + DIRECT_ALIGN));
    for (let off = 0; off < DIRECT_ALIGN; off += 8) {
      try {
        writeSync(this.probeFd, buf, off, DIRECT_ALIGN, 0);
        return buf.subarray(off, off + size);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EINVAL') break;
      }
    }
    return undefined;
  }

  /** No more slots will be probed: the scratch file goes. */
  doneProbing(): void {
    if (this.probeFd < 0) return;
    closeSync(this.probeFd);
    this.probeFd = -1;
    try {
      unlinkSync(this.probePath);
    } catch {
      // already gone
    }
  }

  /**
   * Writes the leading whole blocks of `data` (from an aligned slot, at an aligned `position`) directly, one write
   * at a time in dispatch order; returns how many bytes it will write (0: the caller writes everything buffered).
   */
  write(data: Buffer, position: number, aligned: boolean): { bytes: number; done: Promise<void> } {
    const bytes = data.length - (data.length % DIRECT_ALIGN);
    if (this.disabled || !aligned || position % DIRECT_ALIGN !== 0 || bytes === 0) return { bytes: 0, done: Promise.resolve() };
    const done = this.chain.then(() => this.writeAll(data, bytes, position));
    this.chain = done.catch(() => {});
    return { bytes, done };
  }

  private async writeAll(data: Buffer, bytes: number, position: number): Promise<void> {
    for (let off = 0; off < bytes; ) {
      off += await new Promise<number>((resolve, reject) =>
        write(this.fd, data, off, bytes - off, position + off, (err, n) => (err ? reject(err) : resolve(n))),
      );
    }
  }

  /** Stops direct writes (after the first that failed for a reason other than the disk's). */
  disable(): void {
    this.disabled = true;
  }

  async close(): Promise<void> {
    this.doneProbing();
    await this.chain;
    closeSync(this.fd);
  }
}
