import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { ModelctlError } from '../errors.js';
import type { OnnxValueInfo } from '../onnx/summary.js';

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

const NUMERIC: Record<string, (data: number[]) => Tensor.DataType> = {
  float32: (d) => Float32Array.from(d),
  float64: (d) => Float64Array.from(d),
  int8: (d) => Int8Array.from(d),
  uint8: (d) => Uint8Array.from(d),
  int16: (d) => Int16Array.from(d),
  uint16: (d) => Uint16Array.from(d),
  int32: (d) => Int32Array.from(d),
  uint32: (d) => Uint32Array.from(d),
  int64: (d) => BigInt64Array.from(d.map((x) => BigInt(Math.trunc(x)))),
  uint64: (d) => BigUint64Array.from(d.map((x) => BigInt(Math.trunc(x)))),
};

/** Builds an ORT tensor of `type` from flat JSON values, checking that they are of the right kind. */
export function makeTensor(ctx: RunContext, name: string, type: string, dims: number[], data: unknown[]): Tensor {
  const expected = dims.reduce((a, b) => a * b, 1);
  if (data.length !== expected) {
    throw new ModelctlError('INVALID_INPUT', `input ${name}: ${data.length} values do not fill shape [${dims.join(', ')}] (${expected} values)`);
  }
  if (type === 'string') return new ctx.Tensor('string', data.map((d) => String(d)), dims);
  if (type === 'bool') return new ctx.Tensor('bool', Uint8Array.from(data.map((d) => (d ? 1 : 0))), dims);
  const make = NUMERIC[type];
  if (!make) throw new ModelctlError('INVALID_INPUT', `input ${name}: element type ${type} is not supported`);
  const bad = data.findIndex((d) => typeof d !== 'number' || !Number.isFinite(d));
  if (bad >= 0) {
    throw new ModelctlError('INVALID_INPUT', `input ${name}: value ${JSON.stringify(data[bad])} at position ${bad} is not a number`, {
      hint: `the model takes ${type}`,
    });
  }
  return new ctx.Tensor(type as 'float32', make(data as number[]) as Float32Array, dims);
}

/** An ORT output as JSON: 64-bit integers become numbers when exact, else decimal strings. */
export function tensorToJson(t: Tensor): JsonTensor {
  const data = Array.from(t.data as ArrayLike<number | bigint | string | boolean>, (v) => {
    if (typeof v !== 'bigint') return v;
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString();
  });
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
  return ctx.session.outputNames.filter((n) => (kinds.get(n) ?? 'tensor') === 'tensor');
}
