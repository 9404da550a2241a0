import { ModelctlError } from '../errors.js';
import { flatten, makeTensor, runSession, tensorOutputs, tensorToJson, type JsonTensor, type RunContext } from './tensors.js';

/**
 * Any model: named tensors in, named tensors out. An input is `{"dims": [...], "data": [...], "type": "float32"}`,
 * a nested array (its shape read from the nesting, its type from the model), or the contents of a .npy file.
 */

const NPY_TYPES: Record<string, [string, number]> = {
  f4: ['float32', 4], f8: ['float64', 8], i1: ['int8', 1], u1: ['uint8', 1], i2: ['int16', 2], u2: ['uint16', 2],
  i4: ['int32', 4], u4: ['uint32', 4], i8: ['int64', 8], u8: ['uint64', 8], b1: ['bool', 1],
};

/** A NumPy .npy file (format 1.0-3.0, C order, little-endian or single-byte types) as a JSON tensor. */
export function parseNpy(bytes: Uint8Array, name = 'input'): JsonTensor {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new ModelctlError('INVALID_INPUT', `${name} is not a .npy file`);
  const major = buf[6] as number;
  const start = major === 1 ? 10 : 12;
  if (buf.length < start) throw new ModelctlError('INVALID_INPUT', `${name}: the .npy header is truncated`);
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  if (start + headerLen > buf.length) throw new ModelctlError('INVALID_INPUT', `${name}: the .npy header is truncated`);
  const header = buf.toString('latin1', start, start + headerLen);
  const descr = /'descr':\s*'([<>|=])([a-z]\d+)'/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !shape || /'fortran_order':\s*True/.test(header)) {
    throw new ModelctlError('INVALID_INPUT', `${name}: only C-ordered numeric .npy arrays are supported`);
  }
  const spec = NPY_TYPES[descr[2] as string];
  if (!spec || descr[1] === '>') throw new ModelctlError('INVALID_INPUT', `${name}: .npy type ${descr[1]}${descr[2]} is not supported`);
  const dims = (shape[1] as string).split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const [type, size] = spec;
  const count = dims.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  if (buf.length < offset + count * size) throw new ModelctlError('INVALID_INPUT', `${name}: the .npy data is truncated`);
  const data: Array<number | boolean> = [];
  for (let i = 0; i < count; i++) {
    const at = offset + i * size;
    switch (type) {
      case 'float32': data.push(buf.readFloatLE(at)); break;
      case 'float64': data.push(buf.readDoubleLE(at)); break;
      case 'int8': data.push(buf.readInt8(at)); break;
      case 'uint8': data.push(buf.readUInt8(at)); break;
      case 'int16': data.push(buf.readInt16LE(at)); break;
      case 'uint16': data.push(buf.readUInt16LE(at)); break;
      case 'int32': data.push(buf.readInt32LE(at)); break;
      case 'uint32': data.push(buf.readUInt32LE(at)); break;
      case 'int64': data.push(Number(buf.readBigInt64LE(at))); break;
      case 'uint64': data.push(Number(buf.readBigUInt64LE(at))); break;
      default: data.push(buf[at] !== 0);
    }
  }
  return { dims, type, data };
}

function isJsonTensor(v: unknown): v is JsonTensor {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'data' in v;
}

/** Runs named inputs; unknown names and missing inputs are errors that list what the model takes. */
export async function predictRaw(ctx: RunContext, inputs: Record<string, unknown>): Promise<Record<string, JsonTensor>> {
  const specs = new Map(ctx.inputs.map((i) => [i.name, i]));
  const takes = ctx.inputs.map((i) => `${i.name} ${i.dtype ?? '?'}[${(i.shape ?? []).map((d) => d ?? '?').join(', ')}]`).join(', ');
  for (const name of Object.keys(inputs)) {
    if (!specs.has(name)) throw new ModelctlError('INVALID_INPUT', `the model has no input named ${JSON.stringify(name)}`, { hint: `it takes: ${takes}` });
  }
  const feeds: Record<string, ReturnType<typeof makeTensor>> = {};
  for (const spec of ctx.inputs) {
    const value = inputs[spec.name];
    if (value === undefined) throw new ModelctlError('INVALID_INPUT', `input ${spec.name} is missing`, { hint: `the model takes: ${takes}` });
    const type = spec.dtype ?? 'float32';
    if (isJsonTensor(value)) {
      if (value.dims !== undefined && !(Array.isArray(value.dims) && value.dims.every((d) => Number.isSafeInteger(d) && d >= 0))) {
        throw new ModelctlError('INVALID_INPUT', `input ${spec.name}: "dims" must be a list of whole numbers`, { hint: '{"dims": [1, 4], "data": [...]}' });
      }
      if (value.type && value.type !== type) {
        throw new ModelctlError('INVALID_INPUT', `input ${spec.name} is ${value.type}, but the model takes ${type}`, { hint: 'convert it, or give it without "type"' });
      }
      const flat = flatten(value.data, spec.name);
      feeds[spec.name] = makeTensor(ctx, spec.name, type, value.dims ?? flat.dims, flat.data);
    } else {
      const flat = flatten(value, spec.name);
      feeds[spec.name] = makeTensor(ctx, spec.name, type, flat.dims, flat.data);
    }
    const want = spec.shape;
    const got = feeds[spec.name]?.dims ?? [];
    if (want !== undefined && (got.length !== want.length || want.some((d, i) => typeof d === 'number' && d > 0 && d !== got[i]))) {
      throw new ModelctlError('INVALID_INPUT', `input ${spec.name} has shape [${got.join(', ')}]; the model takes [${want.map((d) => d ?? '?').join(', ')}]`, { hint: `the model takes: ${takes}` });
    }
  }
  const fetch = tensorOutputs(ctx);
  const out = await runSession(ctx, feeds, fetch);
  return Object.fromEntries(fetch.map((n) => [n, tensorToJson(out[n] as Parameters<typeof tensorToJson>[0])]));
}
