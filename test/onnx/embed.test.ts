import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, linkSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelctlError } from '../../src/errors.js';
import { embedOnnxFile, writeWithMetadata, type EmbedResult } from '../../src/onnx/embed.js';
import { decodeHfMetadata, encodeHfMetadata, type HfMetadata } from '../../src/onnx/metadata.js';
import { readOnnxSummary } from '../../src/onnx/summary.js';
import { FIXTURES, tempDir } from '../helpers.js';
import { DataType, decodeModel, encodeInOrder, entriesOf, node, onnx, tensor, valueInfo, type Proto } from './build.js';

const clock = () => new Date('2024-05-01T12:00:00.000Z');
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const read = (path: string) => new Uint8Array(readFileSync(path));

interface Expected {
  fixtures: Record<
    string,
    { format: string; entry: string; files: Array<{ path: string; sha256: string }>; facts: { metadata_props: Record<string, string> } }
  >;
}
const EXPECTED = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as Expected;
const ONNX_FIXTURES = Object.entries(EXPECTED.fixtures).filter(([name]) =>
  ['onnx-handbuilt', 'iris-logreg', 'onnx-external'].includes(name),
);

interface Top {
  field: number;
  start: number;
  end: number;
  payload: Uint8Array;
  key?: string;
  value?: string;
}

/** The fields of one protobuf message, parsed here independently of the code under test. */
function fieldsOf(bytes: Uint8Array): Top[] {
  let i = 0;
  const varint = () => {
    let v = 0;
    for (let scale = 1; ; scale *= 128) {
      const b = bytes[i++] as number;
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
    }
  };
  const out: Top[] = [];
  while (i < bytes.length) {
    const start = i;
    const tag = varint();
    const [field, wire] = [Math.floor(tag / 8), tag % 8];
    let from = i;
    if (wire === 0) varint();
    else if (wire === 2) {
      const n = varint();
      from = i;
      i += n;
    } else i += wire === 1 ? 8 : 4;
    out.push({ field, start, end: i, payload: bytes.subarray(from, i) });
  }
  expect(i, 'fields end exactly at the end of the message').toBe(bytes.length);
  return out;
}

/** Top-level fields; metadata entries (field 14) with their key and value. */
function topFields(bytes: Uint8Array): Top[] {
  return fieldsOf(bytes).map((f) => {
    if (f.field !== 14) return f;
    const text = (n: number) => Buffer.from(fieldsOf(f.payload).find((e) => e.field === n)?.payload ?? []).toString('utf8');
    return { ...f, key: text(1), value: text(2) };
  });
}

function bytesOf(bytes: Uint8Array, range: { start: number; end: number }): Uint8Array {
  return bytes.subarray(range.start, range.end);
}

/** Asserts the output is the input minus the removed entries, followed by exactly `props` as new entries. */
function expectOnlyMetadataChanged(
  input: Uint8Array,
  output: Uint8Array,
  res: EmbedResult,
  props: Record<string, string>,
  removed: (key: string) => boolean,
): void {
  const kept = topFields(input).filter((f) => !(f.field === 14 && f.key !== undefined && removed(f.key)));
  const keptBytes = Buffer.concat(kept.map((f) => bytesOf(input, f)));
  const appended = encodeInOrder({ metadataProps: entriesOf(props) });
  expect(output.length).toBe(keptBytes.length + appended.length);
  expect(res.bytes).toBe(output.length);
  expect(Buffer.from(output.subarray(0, keptBytes.length)).equals(keptBytes)).toBe(true);
  expect(Buffer.from(output.subarray(keptBytes.length)).equals(Buffer.from(appended))).toBe(true);
  const inGraph = topFields(input).find((f) => f.field === 7);
  const outGraph = topFields(output).find((f) => f.field === 7);
  expect(res.graphRange).toEqual({ start: inGraph?.start, end: inGraph?.end });
  expect(res.outputGraphRange).toEqual({ start: outGraph?.start, end: outGraph?.end });
  expect(Buffer.from(bytesOf(output, res.outputGraphRange)).equals(Buffer.from(bytesOf(input, res.graphRange)))).toBe(true);
  // A whole-message decoder (onnx-proto) agrees: the same model, with the kept entries and then the new ones.
  const [was, now] = [decodeModel(input), decodeModel(output)];
  const keptEntries = was.metadataProps.filter((e) => !removed(e.key ?? '')).map(({ key, value }) => ({ key, value }));
  expect(now.metadataProps.map(({ key, value }) => ({ key, value }))).toEqual([...keptEntries, ...entriesOf(props)]);
  const withoutMetadata = (m: Proto.ModelProto) => Buffer.from(onnx.ModelProto.encode({ ...m, metadataProps: [] }).finish());
  expect(withoutMetadata(now).equals(withoutMetadata(was))).toBe(true);
}

const META: HfMetadata = {
  task: 'text-classification',
  modelConfig: { architectures: ['BertForSequenceClassification'], id2label: { 0: 'NEG', 1: 'POS' }, note: 'ünïcødé 🤗' },
  processorConfig: {
    'tokenizer_config.json': { model_max_length: 512 },
    'tokenizer.json': { vocab: Array.from({ length: 3000 }, (_, i) => `w${i}`) },
  },
};

async function expectCode(promise: Promise<unknown>, code: string, message?: RegExp): Promise<ModelctlError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ModelctlError);
  expect((err as ModelctlError).code).toBe(code);
  if (message) expect((err as ModelctlError).message).toMatch(message);
  return err as ModelctlError;
}

const leftovers = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.tmp'));

describe('embedding metadata into an ONNX file at the wire level', () => {
  it('changes only the metadata of every ONNX fixture, and reads back what it wrote', async () => {
    expect(ONNX_FIXTURES.map(([, e]) => e.format)).toEqual(['onnx', 'onnx', 'onnx']);
    for (const [name, e] of ONNX_FIXTURES) {
      const input = join(FIXTURES, name, e.entry);
      const before = read(input);
      const out = join(tempDir(), 'out.onnx');
      const res = await embedOnnxFile(input, out, META, { clock, set: { license: 'mit', hf_source: 'hub' } });
      const output = read(out);
      expect(res.keptKeys, name).toEqual(Object.keys(e.facts.metadata_props));
      expect(res.removedKeys, name).toEqual([]);
      expect(res.writtenKeys, name).toEqual(Object.keys(res.props));
      expect(Object.keys(res.props).at(-1)).toBe('license');
      expectOnlyMetadataChanged(before, output, res, res.props, (k) => k.startsWith('hf_'));
      expect(res.props.hf_processor_config?.startsWith('gzip+base64:'), 'the large tokenizer is compressed').toBe(true);

      const [was, now] = [await readOnnxSummary(input), await readOnnxSummary(out)];
      expect(now.metadataProps).toEqual({ ...e.facts.metadata_props, ...res.props });
      expect({ ...now, metadataProps: {} }).toEqual({ ...was, metadataProps: {} });
      const decoded = decodeHfMetadata(now.metadataProps);
      expect(decoded).toMatchObject({ ...META, exportTimestamp: clock().toISOString(), extra: { hf_source: 'hub' } });
      expect(decoded?.checksum.ok).toBe(true);
      // The input is never touched: it still has the bytes the fixture was published with.
      expect(sha256(read(input)), name).toBe(e.files.find((f) => f.path === e.entry)?.sha256);
    }
  });

  it('replaces old hf_* entries and keeps the others in place when embedding again', async () => {
    const dir = tempDir();
    const original = join(FIXTURES, 'onnx-handbuilt', 'model.onnx');
    const first = await embedOnnxFile(
      original,
      join(dir, 'a.onnx'),
      { task: 'fill-mask', extra: { hf_old: 'gone' } },
      { clock, set: { license: 'mit' } },
    );
    const a = read(join(dir, 'a.onnx'));
    const second = await embedOnnxFile(join(dir, 'a.onnx'), join(dir, 'b.onnx'), META, { clock, set: { license: 'apache-2.0' } });
    const b = read(join(dir, 'b.onnx'));
    expect(second.removedKeys).toEqual([...Object.keys(first.props)]);
    expect(second.keptKeys).toEqual(['author', 'purpose']);
    expectOnlyMetadataChanged(a, b, second, second.props, (k) => k.startsWith('hf_') || k === 'license');
    const input = read(original);
    expect(Buffer.from(bytesOf(b, second.outputGraphRange)).equals(Buffer.from(bytesOf(input, first.graphRange)))).toBe(true);
    // The untouched entries sit at the very bytes they had in the original.
    expect(Buffer.from(b.subarray(0, 686)).equals(Buffer.from(input))).toBe(true);
    const props = (await readOnnxSummary(join(dir, 'b.onnx'))).metadataProps;
    expect(props).toEqual({ author: 'modelctl fixtures', purpose: 'metadata test', ...second.props });
    expect(props.hf_old).toBeUndefined();
    expect(props.license).toBe('apache-2.0');

    // The same metadata embedded again gives the same bytes: nothing accumulates.
    await embedOnnxFile(join(dir, 'b.onnx'), join(dir, 'c.onnx'), META, { clock, set: { license: 'apache-2.0' } });
    expect(sha256(read(join(dir, 'c.onnx')))).toBe(sha256(b));
    expect(leftovers(dir)).toEqual([]);
  });

  it('handles metadata before and between other fields, replacing a plain key that props set', async () => {
    const graph: Proto.IGraphProto = {
      node: [node('MatMul', ['x', 'W'], ['y'])],
      name: 'g',
      initializer: [tensor('W', DataType.FLOAT, [2, 2], new Uint8Array(16).fill(7))],
      input: [valueInfo('x', DataType.FLOAT, ['n', 2])],
      output: [valueInfo('y', DataType.FLOAT, ['n', 2])],
    };
    const entry = (key: string, value: string): Proto.IModelProto => ({ metadataProps: [{ key, value }] });
    // One part per top-level field, in this order (onnx-proto alone writes fields in field-number order).
    const parts: Proto.IModelProto[] = [
      entry('hf_metadata_version', '1.0'),
      { irVersion: 9 },
      entry('keep_me', 'yes'),
      entry('hf_task', 'old'),
      { producerName: 'hand' },
      { graph },
      entry('owner', 'old owner'),
      { opsetImport: [{ domain: '', version: 19 }] },
      entry('hf_tail', 'x'),
      entry('zz_last', 'kept'),
    ];
    const dir = tempDir();
    const inputPath = join(dir, 'in.onnx');
    const input = encodeInOrder(...parts);
    writeFileSync(inputPath, input);
    const props = { ...encodeHfMetadata({ task: 'image-classification' }, { clock }), owner: 'new owner' };
    const res = await writeWithMetadata(inputPath, join(dir, 'out.onnx'), props);
    expect(res.removedKeys).toEqual(['hf_metadata_version', 'hf_task', 'owner', 'hf_tail']);
    expect(res.keptKeys).toEqual(['keep_me', 'zz_last']);
    const output = read(join(dir, 'out.onnx'));
    const kept = parts.filter((p) => !p.metadataProps || ['keep_me', 'zz_last'].includes(p.metadataProps[0]!.key!));
    const expected = encodeInOrder(...kept, { metadataProps: entriesOf(props) });
    expect(Buffer.from(output).equals(Buffer.from(expected))).toBe(true);
    expectOnlyMetadataChanged(input, output, res, props, (k) => k.startsWith('hf_') || k === 'owner');
    expect(res.outputGraphRange.start).toBeLessThan(res.graphRange.start);
    expect(decodeHfMetadata((await readOnnxSummary(join(dir, 'out.onnx'))).metadataProps)?.task).toBe('image-classification');
    expect(Buffer.from(read(inputPath)).equals(Buffer.from(input))).toBe(true);
  });

  it('replaces a file in place through a new file, never writing the input bytes', async () => {
    const dir = tempDir();
    const path = join(dir, 'model.onnx');
    copyFileSync(join(FIXTURES, 'iris-logreg', 'model.onnx'), path);
    chmodSync(path, 0o444);
    linkSync(path, join(dir, 'old-link.onnx'));
    const before = read(path);
    const res = await embedOnnxFile(
      path,
      path,
      { task: 'tabular-classification', featureConfig: { feature_names: ['a', 'b', 'c', 'd'], n_features: 4 } },
      { clock },
    );
    expect(sha256(read(join(dir, 'old-link.onnx'))), 'the original inode is unchanged').toBe(sha256(before));
    expectOnlyMetadataChanged(before, read(path), res, res.props, (k) => k.startsWith('hf_'));
    expect(statSync(path).mode & 0o777).toBe(0o444);
    expect(statSync(path).ino).not.toBe(statSync(join(dir, 'old-link.onnx')).ino);
    expect(decodeHfMetadata((await readOnnxSummary(path)).metadataProps)?.featureConfig).toEqual({
      feature_names: ['a', 'b', 'c', 'd'],
      n_features: 4,
    });
    expect(leftovers(dir)).toEqual([]);
  });

  it('streams a large file whose metadata comes first, reports progress, and stops cleanly when aborted', async () => {
    const dir = tempDir();
    const inputPath = join(dir, 'big.onnx');
    const raw = Buffer.alloc(65 * 1024 * 1024);
    for (let i = 0; i < raw.length; i += 4096) raw[i] = (i / 4096) % 251;
    const input = encodeInOrder(
      { metadataProps: entriesOf({ hf_pipeline_task: 'old' }) },
      {
        irVersion: 8,
        graph: {
          name: 'big',
          initializer: [tensor('W', DataType.UINT8, [raw.length], raw)],
          input: [valueInfo('x', DataType.FLOAT, [4])],
          output: [valueInfo('y', DataType.FLOAT, [4])],
        },
        opsetImport: [{ domain: '', version: 17 }],
        metadataProps: entriesOf({ author: 'me' }),
      },
    );
    writeFileSync(inputPath, input);
    expect((await readOnnxSummary(inputPath)).parameterCount).toBe(raw.length);

    const seen: Array<[number, number]> = [];
    const res = await embedOnnxFile(
      inputPath,
      join(dir, 'out.onnx'),
      { task: 'feature-extraction' },
      { clock, onProgress: (n, t) => seen.push([n, t]) },
    );
    const output = read(join(dir, 'out.onnx'));
    expectOnlyMetadataChanged(input, output, res, res.props, (k) => k.startsWith('hf_'));
    expect(res.removedKeys).toEqual(['hf_pipeline_task']);
    expect(seen.length).toBeGreaterThan(5);
    expect(seen.every(([, t]) => t === res.bytes)).toBe(true);
    expect(seen.map(([n]) => n)).toEqual([...seen.map(([n]) => n)].sort((x, y) => x - y));
    expect(seen.at(-1)).toEqual([res.bytes, res.bytes]);

    const controller = new AbortController();
    const aborted = embedOnnxFile(
      inputPath,
      join(dir, 'aborted.onnx'),
      { task: 'x' },
      { clock, signal: controller.signal, onProgress: () => controller.abort() },
    );
    await expectCode(aborted, 'INTERRUPTED', /interrupted/);
    expect(readdirSync(dir).sort()).toEqual(['big.onnx', 'out.onnx']);
  });

  it('refuses bad input with one-line errors and leaves nothing behind', async () => {
    const dir = tempDir();
    const good = join(FIXTURES, 'onnx-handbuilt', 'model.onnx');
    const truncated = join(dir, 'truncated.onnx');
    writeFileSync(truncated, read(good).subarray(0, 300));
    await expectCode(
      embedOnnxFile(truncated, join(dir, 'o.onnx'), META, { clock }),
      'CORRUPT_MODEL',
      /truncated\.onnx is not a valid ONNX model/,
    );
    await expectCode(embedOnnxFile(join(dir, 'missing.onnx'), join(dir, 'o.onnx'), META), 'PATH_NOT_FOUND');
    await expectCode(embedOnnxFile(good, join(dir, 'no-such-folder', 'o.onnx'), META), 'PATH_NOT_FOUND');
    await expectCode(embedOnnxFile(good, join(dir, 'o.onnx'), META, { signal: AbortSignal.abort() }), 'INTERRUPTED');
    await expectCode(
      embedOnnxFile(good, join(dir, 'o.onnx'), META, { set: { hf_checksum: 'sha256:0' } }),
      'INVALID_INPUT',
      /computes this key/,
    );
    await expectCode(writeWithMetadata(good, join(dir, 'o.onnx'), { 'hf_x\ud800': 'v' }), 'INVALID_INPUT', /lone surrogate/);
    await expectCode(writeWithMetadata(good, join(dir, 'o.onnx'), { '': 'v' }), 'INVALID_INPUT', /empty key/);
    expect(readdirSync(dir)).toEqual(['truncated.onnx']);
  });

  it('detects a stored value edited in the written file', async () => {
    const dir = tempDir();
    const out = join(dir, 'out.onnx');
    await embedOnnxFile(join(FIXTURES, 'onnx-handbuilt', 'model.onnx'), out, { task: 'text-classification' }, { clock });
    const bytes = Buffer.from(readFileSync(out));
    const at = bytes.indexOf('text-classification');
    bytes.write('T', at); // same length: still a well-formed file
    writeFileSync(out, bytes);
    const props = (await readOnnxSummary(out)).metadataProps;
    expect(props.hf_pipeline_task).toBe('Text-classification');
    expect(() => decodeHfMetadata(props)).toThrow(/modified after it was written/);
  });

  it('writes files that ONNX Runtime loads and runs exactly as before', async () => {
    const ort = await import('onnxruntime-node');
    const dir = tempDir();
    for (const [name, e] of ONNX_FIXTURES) {
      const out = join(dir, `${name}.onnx`);
      await embedOnnxFile(join(FIXTURES, name, e.entry), out, META, { clock });
      if (name === 'onnx-external') copyFileSync(join(FIXTURES, name, 'weights.bin'), join(dir, 'weights.bin'));
      const session = await ort.InferenceSession.create(out);
      expect(session.inputNames.length, name).toBeGreaterThan(0);
      await session.release();
    }
    const feeds = { input: new ort.Tensor('float32', Float32Array.from([5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3]), [2, 4]) };
    const run = async (path: string) => {
      const session = await ort.InferenceSession.create(path);
      const result = await session.run(feeds);
      await session.release();
      return Object.fromEntries(Object.entries(result).map(([k, t]) => [k, Array.from(t.data as ArrayLike<number | bigint>, String)]));
    };
    expect(await run(join(dir, 'iris-logreg.onnx'))).toEqual(await run(join(FIXTURES, 'iris-logreg', 'model.onnx')));
  });
});
