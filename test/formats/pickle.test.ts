import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { inspectModel } from '../../src/formats/index.js';
import type { Inspection } from '../../src/formats/types.js';
import { expectModelctlError, fixture, fixturePath, pickleBytes, shortUnicode as u, tempDir } from './helpers.js';

async function inspectBytes(name: string, bytes: Uint8Array): Promise<Inspection> {
  const t = await tempDir();
  try {
    await writeFile(join(t.dir, name), bytes);
    return await inspectModel(join(t.dir, name));
  } finally {
    await t.cleanup();
  }
}

const STACK_GLOBAL = 0x93;
const MEMOIZE = 0x94;

/** posix.system("id") the way pickle.dumps(protocol=2) writes a reduce: GLOBAL, args tuple, REDUCE. */
const OS_SYSTEM_P2 = pickleBytes(
  0x80,
  2,
  'cposix\nsystem\nq\x00',
  'X',
  Buffer.from([2, 0, 0, 0]),
  'idq\x01',
  0x85,
  'q\x02',
  'R',
  'q\x03',
  '.',
);

/** A fitted-estimator shape: the class, NEWOBJ, then a state dict through BUILD. */
const ESTIMATOR_P4 = pickleBytes(
  0x80,
  4,
  u('sklearn.linear_model._logistic'),
  MEMOIZE,
  u('LogisticRegression'),
  MEMOIZE,
  STACK_GLOBAL,
  MEMOIZE,
  ')',
  0x81,
  MEMOIZE,
  '}',
  MEMOIZE,
  '(',
  u('C'),
  'G',
  Buffer.from([0x3f, 0xf0, 0, 0, 0, 0, 0, 0]),
  u('n_features_in_'),
  'K',
  4,
  u('_sklearn_version'),
  u('1.9.1'),
  'u',
  'b',
  '.',
);

/**
 * What joblib writes for [array([0., 0.]), posix.system("id")]: the NumpyArrayWrapper object, then raw array bytes
 * (an alignment byte, padding, 16 bytes of data) that are not opcodes, then the rest of the pickle.
 */
function joblibWithArrayThenSystem(): Buffer {
  const dtype = pickleBytes(
    u('numpy'),
    u('dtype'),
    STACK_GLOBAL,
    u('f8'),
    0x89,
    0x88,
    0x87,
    'R',
    '(',
    'K',
    3,
    u('<'),
    'N',
    'N',
    'N',
    'J',
    Buffer.from([0xff, 0xff, 0xff, 0xff]),
    'J',
    Buffer.from([0xff, 0xff, 0xff, 0xff]),
    'K',
    0,
    't',
    'b',
  );
  const wrapper = pickleBytes(
    u('joblib.numpy_pickle'),
    u('NumpyArrayWrapper'),
    STACK_GLOBAL,
    ')',
    0x81,
    '}',
    '(',
    u('subclass'),
    u('numpy'),
    u('ndarray'),
    STACK_GLOBAL,
    u('shape'),
    'K',
    2,
    0x85,
    u('order'),
    u('C'),
    u('dtype'),
    dtype,
    u('allow_mmap'),
    0x88,
    u('numpy_array_alignment_bytes'),
    'K',
    16,
    'u',
    'b',
  );
  const raw = Buffer.concat([Buffer.from([3, 0xff, 0xff, 0xff]), Buffer.alloc(16, 0xff)]);
  const evil = pickleBytes(u('posix'), u('system'), STACK_GLOBAL, u('id'), 0x85, 'R');
  return Buffer.concat([pickleBytes(0x80, 4, ']', '('), wrapper, raw, evil, pickleBytes('e', '.')]);
}

describe('pickle and joblib', () => {
  it('sklearn-pickle: class, version, hyperparameters and globals match expected.json', async () => {
    const facts = fixture('sklearn-pickle').facts;
    const r = await inspectModel(fixturePath('sklearn-pickle', 'model.pkl'));
    expect(r.format).toBe('pickle');
    expect(r.metadata.topClass).toBe(`${facts.estimator.module}.${facts.estimator.class}`);
    expect(r.metadata.framework).toBe('sklearn');
    expect(r.metadata.sklearnVersion).toBe(facts.sklearn_version);
    expect(r.metadata.protocol).toBe(facts.pickle_protocol);
    expect(r.metadata.globals).toEqual(facts.pickle_globals);
    const attributes = r.metadata.attributes as Record<string, unknown>;
    expect(attributes.n_features_in_).toBe(facts.n_features_in);
    expect(attributes.n_estimators).toBe(facts.n_estimators);
    expect(attributes.max_depth).toBe(facts.max_depth);
    expect(attributes.n_classes_).toBe(facts.classes.length);
    expect(r.task).toBe('tabular-classification');
    expect(r.warnings).toEqual([]);
  });

  for (const name of ['sklearn-joblib', 'sklearn-joblib-compressed']) {
    it(`${name}: the scan passes over joblib's raw arrays and reaches STOP`, async () => {
      const fx = fixture(name);
      const r = await inspectModel(fixturePath(name, fx.entry as string));
      expect(r.format).toBe('joblib');
      expect(r.metadata.scanComplete).toBe(true);
      expect(r.metadata.numpyArrays).toBeGreaterThan(0);
      expect(r.metadata.topClass).toBe(`${fx.facts.estimator.module}.${fx.facts.estimator.class}`);
      expect(r.metadata.sklearnVersion).toBe(fx.facts.sklearn_version);
      const attributes = r.metadata.attributes as Record<string, unknown>;
      expect(attributes.n_features_in_).toBe(fx.facts.n_features_in);
      expect(attributes.n_estimators).toBe(fx.facts.n_estimators);
      expect(r.metadata.compression).toBe(fx.facts.compress > 0 ? fx.facts.joblib_compressor : undefined);
      expect(r.task).toBe('tabular-regression');
    });
  }

  it('warns about os.system reached through GLOBAL (protocol 2)', async () => {
    const r = await inspectBytes('model.pkl', OS_SYSTEM_P2);
    expect(r.format).toBe('pickle');
    expect(r.pickle).toBe(true);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/references posix\.system: loading it can run commands/);
    expect(r.warnings[0]).not.toContain('\n');
  });

  it('warns about builtins.eval reached through STACK_GLOBAL and memoized strings (protocol 4)', async () => {
    const bytes = pickleBytes(
      0x80,
      4,
      u('builtins'),
      MEMOIZE,
      '0',
      u('eval'),
      MEMOIZE,
      'h',
      0,
      'h',
      1,
      STACK_GLOBAL,
      u('1+1'),
      0x85,
      'R',
      '.',
    );
    const r = await inspectBytes('payload.pickle', bytes);
    expect(r.warnings.join()).toMatch(/references builtins\.eval/);
  });

  it('finds a dangerous global placed after a joblib array (the raw bytes are skipped, not misread)', async () => {
    const r = await inspectBytes('model.pkl', joblibWithArrayThenSystem());
    expect(r.format).toBe('joblib');
    expect(r.metadata.scanComplete).toBe(true);
    expect(r.metadata.numpyArrays).toBe(1);
    expect(r.warnings.join()).toMatch(/references posix\.system/);
  });

  it('reads a gzip-compressed joblib and the task of a plain estimator', async () => {
    const r = await inspectBytes('model.joblib.gz', gzipSync(ESTIMATOR_P4));
    expect(r.format).toBe('joblib');
    expect(r.metadata.compression).toBe('gzip');
    expect(r.metadata.topClass).toBe('sklearn.linear_model._logistic.LogisticRegression');
    expect(r.metadata.sklearnVersion).toBe('1.9.1');
    expect(r.metadata.attributes).toEqual({ C: 1, n_features_in_: 4 });
    expect(r.task).toBe('tabular-classification');
    expect(r.warnings).toEqual([]);
  });

  it('says plainly when a compression it cannot read hides the content', async () => {
    const r = await inspectBytes('model.joblib', pickleBytes('BZh91AY&SY', Buffer.alloc(64, 7)));
    expect(r.format).toBe('joblib');
    expect(r.metadata.compression).toBe('bz2');
    expect(r.warnings.join()).toMatch(/bz2-compressed.*dangerous globals cannot be ruled out/);
  });

  it('reports a scan that stops early instead of failing', async () => {
    const r = await inspectBytes('model.pkl', pickleBytes(ESTIMATOR_P4.subarray(0, 60)));
    expect(r.metadata.scanComplete).toBe(false);
    expect(r.metadata.topClass).toBe('sklearn.linear_model._logistic.LogisticRegression');
    expect(r.warnings.join()).toMatch(/stopped early \(pickle ends early/);
  });

  it('calls a .pkl that is not a pickle at all corrupt', async () => {
    await expectModelctlError(inspectBytes('model.pkl', pickleBytes(0x80, 4, 0xff, 0xff)), 'CORRUPT_MODEL', /not a readable pickle/);
  });
});
