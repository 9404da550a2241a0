import { randomBytes } from 'node:crypto';
import { chmod, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { fsyncDir, kernelCopy } from '../util/fs.js';
import { basename, dirname, join, resolve } from 'node:path';
import { ModelctlError, fsError } from '../errors.js';
import { applyHfSet, encodeHfMetadata, isHfKey, quote, type HfMetadata } from './metadata.js';
import { readOnnxSummary } from './summary.js';
import { FileSource, WIRE_LEN, WireError, WireReader, encodeVarint } from './wire.js';

/**
 * Writes a copy of an ONNX file whose only change is its top-level metadata_props (ModelProto field 14). The file
 * is never decoded: its top-level fields are located by their length prefixes and copied as byte ranges, so the
 * graph and its weights come out byte-identical, and the common layout (metadata after the graph) costs one
 * kernel-side copy plus a few kilobytes.
 */

export interface EmbedResult {
  output: string;
  bytes: number;
  removedKeys: string[];
  keptKeys: string[];
  writtenKeys: string[];
  /** Byte range of the graph field (field 7, from its tag to the end of its payload) in the input. */
  graphRange: { start: number; end: number };
  outputGraphRange: { start: number; end: number };
}

export interface WriteOptions {
  signal?: AbortSignal;
  onProgress?: (bytes: number, total: number) => void;
  /**
   * fsync before the rename (default true). A new file may skip it, as cp does: a crash then loses only the new
   * file. Replacing a file, or writing into the registry, must not.
   */
  durable?: boolean;
}

const FIELD_GRAPH = 7;
const FIELD_METADATA = 14;
const MAX_VALUE_BYTES = 16 * 1024 * 1024; // the summary reader's limit per string: more could not be read back
const CHUNK = 8 * 1024 * 1024;
/** Past this many bytes to rewrite after the first changed field, one streamed pass beats copy-then-append. */
const APPEND_LIMIT = 64 * 1024 * 1024;

/** A top-level field's byte range, tag included; metadata entries also carry their key. */
interface TopField {
  field: number;
  wire: number;
  start: number;
  end: number;
  key?: string;
}

function entryKey(r: WireReader): string {
  let key = '';
  while (!r.eof()) {
    const { field, wire } = r.tag();
    if (field === 1 && wire === WIRE_LEN) key = r.string(MAX_VALUE_BYTES);
    else r.skip(wire);
  }
  return key;
}

/** Values are skipped, never read: only keys decide what is replaced. */
function scanTopLevel(path: string): { fields: TopField[]; size: number } {
  const source = new FileSource(path);
  try {
    const r = new WireReader(source);
    const fields: TopField[] = [];
    while (!r.eof()) {
      const start = r.pos;
      const { field, wire } = r.tag();
      if (field === FIELD_METADATA && wire === WIRE_LEN) fields.push({ field, wire, start, key: entryKey(r.message()), end: r.pos });
      else {
        r.skip(wire);
        fields.push({ field, wire, start, end: r.pos });
      }
    }
    return { fields, size: source.size };
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
    throw new ModelctlError('CORRUPT_MODEL', `${path} is not a valid ONNX model: ${err.message}`, {
      hint: 'check that the file is complete (not truncated) and really an ONNX model',
    });
  } finally {
    source.close();
  }
}

/** One StringStringEntryProto as a top-level field 14: key (1) and value (2), both always present. */
function encodeEntry(key: string, value: string): Buffer {
  const k = Buffer.from(key, 'utf8');
  const v = Buffer.from(value, 'utf8');
  const body = Buffer.concat([Buffer.from([0x0a, ...encodeVarint(k.length)]), k, Buffer.from([0x12, ...encodeVarint(v.length)]), v]);
  return Buffer.concat([Buffer.from([(FIELD_METADATA << 3) | WIRE_LEN, ...encodeVarint(body.length)]), body]);
}

const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function checkProps(props: Record<string, string>): void {
  for (const [key, value] of Object.entries(props)) {
    const bad =
      key === ''
        ? 'an empty key'
        : typeof value !== 'string'
          ? `a value for ${quote(key)} that is not a string`
          : LONE_SURROGATE.test(key) || LONE_SURROGATE.test(value)
            ? `invalid Unicode (a lone surrogate) in ${quote(key)}`
            : Buffer.byteLength(value, 'utf8') > MAX_VALUE_BYTES
              ? `a value for ${quote(key)} over ${MAX_VALUE_BYTES} bytes`
              : undefined;
    if (bad)
      throw new ModelctlError('INVALID_INPUT', `cannot write metadata: ${bad}`, {
        hint: 'metadata keys and values are non-empty UTF-8 text',
      });
  }
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ModelctlError('INTERRUPTED', 'embedding the metadata was interrupted: the output was not written');
}

interface Plan {
  kept: Array<[number, number]>;
  firstChange: number;
  appended: Buffer;
  bytes: number;
  removedKeys: string[];
  keptKeys: string[];
  graphRange: { start: number; end: number };
  outputGraphRange: { start: number; end: number };
}

function plan(input: string, props: Record<string, string>): Plan {
  const { fields, size } = scanTopLevel(input);
  const replaced = (key: string) => isHfKey(key) || Object.hasOwn(props, key);
  const removed = fields.filter((f) => f.key !== undefined && replaced(f.key));
  const kept: Array<[number, number]> = [];
  let at = 0;
  for (const f of removed) {
    if (f.start > at) kept.push([at, f.start]);
    at = f.end;
  }
  if (size > at) kept.push([at, size]);
  const graph = fields.find((f) => f.field === FIELD_GRAPH && f.wire === WIRE_LEN);
  if (!graph)
    throw new ModelctlError('CORRUPT_MODEL', `${input} is not a valid ONNX model: no graph`, {
      hint: 'check that the file is an ONNX model',
    });
  const shift = removed.filter((f) => f.end <= graph.start).reduce((n, f) => n + f.end - f.start, 0);
  const appended = Buffer.concat(Object.entries(props).map(([k, v]) => encodeEntry(k, v)));
  const keptBytes = kept.reduce((n, [s, e]) => n + e - s, 0);
  const unique = (list: TopField[]) => [...new Set(list.map((f) => f.key as string))];
  return {
    kept,
    firstChange: removed[0]?.start ?? size,
    appended,
    bytes: keptBytes + appended.length,
    removedKeys: unique(removed),
    keptKeys: unique(fields.filter((f) => f.key !== undefined && !replaced(f.key))),
    graphRange: { start: graph.start, end: graph.end },
    outputGraphRange: { start: graph.start - shift, end: graph.end - shift },
  };
}

class Copier {
  written = 0;
  private readonly buf: Buffer;
  constructor(
    private readonly out: FileHandle,
    private readonly total: number,
    private readonly options: WriteOptions,
  ) {
    this.buf = Buffer.allocUnsafe(Math.max(1, Math.min(CHUNK, total)));
  }

  /** After a kernel-side copy of the first `n` bytes. */
  skipTo(n: number): void {
    this.written = n;
    this.options.onProgress?.(this.written, this.total);
  }

  async range(from: FileHandle, start: number, end: number): Promise<void> {
    for (let pos = start; pos < end; ) {
      checkAborted(this.options.signal);
      const want = Math.min(this.buf.length, end - pos);
      const { bytesRead } = await from.read(this.buf, 0, want, pos);
      if (bytesRead === 0)
        throw new ModelctlError('IO', 'the input file shrank while it was being copied', {
          hint: 'do not change the file during embed-metadata; try again',
        });
      await this.write(this.buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
  }

  async write(bytes: Uint8Array): Promise<void> {
    for (let off = 0; off < bytes.length; ) {
      const { bytesWritten } = await this.out.write(bytes, off, bytes.length - off, this.written);
      off += bytesWritten;
      this.written += bytesWritten;
    }
    this.options.onProgress?.(this.written, this.total);
  }
}

async function writeTemp(input: string, tmp: string, p: Plan, mode: number, options: WriteOptions): Promise<void> {
  const tail = p.kept.filter(([start]) => start >= p.firstChange);
  const tailBytes = tail.reduce((n, [s, e]) => n + e - s, 0);
  const inFh = await open(input, 'r');
  let out: FileHandle | undefined;
  try {
    let copier: Copier;
    if (tailBytes <= APPEND_LIMIT) {
      // copy_file_range or a reflink keeps the bulk (the graph) in the kernel; then only the tail is rewritten.
      await kernelCopy(input, tmp);
      await chmod(tmp, 0o600); // the input may be read-only (registry blobs are)
      out = await open(tmp, 'r+');
      await out.truncate(p.firstChange);
      copier = new Copier(out, p.bytes, options);
      copier.skipTo(p.firstChange);
      for (const [start, end] of tail) await copier.range(inFh, start, end);
    } else {
      out = await open(tmp, 'wx', 0o600);
      copier = new Copier(out, p.bytes, options);
      for (const [start, end] of p.kept) await copier.range(inFh, start, end);
    }
    await copier.write(p.appended);
    if (copier.written !== p.bytes)
      throw new ModelctlError('IO', 'the input file changed while it was being copied', { hint: 'try again' });
    await out.chmod(mode);
    if (options.durable !== false) await out.sync();
  } finally {
    await out?.close();
    await inFh.close();
  }
}

/**
 * Copies `input` to `output` with every hf_* metadata entry (and every entry whose key `props` sets) replaced by
 * `props`, appended at the end of the file. Atomic: a temporary file beside the output is fsynced and renamed, so
 * the output is either the old file or the complete new one, and the input is never written, even when it is the
 * output.
 */
export async function writeWithMetadata(
  input: string,
  output: string,
  props: Record<string, string>,
  options: WriteOptions = {},
): Promise<EmbedResult> {
  checkAborted(options.signal);
  checkProps(props);
  const before = await readOnnxSummary(input);
  let mode: number;
  try {
    mode = (await stat(input)).mode & 0o777;
  } catch (err) {
    throw fsError(err, input);
  }
  const p = plan(input, props);
  const dir = dirname(resolve(output));
  const tmp = join(dir, `.${basename(output)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeTemp(input, tmp, p, mode, options);
    checkAborted(options.signal);
    await verify(tmp, before.metadataProps, p, props);
    await rename(tmp, output);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err instanceof ModelctlError ? err : fsError(err, output, 'write');
  }
  if (options.durable !== false) fsyncDir(dir);
  return {
    output,
    bytes: p.bytes,
    removedKeys: p.removedKeys,
    keptKeys: p.keptKeys,
    writtenKeys: Object.keys(props),
    graphRange: p.graphRange,
    outputGraphRange: p.outputGraphRange,
  };
}

/** Reads the written copy back before it replaces anything: a wrong output must never land. */
async function verify(tmp: string, old: Record<string, string>, p: Plan, props: Record<string, string>): Promise<void> {
  const expected: Record<string, string> = {};
  for (const key of p.keptKeys) expected[key] = old[key] as string;
  Object.assign(expected, props);
  const got = (await readOnnxSummary(tmp)).metadataProps;
  const keys = Object.keys(expected);
  const same = keys.length === Object.keys(got).length && keys.every((k) => Object.hasOwn(got, k) && got[k] === expected[k]);
  if (!same) {
    throw new ModelctlError('IO', 'the written model did not read back with the metadata that was written', {
      hint: 'the disk or the input may have changed underneath; check them and try again',
    });
  }
}

/** Encodes schema 2.0 and writes it (plus any plain `set` props) into a copy of `input`. */
export async function embedOnnxFile(
  input: string,
  output: string,
  meta: HfMetadata,
  options: {
    clock?: () => Date;
    set?: Record<string, string>;
    signal?: AbortSignal;
    onProgress?: WriteOptions['onProgress'];
    durable?: boolean;
  } = {},
): Promise<EmbedResult & { props: Record<string, string> }> {
  const { meta: merged, plain } = applyHfSet(meta, options.set ?? {});
  const props = { ...encodeHfMetadata(merged, options.clock ? { clock: options.clock } : {}), ...plain };
  const { signal, onProgress } = options;
  const result = await writeWithMetadata(input, output, props, {
    ...(signal ? { signal } : {}),
    ...(onProgress ? { onProgress } : {}),
    ...(options.durable !== undefined ? { durable: options.durable } : {}),
  });
  return { ...result, props };
}
