/**
 * Builds ONNX models for tests with onnx-proto (protobufjs code generated from ONNX 1.10.2's onnx.proto): real
 * ModelProto messages, encoded by a protobuf library that shares no code with src/onnx's wire-level reader.
 * protobufjs writes repeated numbers packed (dims: one length-delimited field), while the fixtures, written by
 * Python's onnx, have them unpacked: together they cover both encodings the reader must accept.
 */
import onnxProto from 'onnx-proto';
// Types by name, values through the default import: Node sees the package as CommonJS without named exports.
import type { onnx as Proto } from 'onnx-proto';

export const { onnx } = onnxProto;
export const DataType = onnx.TensorProto.DataType;

/**
 * Element types added after ONNX 1.10. onnx-proto's enum stops at BFLOAT16 (16), but data_type and elem_type are
 * plain int32 fields, so these codes encode like any other.
 */
export const NEWER_TYPES = {
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
  FLOAT8E8M0: 24,
  UINT2: 25,
  INT2: 26,
} as const;

export type Dim = number | string;

/** A tensor input or output; `dims` undefined leaves the rank unknown (no shape field at all). */
export function valueInfo(name: string, elemType: number, dims?: Dim[]): Proto.IValueInfoProto {
  const shape = dims && { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
  return { name, type: { tensorType: { elemType, ...(shape ? { shape } : {}) } } };
}

/** An initializer whose values are `raw` (little-endian, as ONNX stores raw_data). */
export function tensor(name: string, dataType: number, dims: number[], raw: ArrayBufferView): Proto.ITensorProto {
  return { name, dataType, dims, rawData: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength) };
}

/** An initializer stored in another file, as ONNX's external data format describes it (location is relative). */
export function externalTensor(
  name: string,
  dataType: number,
  dims: number[],
  at: { location: string; offset?: number; length?: number },
): Proto.ITensorProto {
  const entries = entriesOf({
    location: at.location,
    ...(at.offset !== undefined ? { offset: String(at.offset) } : {}),
    ...(at.length !== undefined ? { length: String(at.length) } : {}),
  });
  return { name, dataType, dims, dataLocation: onnx.TensorProto.DataLocation.EXTERNAL, externalData: entries };
}

export function node(opType: string, inputs: string[], outputs: string[], extra: Proto.INodeProto = {}): Proto.INodeProto {
  return { opType, input: inputs, output: outputs, ...extra };
}

/** metadata_props (or external_data) entries in the order of the record's keys. */
export function entriesOf(props: Record<string, string>): Proto.IStringStringEntryProto[] {
  return Object.entries(props).map(([key, value]) => ({ key, value }));
}

export interface ModelSpec extends Omit<Proto.IModelProto, 'metadataProps' | 'opsetImport'> {
  /** Opset per domain; the default is the default domain at 17. */
  opsets?: Record<string, number>;
  metadata?: Record<string, string>;
}

/** A ModelProto with the usual defaults (IR 8, opset 17) filled in. */
export function model(spec: ModelSpec): Proto.ModelProto {
  const { opsets = { '': 17 }, metadata, ...rest } = spec;
  return onnx.ModelProto.create({
    irVersion: 8,
    ...rest,
    opsetImport: Object.entries(opsets).map(([domain, version]) => ({ domain, version })),
    ...(metadata ? { metadataProps: entriesOf(metadata) } : {}),
  });
}

export function encodeModel(spec: ModelSpec): Uint8Array {
  return onnx.ModelProto.encode(model(spec)).finish();
}

/**
 * A model whose top-level fields appear in the order of `parts`: a protobuf parser merges concatenated messages
 * (repeated fields append, a scalar's last value wins), so parts encoded one by one and joined are one valid model.
 * Used where a test needs the fields out of field-number order, which is how protobufjs writes them.
 */
export function encodeInOrder(...parts: Proto.IModelProto[]): Uint8Array {
  return Buffer.concat(parts.map((p) => onnx.ModelProto.encode(p).finish()));
}

/** Decodes a whole model (weights included: tests only), to check what another writer produced. */
export function decodeModel(bytes: Uint8Array): Proto.ModelProto {
  return onnx.ModelProto.decode(bytes);
}

export type { Proto };
