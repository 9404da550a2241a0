import { describe, expect, it } from 'vitest';
import { BufferSource } from '../../src/onnx/wire.js';
import { Cursor, EndOfData } from '../../src/formats/io.js';
import { SkippedArray, UbjsonError, decodeUbjson, firstUbjsonKey } from '../../src/formats/ubjson.js';

function decode(...parts: Array<string | number[] | Buffer>): unknown {
  const bytes = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));
  return decodeUbjson(new Cursor(new BufferSource(bytes)), { maxInlineArray: 4 });
}

function be(type: 'd' | 'D' | 'I' | 'l', value: number): Buffer {
  const b = Buffer.alloc(type === 'I' ? 2 : type === 'D' ? 8 : 4);
  if (type === 'd') b.writeFloatBE(value);
  else if (type === 'D') b.writeDoubleBE(value);
  else if (type === 'I') b.writeInt16BE(value);
  else b.writeInt32BE(value);
  return b;
}

describe('UBJSON decoder', () => {
  it('decodes scalars of every type', () => {
    expect(decode('Z')).toBeNull();
    expect(decode('T')).toBe(true);
    expect(decode('F')).toBe(false);
    expect(decode('i', [0xfe])).toBe(-2);
    expect(decode('U', [200])).toBe(200);
    expect(decode('I', be('I', -300))).toBe(-300);
    expect(decode('l', be('l', 70000))).toBe(70000);
    expect(decode('L', [0, 0, 0, 1, 0, 0, 0, 0])).toBe(2 ** 32);
    expect(decode('d', be('d', 1.5))).toBe(1.5);
    expect(decode('D', be('D', -0.25))).toBe(-0.25);
    expect(decode('H', 'i', [3], '1e3')).toBe(1000);
    expect(decode('C', 'x')).toBe('x');
    expect(decode('S', 'i', [6], Buffer.from('héllo', 'utf8'))).toBe('héllo');
  });

  it('decodes plain and optimized containers, skipping no-ops', () => {
    expect(decode('[', 'i', [1], 'N', 'S', 'i', [2], 'ab', ']')).toEqual([1, 'ab']);
    expect(decode('{', 'i', [1], 'a', 'T', 'i', [1], 'b', '[', ']', '}')).toEqual({ a: true, b: [] });
    expect(decode('[', '#', 'i', [2], 'i', [7], 'Z')).toEqual([7, null]);
    expect(decode('[', '$', 'U', '#', 'i', [3], [1, 2, 3])).toEqual([1, 2, 3]);
    expect(decode('{', '$', 'T', '#', 'i', [1], 'i', [1], 'k')).toEqual({ k: true });
  });

  it('passes over long typed numeric arrays by length', () => {
    const floats = Buffer.alloc(4 * 10);
    const value = decode('{', 'i', [1], 'v', '[', '$', 'd', '#', 'i', [10], floats, 'i', [1], 'n', 'U', [9], '}') as Record<
      string,
      unknown
    >;
    expect(value.v).toBeInstanceOf(SkippedArray);
    expect(value.v).toMatchObject({ length: 10, type: 'd' });
    expect(value.n).toBe(9);
  });

  it('keeps "__proto__" as an ordinary key', () => {
    const value = decode('{', 'i', [9], '__proto__', 'T', '}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__']);
  });

  it('rejects unknown markers, typed containers without a count and negative lengths', () => {
    expect(() => decode('?')).toThrow(UbjsonError);
    expect(() => decode('[', '$', 'i', 'i', [1])).toThrow(/type but no count/);
    expect(() => decode('S', 'i', [0xff])).toThrow(/invalid length/);
  });

  it('reports a cut-off document as the end of data', () => {
    expect(() => decode('{', 'i', [1], 'a', '[', 'i', [1])).toThrow(EndOfData);
  });

  it('sniffs the first key of a document', () => {
    expect(firstUbjsonKey(Buffer.from('{L\0\0\0\0\0\0\0\x07learner{', 'latin1'))).toBe('learner');
    expect(firstUbjsonKey(Buffer.from('{i\x07version[', 'latin1'))).toBe('version');
    expect(firstUbjsonKey(Buffer.from('{"learner":', 'latin1'))).toBeUndefined();
  });
});
