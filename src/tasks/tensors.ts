import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { ModelctlError } from '../errors.js';
import type { OnnxValueInfo } from '../onnx/summary.js';
import { ortFirstLine } from '../runtime/ort-errors.js';

/** What a task needs from onnxruntime: a session, and the Tensor constructor (the runtime module loads ORT lazily). */
export interface RunContext {
  session: Pick<InferenceSession, 'inputNames' | 'outputNames' | 'run'>;
  Tensor: typeof Tensor;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

/** A tensor as JSON: what `--json` prints and what raw inputs may be given as. */
export interface JsonTensor {
  dims: number[];
  type: string;
  data: Array<number | string | boolean>;
}

/** Integer types and the values they hold: a value outside is an error, never silently wrapped. */
const INT_RANGES: Record<string, [number, number]> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
};

const NUMERIC: Record<string, (data: number[]) => Tensor.DataType> = {
  float32: (d) => Float32Array.from(d),
  float64: (d) => Float64Array.from(d),
  int8: (d) => Int8Array.from(d),
  uint8: (d) => Uint8Array.from(d),
  int16: (d) => Int16Array.from(d),
  uint16: (d) => Uint16Array.from(d),
  int32: (d) => Int32Array.from(d),
  uint32: (d) => Uint32Array.from(d),
};

const BIG_RANGES: Record<string, [bigint, bigint]> = {
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};

/** An int64/uint64 value: a safe integer, or a decimal string for values JSON numbers cannot hold exactly. */
function bigValue(name: string, type: string, v: unknown, at: number): bigint {
  let big: bigint | undefined;
  if (typeof v === 'bigint') big = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) big = BigInt(v);
  else if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) big = BigInt(v.trim());
  const [min, max] = BIG_RANGES[type] as [bigint, bigint];
  if (big === undefined || big < min || big > max) {
    throw new ModelctlError(
      'INVALID_INPUT',
      `input ${name}: value ${JSON.stringify(typeof v === 'bigint' ? v.toString() : v)} at position ${at} is not a ${type}`,
      {
        hint: typeof v === 'number' ? 'integers beyond 2^53 must be given as decimal strings' : `the model takes ${type}`,
      },
    );
  }
  return big;
}

/** Builds an ORT tensor of `type` from flat JSON values, checking that they are of the right kind. */
export function makeTensor(ctx: RunContext, name: string, type: string, dims: number[], data: unknown[]): Tensor {
  const expected = dims.reduce((a, b) => a * b, 1);
  if (data.length !== expected) {
    throw new ModelctlError(
      'INVALID_INPUT',
      `input ${name}: ${data.length} values do not fill shape [${dims.join(', ')}] (${expected} values)`,
    );
  }
  if (type === 'string')
    return new ctx.Tensor(
      'string',
      data.map((d) => String(d)),
      dims,
    );
  if (type === 'bool') return new ctx.Tensor('bool', Uint8Array.from(data.map((d) => (d ? 1 : 0))), dims);
  if (BIG_RANGES[type]) {
    const values = data.map((v, i) => bigValue(name, type, v, i));
    return type === 'int64'
      ? new ctx.Tensor('int64', BigInt64Array.from(values), dims)
      : new ctx.Tensor('uint64', BigUint64Array.from(values), dims);
  }
  const make = NUMERIC[type];
  if (!make) throw new ModelctlError('INVALID_INPUT', `input ${name}: element type ${type} is not supported`);
  const range = INT_RANGES[type];
  const bad = data.findIndex(
    (d) => typeof d !== 'number' || !Number.isFinite(d) || (range !== undefined && (!Number.isInteger(d) || d < range[0] || d > range[1])),
  );
  if (bad >= 0) {
    throw new ModelctlError('INVALID_INPUT', `input ${name}: value ${JSON.stringify(data[bad])} at position ${bad} is not a number`, {
      hint: `the model takes ${type}`,
    });
  }
  return new ctx.Tensor(type as 'float32', make(data as number[]) as Float32Array, dims);
}

/** The 65536 half-precision bit patterns as numbers, built on first use. */
let halves: Float32Array | undefined;

/** One IEEE 754 binary16 value from its bits: sign, 5-bit exponent (bias 15), 10-bit fraction. */
export function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // zero and subnormals: 0.fraction x 2^-14
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : Number.NaN;
  return sign * (0x400 + fraction) * 2 ** (exponent - 25); // 1.fraction x 2^(exponent - 15)
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The binary16 bits nearest a number (as it rounds to float32 first), ties to even; beyond 65504 rounds to infinity. */
export function numberToHalf(value: number): number {
  f32[0] = value;
  const x = u32[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exponent = ((x >>> 23) & 0xff) - 127 + 15;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff - 127 + 15) return sign | 0x7c00 | (mantissa === 0 ? 0 : 0x200);
  if (exponent >= 0x1f) return sign | 0x7c00;
  // A normal half keeps 10 of the 23 fraction bits; a subnormal one fewer, counted in units of 2^-24.
  let shift = 13;
  let half = (exponent << 10) | (mantissa >>> 13);
  if (exponent <= 0) {
    if (exponent < -10) return sign;
    mantissa |= 0x800000;
    shift = 14 - exponent;
    half = mantissa >>> shift;
  }
  const rest = mantissa & ((1 << shift) - 1);
  const tie = 1 << (shift - 1);
  // Rounding up may carry into the exponent: the next binade, or infinity past 65504, as it should.
  if (rest > tie || (rest === tie && (half & 1) === 1)) half += 1;
  return sign | half;
}

/** A tensor of `type` (float32 or float16, e.g. what a model input declares) holding `data`. */
export function floatTensor(
  ctx: Pick<RunContext, 'Tensor'>,
  type: string | undefined,
  data: Float32Array,
  dims: readonly number[],
): Tensor {
  if (type !== 'float16') return new ctx.Tensor('float32', data, dims);
  return new ctx.Tensor('float16', Uint16Array.from(data, numberToHalf), dims);
}

/**
 * A float tensor's values from `start` to `end` (all by default) as a Float32Array: float32 data itself (a view, no
 * copy); float16 (onnxruntime-node's Uint16Array of half bits, or a Float16Array where the runtime has one) decoded
 * into a new array, only that range (a prompt's logits are [positions, vocab], of which the last row is read); any
 * other type refused.
 */
export function floatData(t: Pick<Tensor, 'type' | 'data'>, name = 'the output', start = 0, end?: number): Float32Array {
  const data = t.data;
  if (t.type === 'float32' && data instanceof Float32Array) return start === 0 && end === undefined ? data : data.subarray(start, end);
  if (t.type === 'float16' && ArrayBuffer.isView(data) && !(data instanceof DataView)) {
    const part = (data as Uint16Array).subarray(start, end);
    // A Float16Array (where the runtime has one) holds numbers already.
    if (!(data instanceof Uint16Array)) return Float32Array.from(part as ArrayLike<number>);
    if (!halves) {
      halves = new Float32Array(0x10000);
      for (let b = 0; b < 0x10000; b++) halves[b] = halfToNumber(b);
    }
    const table = halves;
    const out = new Float32Array(part.length);
    for (let i = 0; i < part.length; i++) out[i] = table[part[i] as number] as number;
    return out;
  }
  throw new ModelctlError('INVALID_INPUT', `${name} is ${t.type}: float32 or float16 expected`);
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

/** One output element as JSON: a 64-bit integer becomes a number when exact, else a decimal string. */
export function jsonValue(v: unknown): number | string | boolean {
  if (typeof v !== 'bigint') return v as number | string | boolean;
  return v <= MAX_SAFE && v >= MIN_SAFE ? Number(v) : v.toString();
}

/** An ORT output as JSON: 64-bit integers become numbers when exact, else decimal strings. */
export function tensorToJson(t: Tensor): JsonTensor {
  const data = Array.from(t.data as ArrayLike<number | bigint | string | boolean>, jsonValue);
  return { dims: [...t.dims], type: t.type, data };
}

/** Flattens nested arrays and reports their shape; ragged arrays are an error. */
export function flatten(value: unknown, name: string): { dims: number[]; data: unknown[] } {
  const dims: number[] = [];
  let probe: unknown = value;
  while (Array.isArray(probe)) {
    dims.push(probe.length);
    probe = probe[0];
  }
  const data = dims.length === 0 ? [value] : (value as unknown[]).flat(dims.length - 1);
  if (data.length !== dims.reduce((a, b) => a * b, 1) || data.some(Array.isArray)) {
    throw new ModelctlError('INVALID_INPUT', `input ${name} is a ragged array`, { hint: 'every row must have the same length' });
  }
  return { dims, data };
}

/** Only tensor outputs can be fetched by onnxruntime-node (not ZipMap's sequence<map>). */
export function tensorOutputs(ctx: RunContext): string[] {
  const kinds = new Map(ctx.outputs.map((o) => [o.name, o.kind]));
  const names = ctx.session.outputNames.filter((n) => (kinds.get(n) ?? 'tensor') === 'tensor');
  if (names.length === 0) {
    throw new ModelctlError('INVALID_INPUT', 'the model has no tensor output ONNX Runtime can return here', {
      hint: 'its outputs are sequences or maps (e.g. skl2onnx ZipMap); re-export with zipmap=False',
    });
  }
  return names;
}

/** session.run with the model's complaints about its inputs (shape, type) as one-line errors. */
export async function runSession(ctx: RunContext, feeds: Record<string, Tensor>, fetch: string[]): Promise<Record<string, Tensor>> {
  try {
    return (await ctx.session.run(feeds, fetch)) as Record<string, Tensor>;
  } catch (err) {
    if (err instanceof ModelctlError) throw err;
    const takes = ctx.inputs.map((i) => `${i.name} ${i.dtype ?? '?'}[${(i.shape ?? []).map((d) => d ?? '?').join(', ')}]`).join(', ');
    throw new ModelctlError('INVALID_INPUT', `the model refused the input: ${ortFirstLine((err as Error).message ?? String(err))}`, {
      hint: `it takes: ${takes}`,
      cause: err,
    });
  }
}
