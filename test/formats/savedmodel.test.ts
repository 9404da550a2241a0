import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspectModel } from '../../src/formats/index.js';
import { readVariablesIndex } from '../../src/formats/tf-variables.js';
import { expectModelctlError, fixture, fixturePath, tempDir } from './helpers.js';

function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    out.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  return Buffer.from(out);
}

/** A LevelDB-format block without prefix sharing: one restart point, entries in key order. */
function block(entries: Array<[string, Buffer]>): Buffer {
  const parts = entries.flatMap(([k, v]) => [varint(0), varint(Buffer.byteLength(k)), varint(v.length), Buffer.from(k), v]);
  const tail = Buffer.alloc(8);
  tail.writeUInt32LE(1, 4);
  return Buffer.concat([...parts, tail]);
}

/** BundleEntryProto: float32 (1), shape, size, crc32c. */
function entry(shape: number[], crc: number): Buffer {
  const dims = Buffer.concat(
    shape.map((d) => Buffer.concat([Buffer.from([0x12]), varint(varint(d).length + 1), Buffer.from([0x08]), varint(d)])),
  );
  const crcBytes = Buffer.alloc(4);
  crcBytes.writeUInt32LE(crc);
  const size = shape.reduce((a, b) => a * b, 1) * 4;
  return Buffer.concat([
    Buffer.from([0x08, 0x01, 0x12]),
    varint(dims.length),
    dims,
    Buffer.from([0x28]),
    varint(size),
    Buffer.from([0x35]),
    crcBytes,
  ]);
}

/** A whole variables.index: data block, index block, empty metaindex, footer with TensorFlow's table magic. */
function variablesIndex(entries: Array<[string, Buffer]>): Buffer {
  const trailer = Buffer.alloc(5);
  const data = block(entries);
  const index = block([[entries.at(-1)![0], Buffer.concat([varint(0), varint(data.length)])]]);
  const meta = block([]);
  const indexAt = data.length + 5;
  const metaAt = indexAt + index.length + 5;
  const handles = Buffer.concat([varint(metaAt), varint(meta.length), varint(indexAt), varint(index.length)]);
  const footer = Buffer.concat([handles, Buffer.alloc(40 - handles.length), Buffer.from([0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb])]);
  return Buffer.concat([data, trailer, index, trailer, meta, trailer, footer]);
}

interface ExpectedSpec {
  dtype: string;
  shape: Array<number | null>;
}

describe('tf-savedmodel', () => {
  it('tags, TensorFlow version, signatures and variables match expected.json', async () => {
    const facts = fixture('tf-savedmodel').facts;
    const r = await inspectModel(fixturePath('tf-savedmodel'));
    expect(r.format).toBe('tf-savedmodel');
    expect(r.primary).toBe('saved_model.pb');
    expect(r.metadata.schemaVersion).toBe(facts.saved_model_schema_version);
    expect(r.metadata.metaGraphs).toBe(facts.meta_graph_count);
    expect(r.metadata.tags).toEqual(facts.tags);
    expect(r.metadata.tensorflowVersion).toBe(facts.tensorflow_version);
    expect(r.metadata.signatureNames).toEqual(facts.signature_def_keys);
    const signatures = r.metadata.signatures as Record<
      string,
      { inputs: Array<{ name: string } & ExpectedSpec>; outputs: Array<{ name: string } & ExpectedSpec> }
    >;
    for (const [name, sig] of Object.entries(
      facts.signatures as Record<string, { inputs: Record<string, ExpectedSpec>; outputs: Record<string, ExpectedSpec> }>,
    )) {
      const ours = signatures[name];
      expect(ours).toBeDefined();
      expect(Object.fromEntries(ours!.inputs.map((i) => [i.name, { dtype: i.dtype, shape: i.shape }]))).toEqual(sig.inputs);
      expect(Object.fromEntries(ours!.outputs.map((o) => [o.name, { dtype: o.dtype, shape: o.shape }]))).toEqual(sig.outputs);
    }
    const weights = Object.entries(facts.variables as Record<string, ExpectedSpec>).filter(([, v]) => v.dtype !== 'string');
    expect(r.metadata.variables).toBe(weights.length);
    expect(r.metadata.variableNames).toEqual(weights.map(([k]) => k).sort());
  });

  it('reads a variables.index table and merges only the twin lists Keras export() writes', async () => {
    const t = await tempDir();
    try {
      const path = join(t.dir, 'variables.index');
      await writeFile(
        path,
        variablesIndex([
          ['', Buffer.from([0x08, 0x01])],
          ['_CHECKPOINTABLE_OBJECT_GRAPH', Buffer.from([0x08, 0x07])],
          ['_all_variables/0/.ATTRIBUTES/VARIABLE_VALUE', entry([4, 5], 0xaaaa)],
          ['b1/.ATTRIBUTES/VARIABLE_VALUE', entry([5], 0)],
          ['b2/.ATTRIBUTES/VARIABLE_VALUE', entry([5], 0)],
          ['optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE', entry([], 1)],
          ['variables/0/.ATTRIBUTES/VARIABLE_VALUE', entry([4, 5], 0xaaaa)],
          ['variables/1/.ATTRIBUTES/VARIABLE_VALUE', entry([4, 5], 0xbbbb)],
        ]),
      );
      const summary = readVariablesIndex(path);
      // Two equal zero biases stay two variables; variables/0 repeats _all_variables/0; optimizer state is left out.
      expect(summary).toMatchObject({ variables: 4, duplicates: 1, parameters: 20 + 5 + 5 + 20, dtypes: { float32: 50 } });
      expect(summary.names).toEqual([
        '_all_variables/0/.ATTRIBUTES/VARIABLE_VALUE',
        'b1/.ATTRIBUTES/VARIABLE_VALUE',
        'b2/.ATTRIBUTES/VARIABLE_VALUE',
        'variables/1/.ATTRIBUTES/VARIABLE_VALUE',
      ]);
    } finally {
      await t.cleanup();
    }
  });

  it('saved_model.pb given as a file inspects its folder', async () => {
    const r = await inspectModel(fixturePath('tf-savedmodel', 'saved_model.pb'));
    expect(r.format).toBe('tf-savedmodel');
    expect(r.files.map((f) => f.path)).toEqual(fixture('tf-savedmodel').files.map((f) => f.path));
  });

  it('a damaged saved_model.pb is CORRUPT_MODEL; a damaged variables.index only loses the count', async () => {
    const t = await tempDir();
    try {
      await cp(fixturePath('tf-savedmodel'), t.dir, { recursive: true });
      await writeFile(join(t.dir, 'variables', 'variables.index'), Buffer.alloc(100, 1));
      const r = await inspectModel(t.dir);
      expect(r.parameters).toBeUndefined();
      expect(r.warnings.join()).toMatch(/variables\.index could not be read \(bad table magic number\)/);
      await writeFile(join(t.dir, 'saved_model.pb'), Buffer.from([0x12, 0x50, 0x0a, 0x01]));
      await expectModelctlError(inspectModel(t.dir), 'CORRUPT_MODEL', /not a valid SavedModel protobuf/);
    } finally {
      await t.cleanup();
    }
  });
});
