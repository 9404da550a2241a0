import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { hintsFromConfig, parseShapeFlags, resolveShape, seededRandom, syntheticInputs, toHalfBits } from '../../src/bench/synthetic.js';
import { isModelctlError } from '../../src/errors.js';
import type { OnnxValueInfo } from '../../src/onnx/summary.js';

const tensor = (name: string, dtype: string, shape: Array<number | string | null>): OnnxValueInfo => ({
  name,
  kind: 'tensor',
  dtype,
  shape,
});

function usage(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(isModelctlError(err) && err.exitCode, String(err)).toBe(2);
    expect((err as Error).message).toMatch(pattern);
    return;
  }
  throw new Error('expected a usage error');
}

/** Half-precision bits back to a number, to check the encoder by round trip. */
function fromHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

describe('synthetic inputs', () => {
  const hints = { vocabSize: 177, typeVocabSize: 2, maxPositions: 64 };

  it('makes every element type onnxruntime-node takes, with the right array and the right range', () => {
    const floats = ['float32', 'float64', 'float16'];
    const ints: Record<string, [number, number]> = {
      int8: [-128, 127],
      uint8: [0, 255],
      int16: [0, 9],
      uint16: [0, 9],
      int32: [0, 9],
      uint32: [0, 9],
      int64: [0, 9],
      uint64: [0, 9],
    };
    const specs = [...floats, ...Object.keys(ints), 'bool', 'string'].map((t) => tensor(`x_${t}`, t, ['batch', 16]));
    const made = syntheticInputs(specs, { batch: 4 }, hints);
    const arrays: Record<string, string> = {
      float32: 'Float32Array',
      float64: 'Float64Array',
      float16: 'Uint16Array',
      int8: 'Int8Array',
      uint8: 'Uint8Array',
      int16: 'Int16Array',
      uint16: 'Uint16Array',
      int32: 'Int32Array',
      uint32: 'Uint32Array',
      int64: 'BigInt64Array',
      uint64: 'BigUint64Array',
      bool: 'Uint8Array',
      string: 'Array',
    };
    for (const input of made) {
      expect(input.dims, input.name).toEqual([4, 16]);
      expect(input.data.length, input.name).toBe(64);
      expect(input.data.constructor.name, input.name).toBe(arrays[input.type]);
      const values = Array.from(input.data as ArrayLike<number | bigint | string>, (v) => (typeof v === 'bigint' ? Number(v) : v));
      if (input.type === 'float16')
        for (const v of values) {
          expect(fromHalf(v as number)).toBeGreaterThanOrEqual(0);
          expect(fromHalf(v as number)).toBeLessThanOrEqual(1);
        }
      else if (floats.includes(input.type))
        for (const v of values) expect((v as number) >= 0 && (v as number) < 1, `${input.name} ${v}`).toBe(true);
      else if (input.type === 'bool') expect(new Set(values)).toEqual(new Set([0, 1]));
      else if (input.type === 'string') expect(values.every((v) => typeof v === 'string' && v.length > 0)).toBe(true);
      else {
        const [lo, hi] = ints[input.type] as [number, number];
        for (const v of values) expect((v as number) >= lo && (v as number) <= hi, `${input.name} ${v}`).toBe(true);
        expect(new Set(values).size, `${input.name} is not constant`).toBeGreaterThan(1);
      }
      // onnxruntime-node accepts each of them as a tensor of the declared type.
      const t = new ort.Tensor(input.type as 'float32', input.data as Float32Array, input.dims);
      expect(t.type).toBe(input.type);
    }
  });

  it('fills transformer inputs by role: token ids inside the vocabulary, masks of ones, token types of zeros, counting positions', () => {
    const [ids, mask, types, positions, boolMask, floatMask] = syntheticInputs(
      [
        tensor('input_ids', 'int64', ['batch_size', 'sequence_length']),
        tensor('attention_mask', 'int64', ['batch_size', 'sequence_length']),
        tensor('token_type_ids', 'int32', ['batch_size', 'sequence_length']),
        tensor('position_ids', 'int64', ['batch_size', 'sequence_length']),
        tensor('mask', 'bool', ['batch_size', 'sequence_length']),
        tensor('encoder_attention_mask', 'float16', ['batch_size', 'sequence_length']),
      ],
      { batch: 3, seqLen: 50 },
      hints,
    );
    const nums = (d: unknown) => Array.from(d as ArrayLike<number | bigint>, Number);
    expect(ids!.dims).toEqual([3, 50]);
    const idValues = nums(ids!.data);
    expect(Math.min(...idValues)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...idValues)).toBeLessThan(177);
    expect(new Set(idValues).size).toBeGreaterThan(50);
    expect(ids!.fill).toBe('token ids in [0, 177)');
    expect(new Set(nums(mask!.data))).toEqual(new Set([1]));
    expect(new Set(nums(types!.data))).toEqual(new Set([0]));
    expect(nums(positions!.data).slice(48, 52)).toEqual([48, 49, 0, 1]);
    expect(new Set(nums(boolMask!.data))).toEqual(new Set([1]));
    expect(new Set(nums(floatMask!.data))).toEqual(new Set([0x3c00]));
  });

  it('is reproducible: the same seed gives the same bytes', () => {
    const spec = [tensor('x', 'float32', [null, 8]), tensor('input_ids', 'int64', [null, 8])];
    const a = syntheticInputs(spec, { batch: 2 }, hints, 1);
    const b = syntheticInputs(spec, { batch: 2 }, hints, 1);
    const c = syntheticInputs(spec, { batch: 2 }, hints, 2);
    expect(a.map((x) => Array.from(x.data as Float32Array))).toEqual(b.map((x) => Array.from(x.data as Float32Array)));
    expect(Array.from(a[0]!.data as Float32Array)).not.toEqual(Array.from(c[0]!.data as Float32Array));
    const r = seededRandom(3);
    const xs = Array.from({ length: 1000 }, r);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
  });

  it('encodes half floats exactly where float16 can, rounding to nearest even elsewhere', () => {
    expect(toHalfBits(1)).toBe(0x3c00);
    expect(toHalfBits(0.5)).toBe(0x3800);
    expect(toHalfBits(-2)).toBe(0xc000);
    expect(toHalfBits(65504)).toBe(0x7bff);
    expect(toHalfBits(1e6)).toBe(0x7c00);
    expect(toHalfBits(2 ** -24)).toBe(0x0001);
    expect(toHalfBits(0)).toBe(0);
    expect(toHalfBits(1 + 2 ** -11)).toBe(0x3c00); // a tie: to even
    expect(toHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    const r = seededRandom(9);
    for (let i = 0; i < 1000; i++) {
      const x = r();
      expect(Math.abs(fromHalf(toHalfBits(x)) - x)).toBeLessThanOrEqual(2 ** -12);
    }
  });

  it('resolves symbolic dimensions: batch first, sequence from --seq-len (capped by the model), images from config.json, names from --shape', () => {
    expect(resolveShape(tensor('input_ids', 'int64', ['batch_size', 'sequence_length']), { batch: 8 }, hints)).toEqual([8, 64]);
    expect(resolveShape(tensor('input_ids', 'int64', ['batch_size', 'sequence_length']), { batch: 8 }, {})).toEqual([8, 128]);
    expect(resolveShape(tensor('input_ids', 'int64', ['b', 'sequence_length']), { batch: 1, seqLen: 16 }, hints)).toEqual([1, 16]);
    usage(
      () => resolveShape(tensor('input_ids', 'int64', ['b', 'sequence_length']), { batch: 1, seqLen: 65 }, hints),
      /longer than the model's 64 positions/,
    );
    const vit = hintsFromConfig({ image_size: 32, num_channels: 3, vocab_size: 'x' });
    expect(vit).toEqual({ imageSize: 32, numChannels: 3 });
    // A VisionEncoderDecoder (image-to-text) keeps them in its encoder's config.
    const captioner = {
      model_type: 'vision-encoder-decoder',
      encoder: { image_size: [24, 24], num_channels: 3 },
      decoder: { vocab_size: 400 },
    };
    expect(hintsFromConfig(captioner)).toEqual({ imageSize: 24, numChannels: 3 });
    expect(resolveShape(tensor('pixel_values', 'float32', ['batch_size', 'num_channels', 'height', 'width']), { batch: 2 }, vit)).toEqual([
      2, 3, 32, 32,
    ]);
    usage(
      () => resolveShape(tensor('pixel_values', 'float32', ['batch_size', 'num_channels', 'height', 'width']), { batch: 2 }, {}),
      /dimension "num_channels" of input pixel_values is not fixed/,
    );
    expect(resolveShape(tensor('images', 'float32', [1, 3, 64, 64]), { batch: 8 })).toEqual([1, 3, 64, 64]);
    expect(resolveShape(tensor('x', 'float32', ['N', 'features']), { batch: 4, dims: { features: 16 } })).toEqual([4, 16]);
    usage(() => resolveShape(tensor('x', 'float32', ['N', null]), { batch: 4 }), /dimension 1 of input x is not fixed/);
    usage(() => resolveShape({ name: 'x', kind: 'tensor', dtype: 'float32' }, { batch: 4 }), /no declared shape/);
  });

  it('reads --shape flags as whole input shapes or symbolic dimension sizes', () => {
    const inputs = [tensor('pixel_values', 'float32', ['batch', 3, 'height', 'width'])];
    const flags = parseShapeFlags(['pixel_values=batch,3,224x224', 'height=224'], inputs);
    expect(flags).toEqual({ inputShapes: { pixel_values: ['batch', 3, 224, 224] }, dims: { height: 224 } });
    expect(syntheticInputs(inputs, { batch: 2, ...flags })[0]!.dims).toEqual([2, 3, 224, 224]);
    usage(() => parseShapeFlags(['pixel_values'], inputs), /--shape takes NAME=DIMS/);
    usage(() => parseShapeFlags(['pixel_values=1,0,2,2'], inputs), /--shape takes NAME=DIMS/);
    usage(() => parseShapeFlags(['nope=1,2'], inputs), /no input of that name/);
    usage(
      () => syntheticInputs(inputs, { batch: 1, inputShapes: { pixel_values: [1, 3, 2] } }),
      /has 3 dimensions; the model's input has 4/,
    );
  });

  it('refuses what onnxruntime-node cannot take from JavaScript, in one line', () => {
    for (const [spec, pattern] of [
      [tensor('x', 'bfloat16', [1]), /element type bfloat16/],
      [tensor('x', 'int4', [1]), /element type int4/],
      [{ name: 's', kind: 'sequence' } as OnnxValueInfo, /is a sequence, not a tensor/],
    ] as Array<[OnnxValueInfo, RegExp]>) {
      try {
        syntheticInputs([spec], { batch: 1 });
        throw new Error('expected an error');
      } catch (err) {
        expect(isModelctlError(err) && err.code).toBe('INVALID_INPUT');
        expect((err as Error).message).toMatch(pattern);
      }
    }
  });
});
