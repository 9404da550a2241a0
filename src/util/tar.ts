import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/**
 * A small writer of POSIX ustar archives, streamed to a file and hashed (sha256) as it is written: regular files
 * (from a path or bytes), folders and symbolic links, with the owner, group and time given (so that the same input
 * gives the same bytes). Names longer than 100 bytes are split into ustar's prefix and name, or given whole in a
 * pax header when no split fits; sizes beyond ustar's 8 GiB use the base-256 form GNU tar and every OCI tool read.
 */

const BLOCK = 512;
const MAX_OCTAL_SIZE = 8 ** 11 - 1;

export interface TarEntryOptions {
  mode?: number;
  /** Seconds since the epoch. */
  mtime?: number;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

/** Splits a path into ustar's prefix (155 bytes) and name (100 bytes) at a slash; undefined when it cannot. */
function splitName(path: string): { prefix: string; name: string } | undefined {
  if (Buffer.byteLength(path) <= 100) return { prefix: '', name: path };
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name !== '') return { prefix, name };
  }
  return undefined;
}

/** A POSIX pax record, "LEN key=value\n", whose LEN counts its own digits. */
function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return Buffer.from(`${len}${body}`);
}

function header(path: string, type: '0' | '2' | '5' | 'x', size: number, options: TarEntryOptions & { linkname?: string }): Buffer {
  const h = Buffer.alloc(BLOCK);
  // A path that does not fit is given whole in a pax header before this one; this header keeps a shortened one.
  const { prefix, name } = splitName(path) ?? { prefix: '', name: path.slice(-100).replace(/^[^/]*\//, '') };
  h.write(name, 0, 100, 'utf8');
  h.write(octal(options.mode ?? (type === '5' ? 0o755 : 0o644), 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  if (size <= MAX_OCTAL_SIZE) h.write(octal(size, 12), 124, 'ascii');
  else {
    // base-256: the high bit of the first byte set, the size big-endian in the rest of the field.
    h[124] = 0x80;
    h.writeBigUInt64BE(BigInt(size), 128);
  }
  h.write(octal(options.mtime ?? 0, 12), 136, 'ascii');
  h.write(' '.repeat(8), 148, 'ascii');
  h.write(type, 156, 'ascii');
  if (options.linkname !== undefined) {
    if (Buffer.byteLength(options.linkname) > 100) throw new Error(`link target too long for a tar archive: ${options.linkname}`);
    h.write(options.linkname, 157, 100, 'utf8');
  }
  h.write('ustar\x0000', 257, 'ascii');
  h.write('root', 265, 'ascii');
  h.write('root', 297, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

export class TarWriter {
  private readonly hash: Hash = createHash('sha256');
  private written = 0;

  private constructor(private readonly handle: FileHandle) {}

  /** A new archive at `path` (which must not exist). */
  static async create(path: string): Promise<TarWriter> {
    return new TarWriter(await open(path, 'wx'));
  }

  private async write(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += (await this.handle.write(bytes, off, bytes.length - off)).bytesWritten;
    this.hash.update(bytes);
    this.written += bytes.length;
  }

  private async pad(size: number): Promise<void> {
    const rest = size % BLOCK;
    if (rest !== 0) await this.write(Buffer.alloc(BLOCK - rest));
  }

  /** The header of an entry, after a pax header holding its path when ustar's fields cannot. */
  private async header(path: string, type: '0' | '2' | '5', size: number, options: TarEntryOptions & { linkname?: string }): Promise<void> {
    if (splitName(path) === undefined) {
      const record = paxRecord('path', path);
      await this.write(header('PaxHeader', 'x', record.length, { mtime: options.mtime ?? 0 }));
      await this.write(record);
      await this.pad(record.length);
    }
    await this.write(header(path, type, size, options));
  }

  async directory(path: string, options: TarEntryOptions = {}): Promise<void> {
    await this.header(path.endsWith('/') ? path : `${path}/`, '5', 0, options);
  }

  async symlink(path: string, target: string, options: TarEntryOptions = {}): Promise<void> {
    await this.header(path, '2', 0, { mode: 0o777, ...options, linkname: target });
  }

  async bytes(path: string, data: Uint8Array, options: TarEntryOptions = {}): Promise<void> {
    await this.header(path, '0', data.length, options);
    await this.write(data);
    await this.pad(data.length);
  }

  /** A regular file whose bytes are read from `source`, which must hold exactly `size` bytes. */
  async file(path: string, source: string, size: number, options: TarEntryOptions = {}): Promise<void> {
    await this.header(path, '0', size, options);
    let copied = 0;
    for await (const chunk of createReadStream(source, { highWaterMark: 1 << 20 })) {
      await this.write(chunk as Buffer);
      copied += (chunk as Buffer).length;
    }
    if (copied !== size) throw new Error(`${source} changed while it was archived (${copied} bytes, expected ${size})`);
    await this.pad(size);
  }

  /** Ends the archive (two zero blocks), closes the file, and answers its sha256 and size. */
  async finish(): Promise<{ sha256: string; size: number }> {
    await this.write(Buffer.alloc(2 * BLOCK));
    await this.handle.sync();
    await this.handle.close();
    return { sha256: this.hash.digest('hex'), size: this.written };
  }

  /** Closes the file after a failure (the caller removes it). */
  async abort(): Promise<void> {
    await this.handle.close().catch(() => {});
  }
}
