import { type Cursor, decodeUtf8 } from './io.js';

/**
 * A compact UBJSON (Draft 12) decoder for XGBoost's .ubj models: values, containers, and the optimized containers
 * with a `$` type and `#` count that XGBoost uses for its per-node arrays. Those numeric arrays are the bulk of a
 * model and carry nothing a summary needs, so large ones are passed over by length and stand in as SkippedArray.
 */

export class UbjsonError extends Error {}

/** A typed numeric array that was not decoded: its element count and UBJSON type marker. */
export class SkippedArray {
  constructor(
    readonly length: number,
    readonly type: string,
  ) {}
}

export interface UbjsonOptions {
  /** Typed numeric arrays longer than this are skipped (default 1024). */
  maxInlineArray?: number;
  /** Values decoded in total before giving up (default 2 million). */
  maxValues?: number;
  maxDepth?: number;
  maxString?: number;
}

const FIXED_SIZES: Record<string, number> = { i: 1, U: 1, C: 1, I: 2, l: 4, d: 4, L: 8, D: 8, Z: 0, T: 0, F: 0, N: 0 };

class Decoder {
  private values = 0;
  private readonly maxInline: number;
  private readonly maxValues: number;
  private readonly maxDepth: number;
  private readonly maxString: number;

  constructor(
    private readonly c: Cursor,
    options: UbjsonOptions,
  ) {
    this.maxInline = options.maxInlineArray ?? 1024;
    this.maxValues = options.maxValues ?? 2_000_000;
    this.maxDepth = options.maxDepth ?? 64;
    this.maxString = options.maxString ?? 16 * 1024 * 1024;
  }

  private marker(): string {
    return String.fromCharCode(this.c.u8());
  }

  private peek(): string {
    const m = this.marker();
    this.c.pos--;
    return m;
  }

  private bigEndian(n: number): DataView {
    const b = this.c.bytes(n);
    return new DataView(b.buffer, b.byteOffset, n);
  }

  /** A length or count: any integer type, non-negative. */
  private count(): number {
    const m = this.marker();
    const v = this.typed(m, 0);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new UbjsonError(`invalid length (marker ${m})`);
    return v;
  }

  private string(): string {
    const n = this.count();
    if (n > this.maxString) throw new UbjsonError(`string of ${n} bytes is larger than allowed`);
    return decodeUtf8(this.c.bytes(n));
  }

  value(depth = 0): unknown {
    let m = this.marker();
    while (m === 'N') m = this.marker();
    return this.typed(m, depth);
  }

  private typed(m: string, depth: number): unknown {
    if (++this.values > this.maxValues) throw new UbjsonError(`more than ${this.maxValues} values`);
    switch (m) {
      case 'Z':
        return null;
      case 'T':
        return true;
      case 'F':
        return false;
      case 'i':
        return this.bigEndian(1).getInt8(0);
      case 'U':
        return this.c.u8();
      case 'I':
        return this.bigEndian(2).getInt16(0);
      case 'l':
        return this.bigEndian(4).getInt32(0);
      case 'L': {
        const v = this.bigEndian(8).getBigInt64(0);
        return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
      }
      case 'd':
        return this.bigEndian(4).getFloat32(0);
      case 'D':
        return this.bigEndian(8).getFloat64(0);
      case 'H':
        return Number(this.string());
      case 'C':
        return String.fromCharCode(this.c.u8());
      case 'S':
        return this.string();
      case '[':
        return this.array(depth + 1);
      case '{':
        return this.object(depth + 1);
      default:
        throw new UbjsonError(`unknown type marker 0x${m.charCodeAt(0).toString(16)} at byte ${this.c.pos - 1}`);
    }
  }

  /** After '[' or '{': an optional `$type` (which requires `#count`) and an optional `#count`. */
  private header(): { type?: string; count?: number } {
    const next = this.peek();
    if (next === '$') {
      this.c.pos++;
      const type = this.marker();
      if (this.marker() !== '#') throw new UbjsonError('optimized container with a type but no count');
      return { type, count: this.count() };
    }
    if (next === '#') {
      this.c.pos++;
      return { count: this.count() };
    }
    return {};
  }

  private array(depth: number): unknown[] | SkippedArray {
    if (depth > this.maxDepth) throw new UbjsonError('nesting too deep');
    const { type, count } = this.header();
    if (count === undefined) {
      const out: unknown[] = [];
      for (;;) {
        const m = this.marker();
        if (m === ']') return out;
        if (m !== 'N') out.push(this.typed(m, depth));
      }
    }
    const size = type !== undefined ? FIXED_SIZES[type] : undefined;
    if (type !== undefined && size !== undefined && count > this.maxInline) {
      this.c.skip(count * size);
      return new SkippedArray(count, type);
    }
    const out: unknown[] = [];
    for (let i = 0; i < count; i++) out.push(type !== undefined ? this.typed(type, depth) : this.value(depth));
    return out;
  }

  private object(depth: number): Record<string, unknown> {
    if (depth > this.maxDepth) throw new UbjsonError('nesting too deep');
    const { type, count } = this.header();
    const out: Record<string, unknown> = {};
    const put = (key: string, value: unknown): void => {
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    };
    if (count === undefined) {
      for (;;) {
        if (this.peek() === '}') {
          this.c.pos++;
          return out;
        }
        if (this.peek() === 'N') {
          this.c.pos++;
          continue;
        }
        const key = this.string();
        put(key, this.value(depth));
      }
    }
    for (let i = 0; i < count; i++) {
      const key = this.string();
      put(key, type !== undefined ? this.typed(type, depth) : this.value(depth));
    }
    return out;
  }
}

/** Decodes one UBJSON value from the cursor. Throws UbjsonError on bad data and EndOfData when it is cut short. */
export function decodeUbjson(cursor: Cursor, options: UbjsonOptions = {}): unknown {
  return new Decoder(cursor, options).value();
}

/** The first object key of a UBJSON document, for sniffing ("learner" for XGBoost), or undefined. */
export function firstUbjsonKey(head: Uint8Array): string | undefined {
  if (head[0] !== 0x7b) return undefined;
  const m = String.fromCharCode(head[1] ?? 0);
  const widths: Record<string, number> = { i: 1, U: 1, I: 2, l: 4, L: 8 };
  const w = widths[m];
  if (w === undefined) return undefined;
  let n = 0;
  for (let i = 0; i < w; i++) n = n * 256 + (head[2 + i] ?? 0);
  if (n === 0 || n > 64 || 2 + w + n > head.length) return undefined;
  return decodeUtf8(head.subarray(2 + w, 2 + w + n));
}
