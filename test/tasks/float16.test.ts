/**
 * floatData (src/tasks/tensors.ts): the logits and scores of generative models read as numbers whether the model
 * gives float32 or float16 (onnxruntime-node's Uint16Array of half bits). Known bit patterns decode exactly; every
 * one of the 65536 patterns decodes to a value whose order and spacing are binary16's; float32 data comes back as
 * the very array; other types are refused with INVALID_INPUT naming the type. The other way (numberToHalf, for
 * float16 model inputs: encoder states, pixels, features): every half comes back to its own bits, and numbers between
 * two halves round to the nearest, ties to even, past 65504 to infinity.
 */
import { Tensor } from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { ModelctlError } from '../../src/errors.js';
import { floatData, floatTensor, halfToNumber, numberToHalf } from '../../src/tasks/tensors.js';

const KNOWN: Array<[number, number]> = [
  [0x3c00, 1],
  [0xc000, -2],
  [0x7bff, 65504],
  [0x0001, 2 ** -24],
  [0x03ff, 1023 * 2 ** -24], // the largest subnormal
  [0x0400, 2 ** -14], // the smallest normal
  [0x3555, 0.333251953125],
  [0x0000, 0],
  [0x8000, -0],
  [0x7c00, Infinity],
  [0xfc00, -Infinity],
];

describe('float16 decoding', () => {
  it('decodes known half bit patterns exactly: one, -2, 65504, 2^-24, ±0, ±inf, NaN', () => {
    const bits = Uint16Array.from([...KNOWN.map(([b]) => b), 0x7e00, 0xfe01, 0x7c01]);
    const got = floatData(new Tensor('float16', bits, [bits.length]));
    expect(got).toBeInstanceOf(Float32Array);
    for (const [i, [b, want]] of KNOWN.entries()) {
      expect(Object.is(got[i], want), `0x${b.toString(16)}: ${got[i]} vs ${want}`).toBe(true);
      expect(Object.is(halfToNumber(b), want)).toBe(true);
    }
    // 0x7E00 (the quiet NaN), a negative NaN and a signalling one.
    for (const k of [0, 1, 2]) expect(Number.isNaN(got[KNOWN.length + k])).toBe(true);
    // A range (the last row of a prompt's logits) decodes only that range.
    expect([...floatData(new Tensor('float16', bits, [bits.length]), 'x', 1, 3)]).toEqual([-2, 65504]);
  });

  it('every finite pattern: the sign mirrors, values rise pattern by pattern, each 2^(e-25) above the one before (e: the exponent field of that one, 1 for subnormals)', () => {
    for (let b = 1; b < 0x7c00; b++) {
      const v = halfToNumber(b);
      const prev = halfToNumber(b - 1);
      const exponent = Math.max((b - 1) >> 10, 1); // the spacing of the binade b - 1 is in
      expect(v - prev).toBe(2 ** (exponent - 25));
      expect(Object.is(halfToNumber(b | 0x8000), -v)).toBe(true);
      // Every half is exactly a float32, so the Float32Array keeps it.
      expect(Math.fround(v)).toBe(v);
    }
    const all = floatData(
      new Tensor(
        'float16',
        Uint16Array.from({ length: 0x10000 }, (_, b) => b),
        [0x10000],
      ),
    );
    for (let b = 0; b < 0x10000; b++) {
      const want = halfToNumber(b);
      if (Number.isNaN(want)) expect(Number.isNaN(all[b])).toBe(true);
      else expect(Object.is(all[b], want)).toBe(true);
    }
  });

  it('float32 data is returned as it is (a range: a view); a type other than float32/float16 is INVALID_INPUT naming it', () => {
    const data = Float32Array.of(1.5, -2.25);
    expect(floatData(new Tensor('float32', data, [2]))).toBe(data);
    const part = floatData(new Tensor('float32', data, [2]), 'x', 1, 2);
    expect([...part]).toEqual([-2.25]);
    expect(part.buffer).toBe(data.buffer);
    const refuse = (t: Tensor) => {
      try {
        floatData(t, 'output logits');
      } catch (err) {
        return err;
      }
      throw new Error('not refused');
    };
    for (const [t, type] of [
      [new Tensor('int64', BigInt64Array.of(1n), [1]), 'int64'],
      [new Tensor('float64', Float64Array.of(1), [1]), 'float64'],
    ] as const) {
      const err = refuse(t) as ModelctlError;
      expect(err).toBeInstanceOf(ModelctlError);
      expect(err.code).toBe('INVALID_INPUT');
      expect(err.message).toBe(`output logits is ${type}: float32 or float16 expected`);
    }
  });

  it('numberToHalf: each of the 65536 patterns back to its bits, ties to even, overflow to infinity, underflow to zero', () => {
    for (let b = 0; b < 0x10000; b++) {
      const v = halfToNumber(b);
      if (Number.isNaN(v)) expect(Number.isNaN(halfToNumber(numberToHalf(v)))).toBe(true);
      else expect(numberToHalf(v)).toBe(b);
    }
    const cases: Array<[number, number]> = [
      [1 + 2 ** -11, 0x3c00], // halfway between 1 and its successor: to the even one
      [1 + 3 * 2 ** -11, 0x3c02], // halfway between 0x3C01 and 0x3C02: to the even one
      [1 + 2 ** -11 + 2 ** -20, 0x3c01], // past halfway: up
      [-2.0009765625, 0xc000], // -2 - 2^-10: halfway below -2, to the even -2
      [65519, 0x7bff], // below halfway to 65536
      [65520, 0x7c00], // halfway between 65504 and 65536: to the even, infinity
      [1e6, 0x7c00],
      [-1e6, 0xfc00],
      [2 ** -25, 0x0000], // halfway between 0 and 2^-24: to the even zero
      [1.5 * 2 ** -25, 0x0001],
      [3 * 2 ** -25, 0x0002], // halfway between 2^-24 and 2^-23: to the even
      [1023.5 * 2 ** -24, 0x0400], // the largest subnormal's halfway up: carries into the smallest normal
      [-(2 ** -30), 0x8000],
      [2 ** -14, 0x0400],
      [0.1, 0x2e66],
      [Number.NaN, 0x7e00],
    ];
    for (const [v, bits] of cases) expect(numberToHalf(v), String(v)).toBe(bits);
  });

  it('floatTensor: float16 where the model takes float16 (bits), float32 otherwise (the data itself)', () => {
    const data = Float32Array.of(1, -2, 65504, 0.1);
    const half = floatTensor({ Tensor }, 'float16', data, [2, 2]);
    expect(half.type).toBe('float16');
    expect(half.dims).toEqual([2, 2]);
    expect([...(half.data as Uint16Array)]).toEqual([0x3c00, 0xc000, 0x7bff, 0x2e66]);
    const single = floatTensor({ Tensor }, 'float32', data, [4]);
    expect(single.type).toBe('float32');
    expect(single.data).toBe(data);
  });
});
