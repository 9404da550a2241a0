import { ModelctlError } from '../errors.js';
import type { JsonTensor } from '../tasks/tensors.js';

/** NumPy's .npy files, as `--file x.npy` gives them: one tensor for a model's first input. */

const NPY_TYPES: Record<string, [string, number]> = {
  f4: ['float32', 4],
  f8: ['float64', 8],
  i1: ['int8', 1],
  u1: ['uint8', 1],
  i2: ['int16', 2],
  u2: ['uint16', 2],
  i4: ['int32', 4],
  u4: ['uint32', 4],
  i8: ['int64', 8],
  u8: ['uint64', 8],
  b1: ['bool', 1],
};

/** A NumPy .npy file (format 1.0-3.0, C order, little-endian or single-byte types) as a JSON tensor. */
export function parseNpy(bytes: Uint8Array, name = 'input'): JsonTensor {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY')
    throw new ModelctlError('INVALID_INPUT', `${name} is not a .npy file`);
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
  const dims = (shape[1] as string)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const [type, size] = spec;
  const count = dims.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  if (buf.length < offset + count * size) throw new ModelctlError('INVALID_INPUT', `${name}: the .npy data is truncated`);
  const data: Array<number | boolean> = [];
  for (let i = 0; i < count; i++) {
    const at = offset + i * size;
    switch (type) {
      case 'float32':
        data.push(buf.readFloatLE(at));
        break;
      case 'float64':
        data.push(buf.readDoubleLE(at));
        break;
      case 'int8':
        data.push(buf.readInt8(at));
        break;
      case 'uint8':
        data.push(buf.readUInt8(at));
        break;
      case 'int16':
        data.push(buf.readInt16LE(at));
        break;
      case 'uint16':
        data.push(buf.readUInt16LE(at));
        break;
      case 'int32':
        data.push(buf.readInt32LE(at));
        break;
      case 'uint32':
        data.push(buf.readUInt32LE(at));
        break;
      case 'int64':
        data.push(Number(buf.readBigInt64LE(at)));
        break;
      case 'uint64':
        data.push(Number(buf.readBigUInt64LE(at)));
        break;
      default:
        data.push(buf[at] !== 0);
    }
  }
  return { dims, type, data };
}
