/**
 * Raw protobuf framing, kept only for bytes onnx-proto cannot produce: a field that onnx.proto does not define, and
 * the tag and length in front of a payload too large to hold in memory (the test then writes the file around it).
 * Well-formed models are built with ./build.ts.
 */

export function varint(value: number | bigint): Buffer {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return Buffer.from(out);
}

/** The tag and length of a length-delimited field whose `length` bytes of payload follow. */
export function lengthPrefix(field: number, length: number): Buffer {
  return Buffer.concat([varint(field * 8 + 2), varint(length)]);
}

/** A whole length-delimited field (bytes, string or message). */
export function lengthDelimited(field: number, payload: Uint8Array | string): Buffer {
  const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return Buffer.concat([lengthPrefix(field, bytes.length), bytes]);
}
