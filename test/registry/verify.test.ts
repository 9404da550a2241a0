import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ModelctlError, Registry, embedMetadata, exportModel, predict, readOnnxSummary, type Manifest } from '../../src/index.js';
import { viewId } from '../../src/registry/views.js';
import { FIXTURES, flipByte, tempDir } from '../helpers.js';
import { rejection } from '../helpers.js';

const IRIS = join(FIXTURES, 'iris-logreg', 'model.onnx');
const ROW = [5.1, 3.5, 1.4, 0.2];
/** A byte inside the first LinearClassifier coefficient of the iris fixture: flipping it flips the float's sign. */
const IRIS_COEFFICIENT_BYTE = 273;

function setup(): Registry {
  return new Registry({ home: tempDir('modelctl-verify-') });
}

function blobOf(registry: Registry, m: Manifest, path: string): string {
  const f = m.files.find((x) => x.path === path);
  if (!f) throw new Error(`${m.name}:${m.version} has no ${path}`);
  return registry.store.layout.blob(f.sha256);
}

function recordOf(registry: Registry, blob: string): Record<string, unknown> | undefined {
  const path = registry.store.layout.fingerprint(blob.split('/').pop() as string);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>) : undefined;
}

/** INTEGRITY, exit 4, naming the version, the file and the blob, and pointing at validate. */
function expectIntegrity(err: ModelctlError, ref: string, file: string, sha256: string, why: RegExp): void {
  expect(err.code).toBe('INTEGRITY');
  expect(err.exitCode).toBe(4);
  expect(err.message).toContain(`blob ${sha256.slice(0, 12)} of ${ref} ${file} `);
  expect(err.message).toMatch(why);
  expect(err.message).toContain('run `modelctl validate`');
  expect(err.details).toMatchObject({ model: ref, file, blob: sha256 });
}

const irisRows = (registry: Registry, extra: { verify?: boolean } = {}) =>
  predict({ model: 'iris', registry, input: { kind: 'rows', rows: [ROW] }, ...extra });

/** "positive" becomes "positivd" in a (read-only) config.json blob: one byte, same size. */
function misspell(config: string): void {
  const text = readFileSync(config, 'utf8');
  chmodSync(config, 0o644);
  writeFileSync(config, text.replace('"1": "positive"', '"1": "positivd"'));
}

/** A whole second, long enough ago that a fingerprint with it is not racy; utimes sets it exactly, so a file can be put back to it. */
const PINNED = Math.floor(Date.now() / 1000) - 100;

function pinMtime(path: string, when = PINNED): void {
  utimesSync(path, when, when);
}

describe('verify-on-use: fingerprints', () => {
  it('records a fingerprint when a blob is placed, apart from the sealed manifest', async () => {
    const registry = setup();
    const { manifest } = await registry.register({ path: IRIS, name: 'iris' });
    const blob = blobOf(registry, manifest, 'model.onnx');
    const st = statSync(blob, { bigint: true });
    const sha256 = manifest.files[0]?.sha256;
    expect(recordOf(registry, blob)).toEqual({
      schema: 1,
      sha256,
      size: String(st.size),
      mtimeNs: String(st.mtimeNs),
      ino: String(st.ino),
    });
    // Placing moves the mtime back, so that any later write (stamped with the current time) changes it.
    expect(Date.now() - Number(st.mtimeNs / 1_000_000n)).toBeGreaterThanOrEqual(5000);
    expect(JSON.stringify(manifest)).not.toMatch(/mtime|ino/);
    expect(readdirSync(registry.store.layout.tmpDir)).toEqual([]);
  });

  it('trusts an unchanged fingerprint without hashing; verify: true re-hashes (a tamper that keeps size, mtime and inode)', async () => {
    const registry = setup();
    const { manifest } = await registry.register({ path: IRIS, name: 'iris' });
    const blob = blobOf(registry, manifest, 'model.onnx');
    const good = await irisRows(registry);
    pinMtime(blob);
    await irisRows(registry); // a changed mtime: re-hashed, found good, recorded again
    expect(recordOf(registry, blob)?.mtimeNs).toBe(String(statSync(blob, { bigint: true }).mtimeNs));
    flipByte(blob, irisCoefficientByte());
    pinMtime(blob);
    // Same size, inode and mtime: the fingerprint cannot see this write, and the check does not hash. What that
    // costs is what the tampered bytes answer; only a re-hash (verify: true, --verify, validate) finds them.
    const unseen = await irisRows(registry);
    expect(unseen.predictions?.[0]?.probabilities).not.toEqual(good.predictions?.[0]?.probabilities);
    const err = await rejection(irisRows(registry, { verify: true }));
    const sha256 = manifest.files[0]?.sha256 as string;
    expectIntegrity(err, 'iris:1.0.0', 'model.onnx', sha256, /has changed since it was stored \(its content hashes to [0-9a-f]{12}\)/);
    await rejection(registry.verify(manifest, { force: true }));
    expect((await registry.validate()).problems.map((p) => p.kind)).toEqual(['corrupt-blob']);
  });

  it('hashes blobs stored before fingerprints once, then fingerprints them; a damaged or unreadable record counts as none', async () => {
    const registry = setup();
    const { manifest } = await registry.register({ path: IRIS, name: 'iris' });
    const blob = blobOf(registry, manifest, 'model.onnx');
    rmSync(registry.store.layout.fingerprintsDir, { recursive: true });
    expect((await irisRows(registry)).predictions?.[0]?.label).toBe(0);
    const st = statSync(blob, { bigint: true });
    expect(recordOf(registry, blob)).toMatchObject({ size: String(st.size), mtimeNs: String(st.mtimeNs), ino: String(st.ino) });
    // A torn record (a crash without fsync) is ignored: the blob is hashed and the record rewritten.
    writeFileSync(registry.store.layout.fingerprint(manifest.files[0]?.sha256 as string), '{"schema":1,"sha256":');
    expect((await irisRows(registry)).predictions?.[0]?.label).toBe(0);
    expect(recordOf(registry, blob)?.ino).toBe(String(st.ino));
    // An older registry's blob with no record, tampered: hashed on first use, refused.
    rmSync(registry.store.layout.fingerprintsDir, { recursive: true });
    flipByte(blob, irisCoefficientByte());
    pinMtime(blob);
    expect((await rejection(irisRows(registry))).code).toBe('INTEGRITY');
    expect(recordOf(registry, blob)).toBeUndefined();
  });

  it('re-hashes a blob whose mtime moved (touch) and refreshes its record instead of refusing it', async () => {
    const registry = setup();
    const { manifest } = await registry.register({ path: IRIS, name: 'iris' });
    const blob = blobOf(registry, manifest, 'model.onnx');
    pinMtime(blob, PINNED - 400);
    const verified = await registry.verify(manifest);
    expect(verified.files).toHaveLength(1);
    expect(recordOf(registry, blob)?.mtimeNs).toBe(String(statSync(blob, { bigint: true }).mtimeNs));
    expect(registry.stillVerified(verified)).toBe(true);
    pinMtime(blob, PINNED + 50);
    expect(registry.stillVerified(verified)).toBe(false);
  });

  it('concurrent readers of an unfingerprinted blob all pass and leave one whole record', async () => {
    const registry = setup();
    const { manifest } = await registry.register({ path: IRIS, name: 'iris' });
    rmSync(registry.store.layout.fingerprintsDir, { recursive: true });
    const results = await Promise.all(Array.from({ length: 16 }, () => registry.verify(manifest)));
    expect(new Set(results.map((r) => r.files[0]?.fingerprint.ino)).size).toBe(1);
    const blob = blobOf(registry, manifest, 'model.onnx');
    expect(recordOf(registry, blob)?.ino).toBe(String(statSync(blob).ino));
    expect(readdirSync(registry.store.layout.tmpDir)).toEqual([]);
  });
});

describe('verify-on-use: predict', () => {
  it('refuses a tampered ONNX blob that would still run (reproduced: the same bytes by path answer otherwise)', async () => {
    const registry = setup();
    const { manifest } = await registry.register({ path: IRIS, name: 'iris' });
    const blob = blobOf(registry, manifest, 'model.onnx');
    const good = await irisRows(registry);
    flipByte(blob, irisCoefficientByte());
    // The damage is a valid model with other answers: what predict used to return silently.
    await readOnnxSummary(blob);
    const silent = await predict({ model: blob, input: { kind: 'rows', rows: [ROW] } });
    expect(silent.predictions?.[0]?.probabilities).not.toEqual(good.predictions?.[0]?.probabilities);
    const err = await rejection(irisRows(registry));
    expectIntegrity(err, 'iris:1.0.0', 'model.onnx', manifest.files[0]?.sha256 as string, /has changed since it was stored/);
  });

  it('refuses a tampered config.json blob (a label that became "positivd")', async () => {
    const registry = setup();
    const { manifest } = await registry.register({ path: join(FIXTURES, 'optimum-bert'), name: 'bert' });
    const texts = { kind: 'texts' as const, texts: ['a great movie'] };
    expect((await predict({ model: 'bert', registry, input: texts })).predictions?.[0]?.labels?.map((l) => l.label).sort()).toEqual([
      'negative',
      'positive',
    ]);
    const config = blobOf(registry, manifest, 'config.json');
    misspell(config);
    expect(readFileSync(config, 'utf8')).toContain('"positivd"');
    const err = await rejection(predict({ model: 'bert', registry, input: texts }));
    expectIntegrity(
      err,
      'bert:1.0.0',
      'config.json',
      manifest.files.find((f) => f.path === 'config.json')?.sha256 as string,
      /has changed/,
    );
  });

  it('refuses a tampered external-data blob, and rebuilds a view whose file was replaced', async () => {
    const registry = setup();
    const { manifest } = await registry.register({ path: join(FIXTURES, 'onnx-external'), name: 'ext' });
    const input = { kind: 'tensors' as const, tensors: { x: [Array.from({ length: 16 }, (_, i) => i / 16)] } };
    const good = await predict({ model: 'ext', registry, input });
    // A file of the view replaced by other bytes (a new inode): the blob is intact, the view is rebuilt from it.
    const viewFile = join(registry.store.layout.viewsDir, viewId(manifest), 'weights.bin');
    const bytes = readFileSync(viewFile);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0xff;
    unlinkSync(viewFile);
    writeFileSync(viewFile, bytes);
    expect((await predict({ model: 'ext', registry, input })).outputs).toEqual(good.outputs);
    const weights = blobOf(registry, manifest, 'weights.bin');
    expect(statSync(viewFile).ino).toBe(statSync(weights).ino);
    flipByte(weights, 100);
    const err = await rejection(predict({ model: 'ext', registry, input }));
    expectIntegrity(err, 'ext:1.0.0', 'weights.bin', manifest.files.find((f) => f.path === 'weights.bin')?.sha256 as string, /has changed/);
  });

  it('a deleted blob is its own exit-4 error, not a missing path; a version removed meanwhile is NOT_FOUND', async () => {
    const registry = setup();
    const { manifest } = await registry.register({ path: IRIS, name: 'iris' });
    unlinkSync(blobOf(registry, manifest, 'model.onnx'));
    const err = await rejection(irisRows(registry));
    expectIntegrity(err, 'iris:1.0.0', 'model.onnx', manifest.files[0]?.sha256 as string, /is missing from the store/);
    expect(err.message).not.toMatch(/relative paths|current folder/);
    await registry.remove('iris');
    const gone = await rejection(registry.verify(manifest));
    expect(gone.code).toBe('NOT_FOUND');
    expect(gone.message).toBe('iris:1.0.0 was removed while it was being read');
  });
});

describe('verify-on-use: export and embed-metadata', () => {
  it('export refuses a tampered registry source before any converter runs', async () => {
    const registry = setup();
    const { manifest } = await registry.register({ path: join(FIXTURES, 'sklearn-joblib'), name: 'sk' });
    const file = manifest.files[0] as Manifest['files'][number];
    flipByte(registry.store.layout.blob(file.sha256), 40);
    // A Python that does not exist: the check must stop the export before an interpreter is even looked for.
    const err = await rejection(exportModel({ source: 'sk', registry, python: join(tempDir(), 'no-python'), validate: false }));
    expectIntegrity(err, 'sk:1.0.0', file.path, file.sha256, /has changed/);
    expect((await registry.list()).entries).toHaveLength(1);
  });

  it('embed-metadata refuses a tampered ONNX or config.json blob and creates no version', async () => {
    const registry = setup();
    const { manifest } = await registry.register({ path: IRIS, name: 'iris' });
    flipByte(blobOf(registry, manifest, 'model.onnx'), irisCoefficientByte());
    const err = await rejection(embedMetadata({ model: 'iris', registry, task: 'tabular-classification' }));
    expectIntegrity(err, 'iris:1.0.0', 'model.onnx', manifest.files[0]?.sha256 as string, /has changed/);
    const bert = (await registry.register({ path: join(FIXTURES, 'optimum-bert'), name: 'bert' })).manifest;
    const config = blobOf(registry, bert, 'config.json');
    misspell(config);
    const err2 = await rejection(embedMetadata({ model: 'bert', registry }));
    expectIntegrity(err2, 'bert:1.0.0', 'config.json', bert.files.find((f) => f.path === 'config.json')?.sha256 as string, /has changed/);
    expect((await registry.list()).entries.map((e) => `${e.name}:${e.version}`).sort()).toEqual(['bert:1.0.0', 'iris:1.0.0']);
  });
});

describe('verify-on-use: validate, register, rm and gc', () => {
  it('validate refreshes the fingerprints of good blobs and never records a damaged one', async () => {
    const registry = setup();
    const a = (await registry.register({ path: IRIS, name: 'iris' })).manifest;
    const b = (await registry.register({ path: join(FIXTURES, 'onnx-handbuilt', 'model.onnx'), name: 'hand' })).manifest;
    rmSync(registry.store.layout.fingerprintsDir, { recursive: true });
    flipByte(blobOf(registry, b, 'model.onnx'), 20);
    pinMtime(blobOf(registry, b, 'model.onnx'));
    const r = await registry.validate();
    expect(r.problems.map((p) => `${p.kind} ${p.ref}`)).toEqual(['corrupt-blob hand:1.0.0']);
    expect(recordOf(registry, blobOf(registry, a, 'model.onnx'))?.ino).toBe(String(statSync(blobOf(registry, a, 'model.onnx')).ino));
    expect(recordOf(registry, blobOf(registry, b, 'model.onnx'))).toBeUndefined();
  });

  it('registering the same file again replaces a damaged blob (and a view on the old inode is rebuilt)', async () => {
    const registry = setup();
    const { manifest } = await registry.register({ path: IRIS, name: 'iris' });
    const blob = blobOf(registry, manifest, 'model.onnx');
    flipByte(blob, irisCoefficientByte());
    pinMtime(blob);
    const again = await registry.register({ path: IRIS, name: 'iris' });
    expect(again.newBlobs).toBe(1);
    expect((await registry.validate()).ok).toBe(true);
    expect((await predict({ model: 'iris:1.0.0', registry, input: { kind: 'rows', rows: [ROW] } })).predictions?.[0]?.label).toBe(0);
  });

  it('rm and gc take the fingerprints of the blobs they remove, and gc sweeps records whose blob is gone', async () => {
    const registry = setup();
    const iris = (await registry.register({ path: IRIS, name: 'iris' })).manifest;
    const hand = (await registry.register({ path: join(FIXTURES, 'onnx-handbuilt', 'model.onnx'), name: 'hand' })).manifest;
    const irisRecord = registry.store.layout.fingerprint(iris.files[0]?.sha256 as string);
    const handRecord = registry.store.layout.fingerprint(hand.files[0]?.sha256 as string);
    await registry.remove('iris');
    expect(existsSync(irisRecord)).toBe(false);
    expect(existsSync(handRecord)).toBe(true);
    // A reader that re-hashed a blob while rm and gc removed it can leave a record behind: gc takes it.
    const orphan = registry.store.layout.fingerprint('ab'.repeat(32));
    mkdirSync(dirname(orphan), { recursive: true });
    writeFileSync(orphan, '{}');
    await registry.gc({});
    expect(existsSync(orphan)).toBe(false);
    expect(existsSync(handRecord)).toBe(true);
  });
});

/** Where the iris fixture's first coefficient lies (checked against the file, so a regenerated fixture fails loudly). */
function irisCoefficientByte(): number {
  const bytes = readFileSync(IRIS);
  const float = bytes.readFloatLE(IRIS_COEFFICIENT_BYTE - 3);
  if (Math.abs(float + 1.0765923) > 1e-6)
    throw new Error(`iris fixture changed: byte ${IRIS_COEFFICIENT_BYTE} is no longer in the first coefficient`);
  return IRIS_COEFFICIENT_BYTE;
}
