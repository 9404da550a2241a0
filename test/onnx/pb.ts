/** A tiny protobuf writer for building ONNX models by hand in tests (independent of the reader under test). */

export type Field = [number, 'varint', number | bigint] | [number, 'bytes', Uint8Array | string] | [number, 'msg', Field[]] | [number, 'fixed32', number];

export function varint(value: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}

export function encode(fields: Field[]): Uint8Array {
  const out: number[] = [];
  for (const [num, kind, value] of fields) {
    if (kind === 'varint') out.push(...varint(num * 8), ...varint(value));
    else if (kind === 'fixed32') {
      out.push(...varint(num * 8 + 5));
      const b = Buffer.alloc(4);
      b.writeUInt32LE(value);
      out.push(...b);
    } else {
      const bytes = kind === 'msg' ? encode(value) : typeof value === 'string' ? new TextEncoder().encode(value) : value;
      out.push(...varint(num * 8 + 2), ...varint(bytes.length), ...bytes);
    }
  }
  return Uint8Array.from(out);
}

const dim = (d: number | string): Field => [1, 'msg', [typeof d === 'number' ? [1, 'varint', d] : [2, 'bytes', d]]];

export function valueInfo(name: string, elemType: number, dims: Array<number | string>): Field[] {
  return [[1, 'bytes', name], [2, 'msg', [[1, 'msg', [[1, 'varint', elemType], [2, 'msg', dims.map(dim)]]]]]];
}

export function tensor(name: string, dataType: number, dims: number[], raw: Uint8Array, extra: Field[] = []): Field[] {
  return [...dims.map((d): Field => [1, 'varint', d]), [2, 'varint', dataType], [8, 'bytes', name], [9, 'bytes', raw], ...extra];
}
