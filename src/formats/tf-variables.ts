import { BufferSource, WIRE_FIXED32, WIRE_LEN, WIRE_VARINT, WireError, WireReader, type ByteSource } from '../onnx/wire.js';
import { addCount } from './context.js';
import { decodeUtf8, readAt, withSource } from './io.js';
import { readTfShape, tfDtypeName } from './savedmodel.js';

/**
 * A SavedModel's variables/variables.index: a LevelDB-format table (footer, index block, data blocks of
 * prefix-compressed keys) mapping each checkpoint key to a BundleEntryProto {1 dtype, 2 shape}. Reading it gives
 * every variable's dtype and shape, hence the parameter count, without opening the data shards. TensorFlow
 * writes this table uncompressed; a compressed block is reported rather than decoded.
 */

export class TableError extends Error {}

const FOOTER_SIZE = 48;
const MAGIC = [0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb];
const MAX_INDEX_FILE = 256 * 1024 * 1024;
const MAX_BLOCK = 64 * 1024 * 1024;

export interface VariablesSummary {
  variables: number;
  /** Entries that repeat another variable's content under a parallel key, not counted. */
  duplicates: number;
  parameters: number;
  dtypes: Record<string, number>;
  names: string[];
}

function varint(bytes: Uint8Array, at: { pos: number }): number {
  let result = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    const b = bytes[at.pos++];
    if (b === undefined) throw new TableError('truncated varint');
    result += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return result;
    scale *= 128;
  }
  throw new TableError('varint too long');
}

function readBlock(source: ByteSource, offset: number, size: number): Uint8Array {
  if (size > MAX_BLOCK || offset + size + 5 > source.size) throw new TableError(`block at ${offset} runs past the file`);
  const withTrailer = readAt(source, offset, size + 5);
  if (withTrailer[size] !== 0) throw new TableError(`compressed table block (type ${withTrailer[size]}) is not supported`);
  return withTrailer.subarray(0, size);
}

/** Every (key, value) of one block, keys rebuilt from their shared prefixes. */
function blockEntries(block: Uint8Array): Array<[Uint8Array, Uint8Array]> {
  if (block.length < 4) throw new TableError('block too short');
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  const restarts = view.getUint32(block.length - 4, true);
  const limit = block.length - 4 - 4 * restarts;
  if (limit < 0) throw new TableError('restart array larger than its block');
  const out: Array<[Uint8Array, Uint8Array]> = [];
  const at = { pos: 0 };
  let key = new Uint8Array(0);
  while (at.pos < limit) {
    const shared = varint(block, at);
    const unshared = varint(block, at);
    const valueLength = varint(block, at);
    if (shared > key.length || at.pos + unshared + valueLength > limit) throw new TableError('block entry out of bounds');
    const next = new Uint8Array(shared + unshared);
    next.set(key.subarray(0, shared));
    next.set(block.subarray(at.pos, at.pos + unshared), shared);
    key = next;
    at.pos += unshared;
    out.push([key, block.subarray(at.pos, at.pos + valueLength)]);
    at.pos += valueLength;
  }
  return out;
}

interface BundleEntry {
  dtype: string;
  numel: number;
  /** Shape, byte size and CRC: equal fingerprints mean equal content. */
  fingerprint: string;
}

/** BundleEntryProto: 1 dtype, 2 shape, 5 size, 6 crc32c (fixed32). */
function bundleEntry(value: Uint8Array): BundleEntry {
  const r = new WireReader(new BufferSource(value));
  let dtype = 0;
  let shape: Array<number | null> | undefined = [];
  let size = 0;
  let crc = '';
  while (!r.eof()) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === WIRE_VARINT) dtype = r.varint();
    else if (field === 2 && wire === WIRE_LEN) shape = readTfShape(r.message());
    else if (field === 5 && wire === WIRE_VARINT) size = r.varint();
    else if (field === 6 && wire === WIRE_FIXED32) {
      crc = Buffer.from(value.subarray(r.pos, r.pos + 4)).toString('hex');
      r.skip(wire);
    } else r.skip(wire);
  }
  const numel = shape ? shape.reduce<number>((a, d) => a * Math.max(d ?? 0, 0), 1) : 0;
  return { dtype: tfDtypeName(dtype), numel, fingerprint: `${dtype}|${shape?.join('x')}|${size}|${crc}` };
}

/** Checkpoint keys that are bookkeeping, not model weights. */
function isBookkeeping(key: string): boolean {
  return (
    key === '' ||
    key.startsWith('\0') ||
    key === '_CHECKPOINTABLE_OBJECT_GRAPH' ||
    key.startsWith('optimizer/') ||
    key.includes('/.OPTIMIZER_SLOT/') ||
    key.startsWith('save_counter/')
  );
}

export function readVariablesIndex(abs: string): VariablesSummary {
  return withSource(abs, (source) => {
    if (source.size < FOOTER_SIZE || source.size > MAX_INDEX_FILE) throw new TableError(`unexpected size ${source.size}`);
    const footer = readAt(source, source.size - FOOTER_SIZE, FOOTER_SIZE);
    if (!MAGIC.every((b, i) => footer[40 + i] === b)) throw new TableError('bad table magic number');
    const at = { pos: 0 };
    varint(footer, at);
    varint(footer, at); // metaindex handle: unused
    const indexOffset = varint(footer, at);
    const indexSize = varint(footer, at);
    const out: VariablesSummary = { variables: 0, duplicates: 0, parameters: 0, dtypes: {}, names: [] };
    const seen = new Set<string>();
    for (const [, handle] of blockEntries(readBlock(source, indexOffset, indexSize))) {
      const h = { pos: 0 };
      const offset = varint(handle, h);
      const size = varint(handle, h);
      for (const [rawKey, value] of blockEntries(readBlock(source, offset, size))) {
        const key = decodeUtf8(rawKey);
        if (isBookkeeping(key)) continue;
        let entry;
        try {
          entry = bundleEntry(value);
        } catch (err) {
          if (err instanceof WireError) throw new TableError(`entry ${key}: ${err.message}`);
          throw err;
        }
        if (entry.dtype === 'string' || entry.dtype === 'resource' || entry.dtype === 'variant') continue;
        // Keras' model.export() tracks every weight twice, as "variables/N/..." and "_all_variables/N/...", both
        // lists in the same order: the same N with identical content is one variable stored twice. Only these two
        // lists are paired, so distinct variables that merely look alike (two zero biases) are never merged.
        const parallel = /^(variables|_all_variables)\/(\d+\/.*)$/.exec(key);
        if (parallel) {
          const twin = `${parallel[2]}|${entry.fingerprint}`;
          if (seen.has(twin)) {
            out.duplicates++;
            continue;
          }
          seen.add(twin);
        }
        out.variables++;
        out.parameters += entry.numel;
        addCount(out.dtypes, entry.dtype, entry.numel);
        if (out.names.length < 100) out.names.push(key);
      }
    }
    return out;
  });
}
