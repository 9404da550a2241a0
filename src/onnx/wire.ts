import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/**
 * Protocol-buffer wire format over random-access bytes (a file or a buffer), for reading what a model says about
 * itself without decoding its weights: length-delimited fields are skipped by offset, so a 2 GiB initializer costs
 * nothing to pass over. Reads are synchronous and windowed: a summary touches a few hundred kilobytes at most.
 */

export class WireError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at byte ${offset}`);
  }
}

export interface ByteSource {
  readonly size: number;
  /** Copies up to `length` bytes starting at `position` into `target`; returns the count copied. */
  readInto(target: Uint8Array, position: number, length: number): number;
  close(): void;
}

export class BufferSource implements ByteSource {
  readonly size: number;
  constructor(private readonly bytes: Uint8Array) {
    this.size = bytes.length;
  }
  readInto(target: Uint8Array, position: number, length: number): number {
    const end = Math.min(this.size, position + length);
    if (end <= position) return 0;
    target.set(this.bytes.subarray(position, end));
    return end - position;
  }
  close(): void {}
}

export class FileSource implements ByteSource {
  readonly size: number;
  private fd: number | undefined;
  constructor(path: string) {
    this.fd = openSync(path, 'r');
    this.size = fstatSync(this.fd).size;
  }
  readInto(target: Uint8Array, position: number, length: number): number {
    if (this.fd === undefined) throw new Error('file source is closed');
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, target, done, length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done;
  }
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

/** An unsigned varint's bytes (lengths and tags of the fields modelctl writes). */
export function encodeVarint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

const WINDOW = 64 * 1024;
const decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * A cursor over [start, end) of a source. Nested messages get their own reader over their span (`message()`),
 * sharing the source and window so nothing is read twice.
 */
export class WireReader {
  pos: number;
  readonly end: number;
  private window: { buf: Uint8Array; start: number; len: number };

  constructor(
    readonly source: ByteSource,
    start = 0,
    end = source.size,
    window?: { buf: Uint8Array; start: number; len: number },
  ) {
    this.pos = start;
    this.end = end;
    this.window = window ?? { buf: new Uint8Array(WINDOW), start: 0, len: 0 };
  }

  eof(): boolean {
    return this.pos >= this.end;
  }

  private byteAt(position: number): number {
    const w = this.window;
    if (position < w.start || position >= w.start + w.len) {
      w.start = position;
      w.len = this.source.readInto(w.buf, position, Math.min(WINDOW, this.source.size - position));
      if (w.len === 0) throw new WireError('unexpected end of data', position);
    }
    return w.buf[position - w.start] as number;
  }

  /** An unsigned varint as a number; exact below 2^53, which covers every length and count in a real model. */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireError('truncated varint', this.pos);
      const b = this.byteAt(this.pos++);
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return result;
      scale *= 128;
    }
    throw new WireError('varint longer than 10 bytes', this.pos);
  }

  /** A varint as a signed 64-bit integer (int64 fields such as dims, where -1 takes ten bytes). */
  int64(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireError('truncated varint', this.pos);
      const b = this.byteAt(this.pos++);
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return BigInt.asIntN(64, result);
      shift += 7n;
    }
    throw new WireError('varint longer than 10 bytes', this.pos);
  }

  /** int64 as a number when it is safe, else as a decimal string. */
  int64Number(): number {
    const v = this.int64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new WireError('integer outside the safe range', this.pos);
    }
    return Number(v);
  }

  tag(): { field: number; wire: number } {
    const at = this.pos;
    const key = this.varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 0) throw new WireError('field number 0', at);
    return { field, wire };
  }

  /** The length prefix of a length-delimited field, checked against the enclosing span. */
  length(): number {
    const at = this.pos;
    const n = this.varint();
    if (n > this.end - this.pos) throw new WireError(`length ${n} runs past the end of its message`, at);
    return n;
  }

  bytes(maxLength = 64 * 1024 * 1024): Uint8Array {
    const n = this.length();
    if (n > maxLength) throw new WireError(`field of ${n} bytes is larger than the ${maxLength} allowed`, this.pos);
    const out = new Uint8Array(n);
    const got = this.source.readInto(out, this.pos, n);
    if (got !== n) throw new WireError('unexpected end of data', this.pos + got);
    this.pos += n;
    return out;
  }

  string(maxLength?: number): string {
    return decoder.decode(this.bytes(maxLength));
  }

  /** A reader over the next length-delimited field; this reader moves past it. */
  message(): WireReader {
    const n = this.length();
    const sub = new WireReader(this.source, this.pos, this.pos + n, this.window);
    this.pos += n;
    return sub;
  }

  skip(wire: number): void {
    const at = this.pos;
    switch (wire) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        this.advance(8, at);
        return;
      case WIRE_LEN:
        this.advance(this.length(), at);
        return;
      case WIRE_FIXED32:
        this.advance(4, at);
        return;
      default:
        throw new WireError(`unsupported wire type ${wire}`, at);
    }
  }

  private advance(n: number, at: number): void {
    if (n > this.end - this.pos) throw new WireError('field runs past the end of its message', at);
    this.pos += n;
  }

  /** Repeated varints, packed (one length-delimited field) or not (one value per tag). */
  packedInt64(wire: number, into: number[]): void {
    if (wire === WIRE_LEN) {
      const sub = this.message();
      while (!sub.eof()) into.push(sub.int64Number());
    } else if (wire === WIRE_VARINT) {
      into.push(this.int64Number());
    } else {
      throw new WireError(`wire type ${wire} where an integer was expected`, this.pos);
    }
  }
}
