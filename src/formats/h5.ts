import type { ByteSource } from '../onnx/wire.js';
import { decodeUtf8, readAt } from './io.js';

/**
 * Just enough HDF5 to read what Keras stores: root attributes (keras_version, backend, model_config) and the shape
 * and type of every dataset (the weights), so parameters are counted without reading any weight. It covers the
 * layout h5py writes by default ("earliest": superblock 0/1, version-1 object headers, symbol-table groups, strings
 * fixed or in the global heap). Newer layouts raise H5Unsupported and callers fall back to what they can say
 * without them. Every address is bounds-checked and every walk is capped, so a hostile file fails, never hangs.
 * Layouts from the HDF5 File Format Specification, version 3.
 */

export class H5Unsupported extends Error {}

export interface H5Dataset {
  path: string;
  shape: number[];
  dtype: string;
}

interface Message {
  type: number;
  data: Uint8Array;
}

/** Exposes [offset, offset + size) of a source as a source of its own (an HDF5 file stored inside a zip). */
export class SliceSource implements ByteSource {
  constructor(
    private readonly inner: ByteSource,
    private readonly offset: number,
    readonly size: number,
  ) {}
  readInto(target: Uint8Array, position: number, length: number): number {
    const n = Math.max(0, Math.min(length, this.size - position));
    return n === 0 ? 0 : this.inner.readInto(target.subarray(0, n), this.offset + position, n);
  }
  close(): void {}
}

const MAX_OBJECTS = 100_000;
const MAX_DEPTH = 32;
const MAX_READ = 64 * 1024 * 1024;

function uint(b: Uint8Array, at: number, n: number): number {
  if (at + n > b.length) throw new H5Unsupported('field past the end of its block');
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + (b[at + i] as number);
  return v;
}

const pad8 = (n: number): number => Math.ceil(n / 8) * 8;

export class H5File {
  private readonly o: number;
  private readonly l: number;
  private readonly rootHeader: number;
  private objects = 0;

  constructor(
    private readonly src: ByteSource,
    private readonly base = 0,
  ) {
    const sb = readAt(src, base, 128);
    const version = sb[8];
    if (version !== 0 && version !== 1) throw new H5Unsupported(`superblock version ${version}`);
    this.o = sb[13] as number;
    this.l = sb[14] as number;
    if (this.o !== 8 && this.o !== 4) throw new H5Unsupported(`offset size ${this.o}`);
    // Base, free-space, end-of-file and driver addresses, then the root group's symbol table entry.
    const entry = (version === 0 ? 24 : 28) + 4 * this.o;
    this.rootHeader = uint(sb, entry + this.o, this.o);
  }

  private read(address: number, length: number): Uint8Array {
    // Headers, heaps and tables are small; a huge length can only come from a damaged or hostile file.
    if (length > MAX_READ) throw new H5Unsupported(`a ${length}-byte structure is larger than modelctl reads`);
    if (address + length > this.src.size - this.base) throw new H5Unsupported(`address ${address} past the end of the file`);
    return readAt(this.src, this.base + address, length);
  }

  private messages(address: number): Message[] {
    if (++this.objects > MAX_OBJECTS) throw new H5Unsupported('too many objects');
    const prefix = this.read(address, 16);
    if (prefix[0] !== 1) throw new H5Unsupported(`object header version ${prefix[0]}`);
    let remaining = uint(prefix, 2, 2);
    const blocks: Array<[number, number]> = [[address + 16, uint(prefix, 8, 4)]];
    const out: Message[] = [];
    for (let b = 0; b < blocks.length && remaining > 0 && b < 64; b++) {
      const [start, size] = blocks[b] as [number, number];
      const block = this.read(start, size);
      for (let at = 0; at + 8 <= block.length && remaining > 0; remaining--) {
        const type = uint(block, at, 2);
        const length = uint(block, at + 2, 2);
        const data = block.subarray(at + 8, at + 8 + length);
        if (type === 0x10) blocks.push([uint(data, 0, this.o), uint(data, this.o, this.l)]);
        else out.push({ type, data });
        at += 8 + pad8(length);
      }
    }
    return out;
  }

  /** Child objects of a symbol-table group, by name: B-tree nodes lead to symbol table nodes, names live in the local heap. */
  private children(symbolTable: Uint8Array): Array<[string, number]> {
    const heap = this.read(uint(symbolTable, this.o, this.o), 8 + 2 * this.l + this.o);
    if (decodeUtf8(heap.subarray(0, 4)) !== 'HEAP') throw new H5Unsupported('bad local heap');
    const heapData = uint(heap, 8 + 2 * this.l, this.o);
    const heapSize = uint(heap, 8, this.l);
    const names = this.read(heapData, heapSize);
    const out: Array<[string, number]> = [];
    const visit = (node: number, depth: number): void => {
      if (depth > MAX_DEPTH || ++this.objects > MAX_OBJECTS) throw new H5Unsupported('group B-tree too deep or too large');
      const head = this.read(node, 8 + 2 * this.o);
      const sig = decodeUtf8(head.subarray(0, 4));
      if (sig === 'SNOD') {
        const count = uint(head, 6, 2);
        const entrySize = 2 * this.o + 24;
        const entries = this.read(node + 8, count * entrySize);
        for (let i = 0; i < count; i++) {
          const nameOffset = uint(entries, i * entrySize, this.o);
          const end = names.indexOf(0, nameOffset);
          out.push([decodeUtf8(names.subarray(nameOffset, end < 0 ? names.length : end)), uint(entries, i * entrySize + this.o, this.o)]);
        }
        return;
      }
      if (sig !== 'TREE' || head[4] !== 0) throw new H5Unsupported('bad group B-tree node');
      const used = uint(head, 6, 2);
      const body = this.read(node + 8 + 2 * this.o, used * (this.l + this.o) + this.l);
      for (let i = 0; i < used; i++) visit(uint(body, i * (this.l + this.o) + this.l, this.o), depth + 1);
    };
    visit(uint(symbolTable, 0, this.o), 0);
    return out;
  }

  private dtypeName(dt: Uint8Array): string {
    const cls = (dt[0] as number) & 0x0f;
    const size = uint(dt, 4, 4);
    if (cls === 1) return size === 2 ? 'float16' : size === 4 ? 'float32' : size === 8 ? 'float64' : `float${size * 8}`;
    if (cls === 0) return `${((dt[1] as number) & 0x08) !== 0 ? 'int' : 'uint'}${size * 8}`;
    if (cls === 3 || cls === 9) return 'string';
    if (cls === 4) return 'bitfield';
    return `h5class${cls}`;
  }

  private shape(ds: Uint8Array): number[] {
    const version = ds[0];
    const rank = ds[1] as number;
    if (version === 2 && ds[3] === 2) return [0]; // null dataspace: no elements
    const first = version === 1 ? 8 : 4;
    return Array.from({ length: rank }, (_, i) => uint(ds, first + i * this.l, this.l));
  }

  /** A scalar string attribute stored inline (fixed length) or in a global heap collection (h5py's str). */
  private attribute(data: Uint8Array): [string, string | undefined] {
    const version = data[0];
    const nameSize = uint(data, 2, 2);
    const dtSize = uint(data, 4, 2);
    const dsSize = uint(data, 6, 2);
    const nameAt = version === 3 ? 9 : 8;
    const size = (n: number): number => (version === 1 ? pad8(n) : n);
    const name = decodeUtf8(data.subarray(nameAt, nameAt + nameSize)).replace(/\0+$/, '');
    const dt = data.subarray(nameAt + size(nameSize), nameAt + size(nameSize) + dtSize);
    const valueAt = nameAt + size(nameSize) + size(dtSize) + size(dsSize);
    const cls = (dt[0] as number) & 0x0f;
    if (cls === 3) return [name, decodeUtf8(data.subarray(valueAt, valueAt + uint(dt, 4, 4))).replace(/\0+$/, '')];
    if (cls !== 9 || ((dt[1] as number) & 0x0f) !== 1) return [name, undefined];
    return [name, this.globalHeapObject(uint(data, valueAt + 4, this.o), uint(data, valueAt + 4 + this.o, 4))];
  }

  private globalHeapObject(collection: number, index: number): string | undefined {
    const head = this.read(collection, 8 + this.l);
    if (decodeUtf8(head.subarray(0, 4)) !== 'GCOL') throw new H5Unsupported('bad global heap collection');
    const heap = this.read(collection, uint(head, 8, this.l));
    for (let at = 8 + this.l; at + 8 + this.l <= heap.length; ) {
      const id = uint(heap, at, 2);
      const size = uint(heap, at + 8, this.l);
      if (id === 0) break;
      if (id === index) return decodeUtf8(heap.subarray(at + 8 + this.l, at + 8 + this.l + size));
      at += 8 + this.l + pad8(size);
    }
    return undefined;
  }

  /** The root group's string attributes. */
  rootAttributes(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const m of this.messages(this.rootHeader)) {
      if (m.type !== 0x0c) continue;
      const [name, value] = this.attribute(m.data);
      if (value !== undefined) out[name] = value;
    }
    return out;
  }

  /** Every dataset below the root, with its shape and element type; groups named in `skip` are not entered. */
  datasets(skip: (path: string) => boolean = () => false): H5Dataset[] {
    const out: H5Dataset[] = [];
    const walk = (header: number, path: string, depth: number): void => {
      if (depth > MAX_DEPTH) throw new H5Unsupported('groups nested too deep');
      const messages = this.messages(header);
      const table = messages.find((m) => m.type === 0x11);
      if (table) {
        for (const [name, child] of this.children(table.data)) {
          const childPath = path ? `${path}/${name}` : name;
          if (!skip(childPath)) walk(child, childPath, depth + 1);
        }
        return;
      }
      const space = messages.find((m) => m.type === 0x01);
      const type = messages.find((m) => m.type === 0x03);
      if (space && type) out.push({ path, shape: this.shape(space.data), dtype: this.dtypeName(type.data) });
    };
    walk(this.rootHeader, '', 0);
    return out;
  }
}
