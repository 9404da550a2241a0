import { BufferSource, WIRE_LEN, WireReader, encodeVarint } from './wire.js';

/**
 * skl2onnx and onnxmltools end classifiers with a ZipMap node by default: probabilities as a sequence of maps
 * keyed by class label. onnxruntime-node cannot return sequence or map values, so predict asks for the tensor
 * the ZipMap is fed (one row of class probabilities per input row, in the order of the ZipMap's labels) by
 * declaring it as one more graph output. The graph itself is not changed and nothing is written to disk.
 */

export interface ZipMapNode {
  /** The float tensor the ZipMap reads: [rows, classes]. */
  input: string;
  /** The sequence<map> it writes. */
  output: string;
  /** Its class labels (classlabels_strings or classlabels_int64s), the keys of the maps, in column order. */
  labels: Array<string | number>;
}

const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_OUTPUT = 12;
const NODE = { input: 1, output: 2, opType: 4, attribute: 5, domain: 7 } as const;
const ATTRIBUTE = { name: 1, ints: 8, strings: 9 } as const;
const ML_DOMAIN = 'ai.onnx.ml';
const FLOAT = 1;

interface Span {
  /** Where the field's tag starts, where its payload starts and ends. */
  tag: number;
  start: number;
  end: number;
}

/** The top-level graph field of a ModelProto, by position. */
function graphSpan(bytes: Uint8Array): Span | undefined {
  const r = new WireReader(new BufferSource(bytes));
  while (!r.eof()) {
    const tag = r.pos;
    const { field, wire } = r.tag();
    if (field === MODEL_GRAPH && wire === WIRE_LEN) {
      const length = r.length();
      return { tag, start: r.pos, end: r.pos + length };
    }
    r.skip(wire);
  }
  return undefined;
}

function readNode(r: WireReader): { opType: string; domain: string; inputs: string[]; outputs: string[]; labels: Array<string | number> } {
  const node = { opType: '', domain: '', inputs: [] as string[], outputs: [] as string[], labels: [] as Array<string | number> };
  while (!r.eof()) {
    const { field, wire } = r.tag();
    if (wire !== WIRE_LEN) r.skip(wire);
    else if (field === NODE.input) node.inputs.push(r.string());
    else if (field === NODE.output) node.outputs.push(r.string());
    else if (field === NODE.opType) node.opType = r.string();
    else if (field === NODE.domain) node.domain = r.string();
    else if (field === NODE.attribute) {
      const a = r.message();
      let name = '';
      const ints: number[] = [];
      const strings: string[] = [];
      while (!a.eof()) {
        const t = a.tag();
        if (t.field === ATTRIBUTE.name && t.wire === WIRE_LEN) name = a.string();
        else if (t.field === ATTRIBUTE.ints) a.packedInt64(t.wire, ints);
        else if (t.field === ATTRIBUTE.strings && t.wire === WIRE_LEN) strings.push(a.string());
        else a.skip(t.wire);
      }
      if (name === 'classlabels_strings') node.labels = strings;
      else if (name === 'classlabels_int64s') node.labels = ints;
    } else r.skip(wire);
  }
  return node;
}

/** The ZipMap nodes of a model's main graph. */
export function findZipMaps(bytes: Uint8Array): ZipMapNode[] {
  const span = graphSpan(bytes);
  if (!span) return [];
  const g = new WireReader(new BufferSource(bytes), span.start, span.end);
  const found: ZipMapNode[] = [];
  while (!g.eof()) {
    const { field, wire } = g.tag();
    if (field !== GRAPH_NODE || wire !== WIRE_LEN) {
      g.skip(wire);
      continue;
    }
    const node = readNode(g.message());
    if (node.opType === 'ZipMap' && node.domain === ML_DOMAIN && node.inputs[0] && node.outputs[0]) {
      found.push({ input: node.inputs[0], output: node.outputs[0], labels: node.labels });
    }
  }
  return found;
}

function lengthDelimited(field: number, body: Uint8Array): Uint8Array {
  return Uint8Array.from([(field << 3) | WIRE_LEN, ...encodeVarint(body.length), ...body]);
}

/**
 * The model with these float tensors declared as extra graph outputs (a ValueInfoProto each, appended to the
 * graph), so that a session can return them.
 */
export function withFloatOutputs(bytes: Uint8Array, names: string[]): Uint8Array {
  const span = graphSpan(bytes);
  if (!span || names.length === 0) return bytes;
  const tensorType = lengthDelimited(1, Uint8Array.from([0x08, FLOAT])); // TypeProto.tensor_type { elem_type }
  const extra = names.map((name) =>
    lengthDelimited(
      GRAPH_OUTPUT,
      Uint8Array.from([...lengthDelimited(1, new TextEncoder().encode(name)), ...lengthDelimited(2, tensorType)]),
    ),
  );
  const added = extra.reduce((n, e) => n + e.length, 0);
  const header = Uint8Array.from([(MODEL_GRAPH << 3) | WIRE_LEN, ...encodeVarint(span.end - span.start + added)]);
  const out = new Uint8Array(span.tag + header.length + (span.end - span.start) + added + (bytes.length - span.end));
  let at = 0;
  for (const part of [bytes.subarray(0, span.tag), header, bytes.subarray(span.start, span.end), ...extra, bytes.subarray(span.end)]) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
