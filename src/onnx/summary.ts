import { ModelctlError, fsError } from '../errors.js';
import { BufferSource, FileSource, WIRE_LEN, WIRE_VARINT, WireError, WireReader, type ByteSource } from './wire.js';

/**
 * The summary of an ONNX model read at the wire level: ModelProto's top-level facts, the graph's inputs and
 * outputs, and its initializers counted without touching their payloads. Field numbers from onnx/onnx.proto.
 */

export interface OnnxValueInfo {
  name: string;
  kind: 'tensor' | 'sparse_tensor' | 'sequence' | 'map' | 'optional' | 'unknown';
  /** Element type for tensors ("float32", "int64", ...). */
  dtype?: string;
  /** Dimensions: a number, a symbolic name, or null when unknown. Absent when the rank is unknown. */
  shape?: Array<number | string | null>;
}

export interface OnnxSummary {
  irVersion: number;
  opsetImports: Array<{ domain: string; version: number }>;
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: number;
  docString: string;
  graphName: string;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  nodeCount: number;
  initializerCount: number;
  parameterCount: number;
  /** Element count per dtype over all initializers. */
  parameterDtypes: Record<string, number>;
  /** Files that hold external tensor data, relative to the model file. */
  externalData: string[];
  metadataProps: Record<string, string>;
}

const DTYPES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  14: 'complex64',
  15: 'complex128',
  16: 'bfloat16',
  17: 'float8e4m3fn',
  18: 'float8e4m3fnuz',
  19: 'float8e5m2',
  20: 'float8e5m2fnuz',
  21: 'uint4',
  22: 'int4',
  23: 'float4e2m1',
  24: 'float8e8m0',
  25: 'uint2',
  26: 'int2',
};

export function onnxDtypeName(code: number): string {
  return DTYPES[code] ?? `type${code}`;
}

const MAX_STRING = 16 * 1024 * 1024;

function readStringEntry(r: WireReader): [string, string] {
  let key = '';
  let value = '';
  while (!r.eof()) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === WIRE_LEN) key = r.string(MAX_STRING);
    else if (field === 2 && wire === WIRE_LEN) value = r.string(MAX_STRING);
    else r.skip(wire);
  }
  return [key, value];
}

function readShape(r: WireReader): Array<number | string | null> {
  const dims: Array<number | string | null> = [];
  while (!r.eof()) {
    const { field, wire } = r.tag();
    if (field !== 1 || wire !== WIRE_LEN) {
      r.skip(wire);
      continue;
    }
    const d = r.message();
    let dim: number | string | null = null;
    while (!d.eof()) {
      const t = d.tag();
      if (t.field === 1 && t.wire === WIRE_VARINT) dim = d.int64Number();
      else if (t.field === 2 && t.wire === WIRE_LEN) dim = d.string(4096);
      else d.skip(t.wire);
    }
    dims.push(dim);
  }
  return dims;
}

/** TypeProto.Tensor and TypeProto.SparseTensor share their layout: 1 elem_type, 2 shape. */
function readTensorType(r: WireReader, info: OnnxValueInfo): void {
  while (!r.eof()) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === WIRE_VARINT) info.dtype = onnxDtypeName(r.varint());
    else if (field === 2 && wire === WIRE_LEN) info.shape = readShape(r.message());
    else r.skip(wire);
  }
}

const TYPE_KINDS: Record<number, OnnxValueInfo['kind']> = { 1: 'tensor', 4: 'sequence', 5: 'map', 8: 'sparse_tensor', 9: 'optional' };

function readValueInfo(r: WireReader): OnnxValueInfo {
  const info: OnnxValueInfo = { name: '', kind: 'unknown' };
  while (!r.eof()) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === WIRE_LEN) info.name = r.string(MAX_STRING);
    else if (field === 2 && wire === WIRE_LEN) {
      const t = r.message();
      while (!t.eof()) {
        const tt = t.tag();
        const kind = TYPE_KINDS[tt.field];
        if (kind && tt.wire === WIRE_LEN) {
          info.kind = kind;
          if (kind === 'tensor' || kind === 'sparse_tensor') readTensorType(t.message(), info);
          else t.skip(tt.wire);
        } else t.skip(tt.wire);
      }
    } else r.skip(wire);
  }
  return info;
}

interface InitializerInfo {
  name: string;
  elements: number;
  dtype: string;
  externalLocation?: string;
}

/** TensorProto without its payload: dims (1), data_type (2), name (8), external_data (13). */
function readInitializer(r: WireReader): InitializerInfo {
  const dims: number[] = [];
  let dtype = 0;
  let name = '';
  let location: string | undefined;
  while (!r.eof()) {
    const { field, wire } = r.tag();
    if (field === 1) r.packedInt64(wire, dims);
    else if (field === 2 && wire === WIRE_VARINT) dtype = r.varint();
    else if (field === 8 && wire === WIRE_LEN) name = r.string(MAX_STRING);
    else if (field === 13 && wire === WIRE_LEN) {
      const [key, value] = readStringEntry(r.message());
      if (key === 'location') location = value;
    } else r.skip(wire);
  }
  const elements = dims.reduce((a, b) => a * Math.max(b, 0), 1);
  return { name, elements, dtype: onnxDtypeName(dtype), ...(location !== undefined ? { externalLocation: location } : {}) };
}

/** A summary of a model that declares nothing: what a scan starts from (and what tests build on). */
export function emptySummary(): OnnxSummary {
  return {
    irVersion: 0,
    opsetImports: [],
    producerName: '',
    producerVersion: '',
    domain: '',
    modelVersion: 0,
    docString: '',
    graphName: '',
    inputs: [],
    outputs: [],
    nodeCount: 0,
    initializerCount: 0,
    parameterCount: 0,
    parameterDtypes: {},
    externalData: [],
    metadataProps: {},
  };
}

function readGraph(r: WireReader, s: OnnxSummary): void {
  const inputs: OnnxValueInfo[] = [];
  const initializerNames = new Set<string>();
  const external = new Set<string>();
  while (!r.eof()) {
    const { field, wire } = r.tag();
    if (wire !== WIRE_LEN) {
      r.skip(wire);
      continue;
    }
    switch (field) {
      case 1: // node: counted, never decoded (Constant nodes may carry large tensors)
        r.skip(wire);
        s.nodeCount++;
        break;
      case 2:
        s.graphName = r.string(MAX_STRING);
        break;
      case 5: {
        const init = readInitializer(r.message());
        s.initializerCount++;
        s.parameterCount += init.elements;
        s.parameterDtypes[init.dtype] = (s.parameterDtypes[init.dtype] ?? 0) + init.elements;
        initializerNames.add(init.name);
        if (init.externalLocation !== undefined) external.add(init.externalLocation);
        break;
      }
      case 11:
        inputs.push(readValueInfo(r.message()));
        break;
      case 12:
        s.outputs.push(readValueInfo(r.message()));
        break;
      default:
        r.skip(wire);
    }
  }
  // Before IR version 4 every initializer was also listed as a graph input; those are weights, not inputs.
  s.inputs = inputs.filter((i) => !initializerNames.has(i.name));
  s.externalData = [...external].sort();
}

function readModel(r: WireReader, withGraph = true): OnnxSummary {
  const s = emptySummary();
  let sawGraph = false;
  while (!r.eof()) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === WIRE_VARINT) s.irVersion = r.varint();
    else if (field === 2 && wire === WIRE_LEN) s.producerName = r.string(MAX_STRING);
    else if (field === 3 && wire === WIRE_LEN) s.producerVersion = r.string(MAX_STRING);
    else if (field === 4 && wire === WIRE_LEN) s.domain = r.string(MAX_STRING);
    else if (field === 5 && wire === WIRE_VARINT) s.modelVersion = r.int64Number();
    else if (field === 6 && wire === WIRE_LEN) s.docString = r.string(MAX_STRING).slice(0, 4096);
    else if (field === 7 && wire === WIRE_LEN) {
      if (withGraph) readGraph(r.message(), s);
      else r.skip(wire);
      sawGraph = true;
    } else if (field === 8 && wire === WIRE_LEN) {
      const o = r.message();
      const entry = { domain: '', version: 0 };
      while (!o.eof()) {
        const t = o.tag();
        if (t.field === 1 && t.wire === WIRE_LEN) entry.domain = o.string(4096);
        else if (t.field === 2 && t.wire === WIRE_VARINT) entry.version = o.int64Number();
        else o.skip(t.wire);
      }
      s.opsetImports.push(entry);
    } else if (field === 14 && wire === WIRE_LEN) {
      const [key, value] = readStringEntry(r.message());
      s.metadataProps[key] = value;
    } else r.skip(wire);
  }
  if (s.irVersion <= 0 || !sawGraph) {
    throw new WireError(s.irVersion <= 0 ? 'no ir_version field' : 'no graph', r.pos);
  }
  return s;
}

export function summarizeOnnxSource(source: ByteSource, where: string, withGraph = true): OnnxSummary {
  try {
    return readModel(new WireReader(source), withGraph);
  } catch (err) {
    if (err instanceof WireError) {
      throw new ModelctlError('CORRUPT_MODEL', `${where} is not a valid ONNX model: ${err.message}`, {
        hint: 'check that the file is complete (not truncated) and really an ONNX model',
      });
    }
    throw err;
  }
}

function readFile<T>(path: string, read: (source: FileSource) => T): T {
  let source: FileSource;
  try {
    source = new FileSource(path);
  } catch (err) {
    throw fsError(err, path);
  }
  try {
    return read(source);
  } catch (err) {
    throw (err as NodeJS.ErrnoException).code ? fsError(err, path) : err;
  } finally {
    source.close();
  }
}

/** Reads the summary of an ONNX file without loading its weights. */
export async function readOnnxSummary(path: string): Promise<OnnxSummary> {
  return readFile(path, (source) => summarizeOnnxSource(source, path));
}

/**
 * Only the top level: IR version, opsets, producer and metadata_props, with the graph skipped whole by its length
 * (inputs, outputs and counts are left empty). What a runtime reads before it loads a model.
 */
export async function readOnnxMetadata(path: string): Promise<OnnxSummary> {
  return readFile(path, (source) => summarizeOnnxSource(source, path, false));
}

export function readOnnxSummaryFromBuffer(bytes: Uint8Array, where = 'buffer'): OnnxSummary {
  return summarizeOnnxSource(new BufferSource(bytes), where);
}
