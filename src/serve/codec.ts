import type { Tensor } from 'onnxruntime-node';
import type { OnnxValueInfo } from '../onnx/summary.js';
import { flatten, makeTensor, type RunContext } from '../tasks/tensors.js';
import { HttpError } from './http.js';

/**
 * The Open Inference Protocol (KServe v2) over HTTP: JSON tensors with row-major `data`, and Triton's binary tensor
 * extension (a JSON header of `Inference-Header-Content-Length` bytes followed by raw little-endian tensors, each
 * announced by `parameters.binary_data_size`), which tritonclient uses by default.
 */

const V2_TO_ORT: Record<string, string> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
};
const ORT_TO_V2: Record<string, string> = Object.fromEntries(Object.entries(V2_TO_ORT).map(([k, v]) => [v, k]));

/** Bytes per element in the binary extension (BYTES is length-prefixed instead). */
const WIDTH: Record<string, number> = {
  bool: 1,
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  float16: 2,
  uint32: 4,
  int32: 4,
  float32: 4,
  uint64: 8,
  int64: 8,
  float64: 8,
};

export function v2Datatype(dtype: string | undefined): string {
  return ORT_TO_V2[dtype ?? ''] ?? (dtype ?? 'UNKNOWN').toUpperCase();
}

/** KServe shapes use -1 for a dimension not fixed by the model. */
export function v2Shape(shape: OnnxValueInfo['shape']): number[] {
  return (shape ?? []).map((d) => (typeof d === 'number' && d >= 0 ? d : -1));
}

export interface V2TensorSpec {
  name: string;
  datatype: string;
  shape: number[];
}

export function tensorSpecs(values: OnnxValueInfo[]): V2TensorSpec[] {
  return values.filter((v) => v.kind === 'tensor').map((v) => ({ name: v.name, datatype: v2Datatype(v.dtype), shape: v2Shape(v.shape) }));
}

export interface InferRequest {
  id?: string;
  inputs: Record<string, Tensor>;
  /** Output names the client asked for, in its order; undefined means every output. */
  outputs?: string[];
  /** Output names to send in the binary extension. */
  binaryOutputs: Set<string>;
  /** Rows along the first dimension (equal across inputs), the unit the batcher merges. */
  rows: number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkShape(name: string, shape: unknown): number[] {
  if (!Array.isArray(shape) || shape.length > 64 || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw new HttpError(400, `input ${name}: "shape" must be a list of whole numbers`, { hint: '"shape": [1, 4]' });
  }
  return shape as number[];
}

/** Raw little-endian bytes of the binary extension as an ORT tensor (copied: the body buffer is not aligned). */
function tensorFromBytes(T: typeof Tensor, name: string, type: string, dims: number[], bytes: Buffer): Tensor {
  const count = dims.reduce((a, b) => a * b, 1);
  if (type === 'string') {
    const items: string[] = [];
    let at = 0;
    while (at < bytes.length) {
      if (at + 4 > bytes.length) throw new HttpError(400, `input ${name}: truncated BYTES element`);
      const len = bytes.readUInt32LE(at);
      if (at + 4 + len > bytes.length) throw new HttpError(400, `input ${name}: truncated BYTES element`);
      items.push(bytes.toString('utf8', at + 4, at + 4 + len));
      at += 4 + len;
    }
    if (items.length !== count) throw new HttpError(400, `input ${name}: ${items.length} values do not fill shape [${dims.join(', ')}]`);
    return new T('string', items, dims);
  }
  const width = WIDTH[type] as number;
  if (bytes.length !== count * width) {
    throw new HttpError(
      400,
      `input ${name}: ${bytes.length} bytes of binary data do not fill shape [${dims.join(', ')}] of ${v2Datatype(type)} (${count * width} bytes)`,
    );
  }
  const copy = new Uint8Array(bytes); // aligned copy
  const buf = copy.buffer;
  switch (type) {
    case 'bool':
      return new T('bool', copy, dims);
    case 'uint8':
      return new T('uint8', copy, dims);
    case 'int8':
      return new T('int8', new Int8Array(buf), dims);
    case 'uint16':
      return new T('uint16', new Uint16Array(buf), dims);
    case 'int16':
      return new T('int16', new Int16Array(buf), dims);
    case 'float16':
      return new T('float16', new Uint16Array(buf), dims);
    case 'uint32':
      return new T('uint32', new Uint32Array(buf), dims);
    case 'int32':
      return new T('int32', new Int32Array(buf), dims);
    case 'float32':
      return new T('float32', new Float32Array(buf), dims);
    case 'uint64':
      return new T('uint64', new BigUint64Array(buf), dims);
    case 'int64':
      return new T('int64', new BigInt64Array(buf), dims);
    default:
      return new T('float64', new Float64Array(buf), dims);
  }
}

/**
 * An infer request body checked against the model's inputs: names, datatypes and fixed dimensions must match
 * (a mismatch is the client's 400, never ONNX Runtime's crash). `headerLength` splits JSON from binary data.
 */
export function decodeInferRequest(
  T: typeof Tensor,
  body: Buffer,
  headerLength: number | undefined,
  modelInputs: OnnxValueInfo[],
): InferRequest {
  if (headerLength !== undefined && (!Number.isSafeInteger(headerLength) || headerLength < 0 || headerLength > body.length)) {
    throw new HttpError(400, `Inference-Header-Content-Length ${headerLength} does not fit a body of ${body.length} bytes`);
  }
  const jsonPart = headerLength === undefined ? body : body.subarray(0, headerLength);
  let doc: unknown;
  try {
    doc = JSON.parse(jsonPart.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, `the infer request is not valid JSON (${(err as Error).message.split('\n')[0]})`);
  }
  if (!isObject(doc) || !Array.isArray(doc.inputs))
    throw new HttpError(400, 'an infer request is a JSON object with an "inputs" list', {
      hint: '{"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": [...]}]}',
    });
  const specs = new Map(modelInputs.filter((i) => i.kind === 'tensor').map((i) => [i.name, i]));
  const takes = [...specs.values()].map((i) => `${i.name} ${v2Datatype(i.dtype)}[${v2Shape(i.shape).join(', ')}]`).join(', ');
  let binaryAt = headerLength ?? body.length;
  const inputs: Record<string, Tensor> = {};
  for (const raw of doc.inputs) {
    if (!isObject(raw) || typeof raw.name !== 'string')
      throw new HttpError(400, 'every input needs a "name"', { hint: `the model takes: ${takes}` });
    const name = raw.name;
    const spec = specs.get(name);
    if (!spec) throw new HttpError(400, `the model has no input named ${JSON.stringify(name)}`, { hint: `it takes: ${takes}` });
    if (inputs[name]) throw new HttpError(400, `input ${name} is given twice`);
    const type = spec.dtype ?? 'float32';
    if (typeof raw.datatype !== 'string' || V2_TO_ORT[raw.datatype] !== type) {
      throw new HttpError(
        400,
        `input ${name} is ${typeof raw.datatype === 'string' ? raw.datatype : 'without a datatype'}, but the model takes ${v2Datatype(type)}`,
        { hint: `the model takes: ${takes}` },
      );
    }
    const dims = checkShape(name, raw.shape);
    const params = isObject(raw.parameters) ? raw.parameters : {};
    let tensor: Tensor;
    if (params.binary_data_size !== undefined) {
      const size = params.binary_data_size;
      if (!Number.isSafeInteger(size) || (size as number) < 0 || binaryAt + (size as number) > body.length) {
        throw new HttpError(400, `input ${name}: binary_data_size ${JSON.stringify(size)} runs past the end of the body`);
      }
      tensor = tensorFromBytes(T, name, type, dims, body.subarray(binaryAt, binaryAt + (size as number)));
      binaryAt += size as number;
    } else {
      if (raw.data === undefined) throw new HttpError(400, `input ${name} has no "data"`);
      if (type === 'float16')
        throw new HttpError(400, `input ${name}: FP16 is taken in the binary tensor extension only`, {
          hint: 'send binary_data_size and the raw half-precision bytes',
        });
      const flat = flatten(raw.data, name);
      tensor = makeTensor({ Tensor: T } as unknown as RunContext, name, type, dims, flat.data);
    }
    const want = spec.shape;
    if (want !== undefined && (dims.length !== want.length || want.some((d, i) => typeof d === 'number' && d > 0 && d !== dims[i]))) {
      throw new HttpError(400, `input ${name} has shape [${dims.join(', ')}]; the model takes [${v2Shape(want).join(', ')}]`, {
        hint: `the model takes: ${takes}`,
      });
    }
    inputs[name] = tensor;
  }
  const missing = [...specs.keys()].filter((n) => !inputs[n]);
  if (missing.length > 0)
    throw new HttpError(400, `input ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing`, {
      hint: `the model takes: ${takes}`,
    });
  const firstDims = Object.values(inputs).map((t) => (t.dims.length > 0 ? t.dims[0] : -1));
  const rows = firstDims.every((d) => d === firstDims[0]) && (firstDims[0] ?? -1) >= 0 ? (firstDims[0] as number) : -1;

  const binaryAll = isObject(doc.parameters) && doc.parameters.binary_data_output === true;
  const binaryOutputs = new Set<string>();
  let outputs: string[] | undefined;
  if (doc.outputs !== undefined) {
    if (!Array.isArray(doc.outputs)) throw new HttpError(400, '"outputs" must be a list of {"name": ...}');
    outputs = [];
    for (const o of doc.outputs) {
      if (!isObject(o) || typeof o.name !== 'string') throw new HttpError(400, 'every requested output needs a "name"');
      outputs.push(o.name);
      const p = isObject(o.parameters) ? o.parameters : {};
      if (p.binary_data === true || (binaryAll && p.binary_data !== false)) binaryOutputs.add(o.name);
    }
  }
  return {
    ...(typeof doc.id === 'string' ? { id: doc.id } : {}),
    inputs,
    ...(outputs ? { outputs } : {}),
    binaryOutputs: outputs ? binaryOutputs : binaryAll ? new Set(['*']) : binaryOutputs,
    rows,
  };
}

/** JSON numbers for every element type; 64-bit integers exactly, as digits (not through a lossy double). */
function jsonData(t: Tensor): string {
  const data = t.data as ArrayLike<unknown>;
  if (t.type === 'int64' || t.type === 'uint64') return `[${Array.from(data as BigInt64Array, (v) => v.toString()).join(',')}]`;
  if (t.type === 'bool') return `[${Array.from(data as Uint8Array, (v) => (v ? 'true' : 'false')).join(',')}]`;
  return JSON.stringify(Array.from(data));
}

function binaryData(t: Tensor): Buffer {
  if (t.type === 'string') {
    return Buffer.concat(
      (t.data as string[]).flatMap((s) => {
        const b = Buffer.from(s, 'utf8');
        const len = Buffer.alloc(4);
        len.writeUInt32LE(b.length);
        return [len, b];
      }),
    );
  }
  const view = t.data as unknown as ArrayBufferView;
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

/** The infer response: JSON alone, or a JSON header plus the binary section with its length in `headerLength`. */
export function encodeInferResponse(
  model: { name: string; version: string },
  req: Pick<InferRequest, 'id' | 'binaryOutputs'>,
  outputs: Array<[string, Tensor]>,
): { body: Buffer; headerLength?: number } {
  const parts: string[] = [];
  const binary: Buffer[] = [];
  for (const [name, t] of outputs) {
    const head = `"name":${JSON.stringify(name)},"datatype":${JSON.stringify(v2Datatype(t.type))},"shape":${JSON.stringify(t.dims)}`;
    if (req.binaryOutputs.has(name) || req.binaryOutputs.has('*')) {
      const bytes = binaryData(t);
      binary.push(bytes);
      parts.push(`{${head},"parameters":{"binary_data_size":${bytes.length}}}`);
    } else parts.push(`{${head},"data":${jsonData(t)}}`);
  }
  const json = `{"model_name":${JSON.stringify(model.name)},"model_version":${JSON.stringify(model.version)}${req.id !== undefined ? `,"id":${JSON.stringify(req.id)}` : ''},"outputs":[${parts.join(',')}]}`;
  const header = Buffer.from(json, 'utf8');
  if (binary.length === 0) return { body: header };
  return { body: Buffer.concat([header, ...binary]), headerLength: header.length };
}
