// Not formatted by biome (biome.json overrides): the opcode switch is a table, one opcode per line with its name.
import { type Cursor, EndOfData, MB, decodeLatin1, decodeUtf8 } from './io.js';
import { MAX_ITEMS, Malformed, append, setItems, type PickleValue } from './pickle-values.js';

export { calleeName, globalName, type PickleValue } from './pickle-values.js';

/**
 * A pickle opcode walker that never executes anything. It keeps a symbolic stack (strings, numbers, containers,
 * globals and "calls" recorded as objects), which is enough to resolve STACK_GLOBAL, follow memo references, and
 * let callers read structure such as a state dict's tensor names or PyTorch's persistent ids. Payloads (bytes,
 * long strings) are skipped by length; containers keep a bounded number of items; the walk stops at STOP, at an
 * unknown opcode (joblib interleaves raw array bytes into the stream) or at its opcode and byte budgets, and
 * reports what it saw up to there instead of failing.
 */

export interface PickleGlobal {
  module: string;
  name: string;
}

export interface PickleScanOptions {
  /** Opcodes walked over all pickles of one scan. */
  maxOpcodes?: number;
  /** Bytes of opcodes and arguments read (skipped payloads do not count). */
  maxBytes?: number;
  /** Called after each BUILD with the built object; returning 'nested-pickle' scans a complete pickle that follows. */
  onBuild?: (target: PickleValue, cursor: Cursor) => undefined | 'nested-pickle';
  /** Checked every few thousand opcodes so a long walk can be interrupted. */
  checkAbort?: () => void;
}

export interface PickleResult {
  /** The value left at STOP, when the walk reached it. */
  root?: PickleValue;
  complete: boolean;
  /** Why the walk ended before STOP (unknown opcode, end of data, budget, malformed stack). */
  stopReason?: string;
  protocol?: number;
}

const MAX_MEMO = 1_000_000;
const MAX_STRING_KEPT = 4096;
const MAX_LINE = 64 * 1024;
const MAX_GLOBALS = 2000;
const MAX_PERSIDS = 200_000;
const OPAQUE: PickleValue = { kind: 'opaque' };

class Budget extends Error {}

function lineText(bytes: Uint8Array): string {
  return decodeUtf8(bytes).replace(/\r$/, '');
}

function signedLE(bytes: Uint8Array): number | bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i] as number);
  if (bytes.length > 0 && ((bytes[bytes.length - 1] as number) & 0x80) !== 0) v -= 1n << BigInt(8 * bytes.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/**
 * One scan over a cursor: call `run()` once per pickle in the stream (legacy PyTorch files hold several in a
 * row). Globals and persistent ids accumulate over every pickle walked.
 */
export class PickleScanner {
  readonly globals: PickleGlobal[] = [];
  readonly persistentIds: PickleValue[] = [];
  opcodes = 0;
  private bytesRead = 0;
  private readonly seen = new Set<string>();
  private readonly maxOpcodes: number;
  private readonly maxBytes: number;

  constructor(
    readonly cursor: Cursor,
    private readonly options: PickleScanOptions = {},
  ) {
    this.maxOpcodes = options.maxOpcodes ?? 5_000_000;
    this.maxBytes = options.maxBytes ?? 64 * MB;
  }

  run(): PickleResult {
    const state: RunState = { stack: [], metastack: [], memo: new Map() };
    try {
      return this.walk(state);
    } catch (err) {
      if (err instanceof EndOfData) return { complete: false, stopReason: `pickle ends early (byte ${err.offset})` };
      if (err instanceof Malformed) return { complete: false, stopReason: `malformed pickle: ${err.message}` };
      if (err instanceof Budget) return { complete: false, stopReason: err.message };
      throw err;
    }
  }

  private recordGlobal(module: string, name: string): PickleValue {
    const key = `${module}\0${name}`;
    if (!this.seen.has(key) && this.seen.size < MAX_GLOBALS) {
      this.seen.add(key);
      this.globals.push({ module, name });
    }
    return { kind: 'global', module, name };
  }

  private readString(n: number, latin1 = false): PickleValue {
    if (n > this.cursor.remaining()) throw new EndOfData(this.cursor.end);
    const keep = Math.min(n, MAX_STRING_KEPT * 4);
    const bytes = this.cursor.bytes(keep);
    this.cursor.skip(n - keep);
    this.bytesRead += keep;
    const text = latin1 ? decodeLatin1(bytes) : decodeUtf8(bytes);
    return { kind: 'str', value: text.length > MAX_STRING_KEPT ? text.slice(0, MAX_STRING_KEPT) : text };
  }

  private skipPayload(n: number): PickleValue {
    this.cursor.skip(n);
    return { kind: 'bytes', length: n };
  }

  private line(): string {
    const bytes = this.cursor.line(MAX_LINE);
    this.bytesRead += bytes.length + 1;
    return lineText(bytes);
  }

  private uint(n: 1 | 2 | 4): number {
    this.bytesRead += n;
    return this.cursor.uintLE(n);
  }

  private u64(): number {
    this.bytesRead += 8;
    return this.cursor.u64LE();
  }

  private walk(s: RunState): PickleResult {
    const c = this.cursor;
    let protocol: number | undefined;
    const pop = (): PickleValue => {
      const v = s.stack.pop();
      if (v === undefined) throw new Malformed('stack underflow');
      return v;
    };
    const top = (): PickleValue => {
      const v = s.stack.at(-1);
      if (v === undefined) throw new Malformed('stack underflow');
      return v;
    };
    const popMark = (): PickleValue[] => {
      const items = s.stack;
      const prev = s.metastack.pop();
      if (prev === undefined) throw new Malformed('no MARK');
      s.stack = prev;
      return items;
    };
    const push = (v: PickleValue): void => {
      s.stack.push(v);
    };
    const memoPut = (index: number): void => {
      if (index < MAX_MEMO) s.memo.set(index, top());
    };
    const memoGet = (index: number): void => push(s.memo.get(index) ?? OPAQUE);

    for (;;) {
      if (++this.opcodes > this.maxOpcodes) throw new Budget(`stopped after ${this.maxOpcodes} opcodes`);
      if (this.bytesRead > this.maxBytes) throw new Budget(`stopped after reading ${this.maxBytes} bytes`);
      if (this.opcodes % 65536 === 0) this.options.checkAbort?.();
      const at = c.pos;
      const op = c.u8();
      this.bytesRead++;
      switch (op) {
        case 0x80: protocol = this.uint(1); break; // PROTO
        case 0x95: this.u64(); break; // FRAME: frames hold ordinary opcodes, so the length only matters to readers
        case 0x2e: return { root: s.stack.at(-1) ?? OPAQUE, complete: true, ...(protocol !== undefined ? { protocol } : {}) }; // STOP
        case 0x28: s.metastack.push(s.stack); s.stack = []; break; // MARK
        case 0x30: if (s.stack.length > 0) pop(); else popMark(); break; // POP
        case 0x31: popMark(); break; // POP_MARK
        case 0x32: push(top()); break; // DUP
        case 0x4e: push({ kind: 'none' }); break;
        case 0x88: push({ kind: 'bool', value: true }); break;
        case 0x89: push({ kind: 'bool', value: false }); break;
        case 0x4a: push({ kind: 'int', value: signedLE(c.bytes(4)) }); this.bytesRead += 4; break; // BININT
        case 0x4b: push({ kind: 'int', value: this.uint(1) }); break; // BININT1
        case 0x4d: push({ kind: 'int', value: this.uint(2) }); break; // BININT2
        case 0x8a: { const n = this.uint(1); push({ kind: 'int', value: signedLE(c.bytes(n)) }); this.bytesRead += n; break; } // LONG1
        case 0x8b: { const n = this.uint(4); if (n > 64) { c.skip(n); push(OPAQUE); } else { push({ kind: 'int', value: signedLE(c.bytes(n)) }); } break; } // LONG4
        case 0x49: { const t = this.line(); push(t === '01' || t === '00' ? { kind: 'bool', value: t === '01' } : { kind: 'int', value: Number(t) }); break; } // INT
        case 0x4c: push({ kind: 'int', value: Number(this.line().replace(/L$/, '')) }); break; // LONG
        case 0x46: push({ kind: 'float', value: Number(this.line()) }); break; // FLOAT
        case 0x47: { const b = c.bytes(8); this.bytesRead += 8; push({ kind: 'float', value: new DataView(b.buffer).getFloat64(0, false) }); break; } // BINFLOAT
        case 0x58: push(this.readString(this.uint(4))); break; // BINUNICODE
        case 0x8c: push(this.readString(this.uint(1))); break; // SHORT_BINUNICODE
        case 0x8d: push(this.readString(this.u64())); break; // BINUNICODE8
        case 0x54: push(this.readString(this.uint(4), true)); break; // BINSTRING
        case 0x55: push(this.readString(this.uint(1), true)); break; // SHORT_BINSTRING
        case 0x53: push({ kind: 'str', value: this.line().replace(/^(['"])(.*)\1$/s, '$2').slice(0, MAX_STRING_KEPT) }); break; // STRING
        case 0x56: push({ kind: 'str', value: this.line().slice(0, MAX_STRING_KEPT) }); break; // UNICODE (raw-unicode-escape, kept raw)
        case 0x42: push(this.skipPayload(this.uint(4))); break; // BINBYTES
        case 0x43: push(this.skipPayload(this.uint(1))); break; // SHORT_BINBYTES
        case 0x8e: push(this.skipPayload(this.u64())); break; // BINBYTES8
        case 0x96: push(this.skipPayload(this.u64())); break; // BYTEARRAY8
        case 0x97: push(OPAQUE); break; // NEXT_BUFFER: out-of-band data, not in this stream
        case 0x98: break; // READONLY_BUFFER
        case 0x29: push({ kind: 'tuple', items: [] }); break; // EMPTY_TUPLE
        case 0x74: push({ kind: 'tuple', items: popMark().slice(0, MAX_ITEMS) }); break; // TUPLE
        case 0x85: case 0x86: case 0x87: { // TUPLE1..3
          const n = op - 0x84;
          if (s.stack.length < n) throw new Malformed('stack underflow');
          push({ kind: 'tuple', items: s.stack.splice(s.stack.length - n, n) });
          break;
        }
        case 0x5d: push({ kind: 'list', items: [] }); break; // EMPTY_LIST
        case 0x6c: push({ kind: 'list', items: popMark().slice(0, MAX_ITEMS) }); break; // LIST
        case 0x7d: push({ kind: 'dict', entries: [] }); break; // EMPTY_DICT
        case 0x64: { const d: PickleValue = { kind: 'dict', entries: [] }; setItems(d, popMark()); push(d); break; } // DICT
        case 0x8f: push({ kind: 'set', items: [] }); break; // EMPTY_SET
        case 0x91: push({ kind: 'set', items: popMark().slice(0, MAX_ITEMS) }); break; // FROZENSET
        case 0x90: { const items = popMark(); for (const i of items) append(top(), i); break; } // ADDITEMS
        case 0x61: { const v = pop(); append(top(), v); break; } // APPEND
        case 0x65: { const items = popMark(); for (const i of items) append(top(), i); break; } // APPENDS
        case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
        case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
        case 0x63: { const module = this.line(); push(this.recordGlobal(module, this.line())); break; } // GLOBAL
        case 0x93: { // STACK_GLOBAL
          const name = pop();
          const module = pop();
          const text = (v: PickleValue): string => (v.kind === 'str' ? v.value : '?');
          push(this.recordGlobal(text(module), text(name)));
          break;
        }
        case 0x69: { // INST
          const module = this.line();
          const cls = this.recordGlobal(module, this.line());
          push({ kind: 'object', callable: cls, args: { kind: 'tuple', items: popMark() } });
          break;
        }
        case 0x6f: { const [cls, ...args] = popMark(); push({ kind: 'object', callable: cls ?? OPAQUE, args: { kind: 'tuple', items: args } }); break; } // OBJ
        case 0x52: case 0x81: { const args = pop(); const callable = pop(); push({ kind: 'object', callable, args }); break; } // REDUCE, NEWOBJ
        case 0x92: { pop(); const args = pop(); const cls = pop(); push({ kind: 'object', callable: cls, args }); break; } // NEWOBJ_EX
        case 0x62: { // BUILD
          const state = pop();
          const target = top();
          if (target.kind === 'object') target.state = state;
          if (this.options.onBuild?.(target, c) === 'nested-pickle') {
            const nested = this.run();
            if (!nested.complete) throw new Budget(nested.stopReason ?? 'nested pickle did not end');
          }
          break;
        }
        case 0x82: push(this.recordGlobal('copyreg', `extension#${this.uint(1)}`)); break; // EXT1
        case 0x83: push(this.recordGlobal('copyreg', `extension#${this.uint(2)}`)); break; // EXT2
        case 0x84: push(this.recordGlobal('copyreg', `extension#${this.uint(4)}`)); break; // EXT4
        case 0x50: { const id: PickleValue = { kind: 'str', value: this.line() }; this.persid(id); push({ kind: 'persid', id }); break; } // PERSID
        case 0x51: { const id = pop(); this.persid(id); push({ kind: 'persid', id }); break; } // BINPERSID
        case 0x70: memoPut(Number(this.line())); break; // PUT
        case 0x71: memoPut(this.uint(1)); break; // BINPUT
        case 0x72: memoPut(this.uint(4)); break; // LONG_BINPUT
        case 0x94: memoPut(s.memo.size); break; // MEMOIZE
        case 0x67: memoGet(Number(this.line())); break; // GET
        case 0x68: memoGet(this.uint(1)); break; // BINGET
        case 0x6a: memoGet(this.uint(4)); break; // LONG_BINGET
        default:
          return {
            complete: false,
            stopReason: `unknown opcode 0x${op.toString(16).padStart(2, '0')} at byte ${at}`,
            ...(protocol !== undefined ? { protocol } : {}),
          };
      }
    }
  }

  private persid(id: PickleValue): void {
    if (this.persistentIds.length < MAX_PERSIDS) this.persistentIds.push(id);
  }
}

interface RunState {
  stack: PickleValue[];
  metastack: PickleValue[][];
  memo: Map<number, PickleValue>;
}
