import { addCount, singleFile, type FileContext } from './context.js';
import { MB, corrupt, decodeUtf8, isRecord, readAt, tryParseJson, withSource } from './io.js';
import type { Inspection } from './types.js';

/**
 * safetensors: an 8-byte little-endian header length, a JSON header naming every tensor's dtype, shape and byte
 * range, then the raw data. Only the header is read, and it is checked against the file before it is trusted.
 */

/** The format's own cap on header size; a larger length means a damaged or hostile file. */
const MAX_HEADER = 100 * MB;
const MAX_TENSOR_NAMES = 100;

const DTYPES: Record<string, { name: string; bits: number }> = {
  F64: { name: 'float64', bits: 64 },
  F32: { name: 'float32', bits: 32 },
  F16: { name: 'float16', bits: 16 },
  BF16: { name: 'bfloat16', bits: 16 },
  I64: { name: 'int64', bits: 64 },
  I32: { name: 'int32', bits: 32 },
  I16: { name: 'int16', bits: 16 },
  I8: { name: 'int8', bits: 8 },
  U64: { name: 'uint64', bits: 64 },
  U32: { name: 'uint32', bits: 32 },
  U16: { name: 'uint16', bits: 16 },
  U8: { name: 'uint8', bits: 8 },
  BOOL: { name: 'bool', bits: 8 },
  F8_E4M3: { name: 'float8e4m3fn', bits: 8 },
  F8_E5M2: { name: 'float8e5m2', bits: 8 },
  F8_E8M0: { name: 'float8e8m0', bits: 8 },
  F6_E2M3: { name: 'float6e2m3', bits: 6 },
  F6_E3M2: { name: 'float6e3m2', bits: 6 },
  F4: { name: 'float4e2m1', bits: 4 },
  C64: { name: 'complex64', bits: 64 },
};

export interface SafetensorsHeader {
  tensors: number;
  tensorNames: string[];
  parameters: number;
  dtypes: Record<string, number>;
  metadata?: Record<string, string>;
  headerBytes: number;
}

export function looksLikeSafetensors(head: Uint8Array, size: number): boolean {
  if (head.length < 10 || head[8] !== 0x7b) return false;
  const n = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
  return n >= 2n && n <= BigInt(size - 8);
}

/** Reads and validates the header of a safetensors file. Throws CORRUPT_MODEL naming what is wrong. */
export function readSafetensorsHeader(abs: string, where: string): SafetensorsHeader {
  return withSource(abs, (source) => {
    const size = source.size;
    if (size < 8) throw corrupt(where, `safetensors file of ${size} bytes is shorter than its 8-byte header length`);
    const lengthBytes = readAt(source, 0, 8);
    const declared = new DataView(lengthBytes.buffer, lengthBytes.byteOffset, 8).getBigUint64(0, true);
    if (declared > BigInt(size - 8)) {
      throw corrupt(where, `safetensors header length ${declared} is larger than the rest of the file (${size - 8} bytes)`);
    }
    const n = Number(declared);
    if (n > MAX_HEADER) throw corrupt(where, `safetensors header length ${n} exceeds the 100 MB the format allows`);
    const header = tryParseJson(decodeUtf8(readAt(source, 8, n)));
    if (!isRecord(header)) throw corrupt(where, 'safetensors header is not a JSON object');
    return summarize(header, where, size - 8 - n, n);
  });
}

function summarize(header: Record<string, unknown>, where: string, dataBytes: number, headerBytes: number): SafetensorsHeader {
  const out: SafetensorsHeader = { tensors: 0, tensorNames: [], parameters: 0, dtypes: {}, headerBytes };
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (isRecord(info)) out.metadata = Object.fromEntries(Object.entries(info).map(([k, v]) => [k, String(v)]));
      continue;
    }
    if (!isRecord(info) || typeof info.dtype !== 'string' || !Array.isArray(info.shape) || !Array.isArray(info.data_offsets)) {
      throw corrupt(where, `safetensors entry ${JSON.stringify(name)} lacks dtype, shape or data_offsets`);
    }
    const shape = info.shape as unknown[];
    if (!shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      throw corrupt(where, `safetensors entry ${JSON.stringify(name)} has an invalid shape`);
    }
    const [begin, end] = info.data_offsets as unknown[];
    if (
      !Number.isSafeInteger(begin) ||
      !Number.isSafeInteger(end) ||
      (begin as number) < 0 ||
      (end as number) < (begin as number) ||
      (end as number) > dataBytes
    ) {
      throw corrupt(where, `safetensors entry ${JSON.stringify(name)} points outside the data (file truncated?)`);
    }
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    const known = DTYPES[info.dtype];
    if (known && Math.ceil((numel * known.bits) / 8) !== (end as number) - (begin as number)) {
      throw corrupt(where, `safetensors entry ${JSON.stringify(name)}: ${numel} ${info.dtype} values do not fill bytes ${begin}..${end}`);
    }
    out.tensors++;
    out.parameters += numel;
    addCount(out.dtypes, known?.name ?? info.dtype.toLowerCase(), numel);
    if (out.tensorNames.length < MAX_TENSOR_NAMES) out.tensorNames.push(name);
  }
  return out;
}

export function inspectSafetensors(ctx: FileContext): Inspection {
  const h = readSafetensorsHeader(ctx.abs, ctx.display);
  return singleFile(ctx, 'safetensors', {
    metadata: {
      tensors: h.tensors,
      tensorNames: h.tensorNames,
      headerBytes: h.headerBytes,
      ...(h.metadata ? { metadata: h.metadata } : {}),
    },
    parameters: h.parameters,
    dtypes: h.dtypes,
  });
}
