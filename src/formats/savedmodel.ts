import { WIRE_LEN, WIRE_VARINT, WireError, WireReader } from '../onnx/wire.js';
import { corrupt, withSource } from './io.js';

/**
 * TensorFlow SavedModel: saved_model.pb read at the wire level for its tags, TensorFlow version and serving
 * signatures; graph_def (field 2 of MetaGraphDef, where constants can be large) is skipped by length.
 * Field numbers from tensorflow/core/protobuf/{saved_model,meta_graph}.proto.
 */

const TF_DTYPES: Record<number, string> = {
  1: 'float32',
  2: 'float64',
  3: 'int32',
  4: 'uint8',
  5: 'int16',
  6: 'int8',
  7: 'string',
  8: 'complex64',
  9: 'int64',
  10: 'bool',
  14: 'bfloat16',
  17: 'uint16',
  18: 'complex128',
  19: 'float16',
  20: 'resource',
  21: 'variant',
  22: 'uint32',
  23: 'uint64',
};

export function tfDtypeName(code: number): string {
  return TF_DTYPES[code] ?? `tf_type${code}`;
}

export interface TensorSpec {
  name: string;
  tensor: string;
  dtype?: string;
  shape?: Array<number | null>;
}

export interface SignatureSummary {
  method?: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

export interface MetaGraphSummary {
  tags: string[];
  tensorflowVersion?: string;
  tensorflowGitVersion?: string;
  signatures: Record<string, SignatureSummary>;
}

export interface SavedModelSummary {
  schemaVersion: number;
  metaGraphs: MetaGraphSummary[];
}

const MAX_TEXT = 1024 * 1024;

/** TensorShapeProto: 2 dim {1 size}, 3 unknown_rank. Unknown sizes (-1) become null. */
export function readTfShape(r: WireReader): Array<number | null> | undefined {
  const dims: Array<number | null> = [];
  let unknownRank = false;
  while (!r.eof()) {
    const { field, wire } = r.tag();
    if (field === 2 && wire === WIRE_LEN) {
      const d = r.message();
      let size: number | null = null;
      while (!d.eof()) {
        const t = d.tag();
        if (t.field === 1 && t.wire === WIRE_VARINT) size = d.int64Number();
        else d.skip(t.wire);
      }
      dims.push(size !== null && size < 0 ? null : size);
    } else if (field === 3 && wire === WIRE_VARINT) unknownRank = r.varint() !== 0;
    else r.skip(wire);
  }
  return unknownRank ? undefined : dims;
}

/** TensorInfo: 1 name, 2 dtype, 3 tensor_shape. */
function readTensorInfo(r: WireReader, key: string): TensorSpec {
  const spec: TensorSpec = { name: key, tensor: '' };
  while (!r.eof()) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === WIRE_LEN) spec.tensor = r.string(MAX_TEXT);
    else if (field === 2 && wire === WIRE_VARINT) spec.dtype = tfDtypeName(r.varint());
    else if (field === 3 && wire === WIRE_LEN) {
      const shape = readTfShape(r.message());
      if (shape) spec.shape = shape;
    } else r.skip(wire);
  }
  return spec;
}

/** A map<string, M> entry: 1 key, 2 value; `read` decodes the value. */
function mapEntry<T>(r: WireReader, read: (value: WireReader, key: string) => T): [string, T | undefined] {
  let key = '';
  let valueSpan: WireReader | undefined;
  while (!r.eof()) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === WIRE_LEN) key = r.string(MAX_TEXT);
    else if (field === 2 && wire === WIRE_LEN) valueSpan = r.message();
    else r.skip(wire);
  }
  return [key, valueSpan ? read(valueSpan, key) : undefined];
}

/** SignatureDef: 1 inputs, 2 outputs (map<string, TensorInfo>), 3 method_name. */
function readSignature(r: WireReader): SignatureSummary {
  const sig: SignatureSummary = { inputs: [], outputs: [] };
  while (!r.eof()) {
    const { field, wire } = r.tag();
    if ((field === 1 || field === 2) && wire === WIRE_LEN) {
      const [, spec] = mapEntry(r.message(), readTensorInfo);
      if (spec) (field === 1 ? sig.inputs : sig.outputs).push(spec);
    } else if (field === 3 && wire === WIRE_LEN) sig.method = r.string(MAX_TEXT);
    else r.skip(wire);
  }
  sig.inputs.sort((a, b) => a.name.localeCompare(b.name));
  sig.outputs.sort((a, b) => a.name.localeCompare(b.name));
  return sig;
}

/** MetaGraphDef: 1 meta_info_def {4 tags, 5 tensorflow_version, 6 tensorflow_git_version}, 5 signature_def. */
function readMetaGraph(r: WireReader): MetaGraphSummary {
  const mg: MetaGraphSummary = { tags: [], signatures: {} };
  while (!r.eof()) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === WIRE_LEN) {
      const info = r.message();
      while (!info.eof()) {
        const t = info.tag();
        if (t.field === 4 && t.wire === WIRE_LEN) mg.tags.push(info.string(MAX_TEXT));
        else if (t.field === 5 && t.wire === WIRE_LEN) mg.tensorflowVersion = info.string(MAX_TEXT);
        else if (t.field === 6 && t.wire === WIRE_LEN) mg.tensorflowGitVersion = info.string(MAX_TEXT);
        else info.skip(t.wire);
      }
    } else if (field === 5 && wire === WIRE_LEN) {
      const [key, sig] = mapEntry(r.message(), readSignature);
      if (sig) mg.signatures[key] = sig;
    } else r.skip(wire);
  }
  return mg;
}

export function readSavedModel(abs: string, where: string): SavedModelSummary {
  return withSource(abs, (source) => {
    const out: SavedModelSummary = { schemaVersion: 0, metaGraphs: [] };
    try {
      const r = new WireReader(source);
      while (!r.eof()) {
        const { field, wire } = r.tag();
        if (field === 1 && wire === WIRE_VARINT) out.schemaVersion = r.int64Number();
        else if (field === 2 && wire === WIRE_LEN) out.metaGraphs.push(readMetaGraph(r.message()));
        else r.skip(wire);
      }
    } catch (err) {
      if (err instanceof WireError) throw corrupt(where, `not a valid SavedModel protobuf: ${err.message}`);
      throw err;
    }
    if (out.metaGraphs.length === 0) throw corrupt(where, 'SavedModel without any MetaGraphDef');
    return out;
  });
}
