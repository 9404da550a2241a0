import { ModelctlError, fsError } from '../errors.js';
import { FileSource, type ByteSource } from '../onnx/wire.js';

/**
 * Bounded, synchronous reads shared by the format readers. Every reader looks at headers and skips payloads by
 * offset, so a multi-gigabyte file costs a few windows of I/O; sync reads keep the opcode and token loops simple
 * and nothing here reads more than a window plus one explicitly bounded field at a time.
 */

export const MB = 1024 * 1024;

/** Thrown when a cursor runs past the data it was given; readers turn it into CORRUPT_MODEL or a partial result. */
export class EndOfData extends Error {
  constructor(readonly offset: number) {
    super(`unexpected end of data at byte ${offset}`);
  }
}

export function openSource(path: string): FileSource {
  try {
    return new FileSource(path);
  } catch (err) {
    throw fsError(err, path);
  }
}

/** Runs `fn` over a file source and always closes it. */
export function withSource<T>(path: string, fn: (source: FileSource) => T): T {
  const source = openSource(path);
  try {
    return fn(source);
  } finally {
    source.close();
  }
}

export function readAt(source: ByteSource, position: number, length: number): Uint8Array {
  const n = Math.max(0, Math.min(length, source.size - position));
  const out = new Uint8Array(n);
  const got = source.readInto(out, position, n);
  return got === n ? out : out.subarray(0, got);
}

/** The first `length` bytes of a file (fewer when the file is shorter). */
export function readHead(path: string, length: number): Uint8Array {
  return withSource(path, (s) => readAt(s, 0, length));
}

/**
 * A forward cursor over [start, end) of a source with a sliding window, so a pickle or UBJSON stream of any size is
 * walked in constant memory and long payloads are passed over by moving the position, never by reading them.
 */
export class Cursor {
  pos: number;
  readonly end: number;
  private buf: Uint8Array;
  private bufStart = 0;
  private bufLen = 0;

  constructor(
    readonly source: ByteSource,
    start = 0,
    end = source.size,
    windowSize = MB,
  ) {
    this.pos = start;
    this.end = Math.min(end, source.size);
    this.buf = new Uint8Array(windowSize);
  }

  remaining(): number {
    return this.end - this.pos;
  }

  private fill(position: number): void {
    this.bufStart = position;
    this.bufLen = this.source.readInto(this.buf, position, Math.min(this.buf.length, this.end - position));
  }

  u8(): number {
    if (this.pos >= this.end) throw new EndOfData(this.pos);
    if (this.pos < this.bufStart || this.pos >= this.bufStart + this.bufLen) {
      this.fill(this.pos);
      if (this.bufLen === 0) throw new EndOfData(this.pos);
    }
    return this.buf[this.pos++ - this.bufStart] as number;
  }

  /** Copies the next `n` bytes; callers bound `n` before asking. */
  bytes(n: number): Uint8Array {
    if (n > this.remaining()) throw new EndOfData(this.end);
    const out = new Uint8Array(n);
    const inWindow = this.pos >= this.bufStart && this.pos + n <= this.bufStart + this.bufLen;
    if (inWindow) {
      out.set(this.buf.subarray(this.pos - this.bufStart, this.pos - this.bufStart + n));
    } else if (this.source.readInto(out, this.pos, n) !== n) {
      throw new EndOfData(this.pos);
    }
    this.pos += n;
    return out;
  }

  skip(n: number): void {
    if (!(n >= 0)) throw new EndOfData(this.pos); // negative or NaN lengths come only from damaged data
    if (n > this.remaining()) {
      this.pos = this.end;
      throw new EndOfData(this.end);
    }
    this.pos += n;
  }

  /** Bytes up to (not including) the next newline, which is consumed; `max` bounds a line that never ends. */
  line(max: number): Uint8Array {
    const out: number[] = [];
    for (;;) {
      const b = this.u8();
      if (b === 0x0a) return Uint8Array.from(out);
      if (out.length >= max) throw new EndOfData(this.pos);
      out.push(b);
    }
  }

  uintLE(n: 1 | 2 | 4): number {
    let v = 0;
    for (let i = 0; i < n; i++) v += this.u8() * 2 ** (8 * i);
    return v;
  }

  /** An 8-byte little-endian length; lengths beyond 2^53 cannot be real and read as Infinity. */
  u64LE(): number {
    const lo = this.uintLE(4);
    const hi = this.uintLE(4);
    return hi >= 2 ** 21 ? Infinity : hi * 2 ** 32 + lo;
  }
}

export function corrupt(where: string, message: string, hint?: string): ModelctlError {
  return new ModelctlError('CORRUPT_MODEL', `${where}: ${message}`, {
    hint: hint ?? 'check that the file is complete (not truncated) and was saved by the framework it claims',
  });
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ModelctlError('INTERRUPTED', 'model inspection was interrupted');
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

export function decodeUtf8(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}

/** True ISO-8859-1 (TextDecoder's "latin1" is windows-1252, which remaps 0x80-0x9f). */
export function decodeLatin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** Parses JSON text that a reader already bounded; returns undefined instead of throwing. */
export function tryParseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The lower-cased extension chain of a file name: "model.joblib.gz" -> [".joblib", ".gz"]. */
export function extensions(name: string): string[] {
  const parts = name.toLowerCase().split('.');
  return parts.slice(1).map((p) => `.${p}`);
}

export function lastExtension(name: string): string {
  return extensions(name).at(-1) ?? '';
}
