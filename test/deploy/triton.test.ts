import { execa } from 'execa';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { pbString, tritonConfig } from '../../src/deploy/triton.js';
import { Registry } from '../../src/registry/index.js';
import { FIXTURES, ROOT, cli, fileDir, tempDir } from '../helpers.js';
import { pythonAvailable, testPython } from '../python.js';

/**
 * deploy triton against the ModelConfig protobuf tritonclient ships: config.pbtxt parsed in text format as Triton
 * parses it, every field compared with the ONNX graph as the onnx library reads it, and the model files compared
 * with the registry's blobs (copies, not links) and opened by ONNX Runtime.
 */

interface TritonTensor {
  name: string;
  data_type: string;
  dims: number[];
  reshape: number[] | null;
}
interface GraphValue {
  name: string;
  kind: string;
  elem_type?: string;
  dims?: Array<number | null>;
}
interface Parsed {
  config: {
    name: string;
    platform: string;
    max_batch_size: number;
    input: TritonTensor[];
    output: TritonTensor[];
    dynamic_batching: boolean;
    version_policy: string | null;
    default_model_filename: string;
  };
  graph: { inputs: GraphValue[]; outputs: GraphValue[] };
}

/** ONNX element types and Triton's names for them (model_config.proto). */
const TRITON_NAMES: Record<string, string> = {
  FLOAT: 'TYPE_FP32',
  DOUBLE: 'TYPE_FP64',
  FLOAT16: 'TYPE_FP16',
  INT64: 'TYPE_INT64',
  INT32: 'TYPE_INT32',
  STRING: 'TYPE_STRING',
  BOOL: 'TYPE_BOOL',
};

async function parse(modelDir: string, version: number | null = 1): Promise<Parsed> {
  const script = join(ROOT, 'test', 'deploy', 'triton_config.py');
  const model = version === null ? [] : [join(modelDir, String(version), 'model.onnx')];
  const r = await execa(testPython() as string, [script, join(modelDir, 'config.pbtxt'), ...model], {
    reject: false,
    stdin: 'ignore',
  });
  if (r.exitCode !== 0) throw new Error(`triton_config.py failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as Parsed;
}

/** Every field of the config against the graph: names and order, types, dims, batching. */
function expectMatchesGraph(p: Parsed, expected: { name: string; maxBatchSize: number; versions: number; skipped?: string[] }): void {
  const { config, graph } = p;
  const batched = expected.maxBatchSize > 0;
  expect(config.name).toBe(expected.name);
  expect(config.platform).toBe('onnxruntime_onnx');
  expect(config.default_model_filename).toBe('');
  expect(config.max_batch_size).toBe(expected.maxBatchSize);
  expect(config.dynamic_batching).toBe(batched);
  expect(config.version_policy).toBe(expected.versions > 1 ? 'all' : null);
  const tensorOutputs = graph.outputs.filter((o) => o.kind === 'tensor_type');
  expect(graph.outputs.filter((o) => o.kind !== 'tensor_type').map((o) => o.name)).toEqual(expected.skipped ?? []);
  const check = (tensors: TritonTensor[], values: GraphValue[]): void => {
    expect(tensors.map((t) => t.name)).toEqual(values.map((v) => v.name));
    values.forEach((v, i) => {
      const t = tensors[i] as TritonTensor;
      expect(t.data_type).toBe(TRITON_NAMES[v.elem_type as string]);
      const dims = (v.dims as Array<number | null>).map((d) => d ?? -1);
      if (!batched) {
        expect(t.dims).toEqual(dims);
        expect(t.reshape).toBeNull();
      } else {
        expect(v.dims?.[0]).toBeNull();
        if (dims.length === 1) {
          expect(t.dims).toEqual([1]);
          expect(t.reshape).toEqual([]);
        } else {
          expect(t.dims).toEqual(dims.slice(1));
          expect(t.reshape).toBeNull();
        }
      }
    });
  };
  check(config.input, graph.inputs);
  check(config.output, tensorOutputs);
}

let home: string;
let registry: Registry;

beforeAll(async () => {
  home = fileDir('modelctl-deploy-');
  registry = new Registry({ home });
  await registry.register({ path: join(FIXTURES, 'iris-logreg'), name: 'iris', version: '1.0.0' });
  await registry.register({ path: join(FIXTURES, 'iris-logreg', 'model.onnx'), name: 'iris', version: '1.1.0' });
  await registry.register({ path: join(FIXTURES, 'optimum-bert'), name: 'org/bert' });
  await registry.register({ path: join(FIXTURES, 'onnx-external'), name: 'ext' });
  await registry.register({ path: join(FIXTURES, 'sklearn-zipmap'), name: 'zipmap' });
  await registry.register({ path: join(FIXTURES, 'onnx-handbuilt'), name: 'hand' });
  await registry.register({ path: join(FIXTURES, 'sklearn-joblib'), name: 'joblib' });
  await registry.register({ path: join(FIXTURES, 'iris-logreg'), name: 'mix', version: '1.0.0' });
  await registry.register({ path: join(FIXTURES, 'onnx-handbuilt'), name: 'mix', version: '2.0.0' });
});

async function blobOf(ref: string, path: string): Promise<string> {
  return (await registry.info(ref)).blobPaths[path] as string;
}

/** The deployed file has the blob's bytes, and is a copy: another inode, one link. */
function expectCopyOf(deployed: string, blob: string): void {
  expect(readFileSync(deployed).equals(readFileSync(blob))).toBe(true);
  const st = statSync(deployed);
  expect(st.ino).not.toBe(statSync(blob).ino);
  expect(st.nlink).toBe(1);
}

describe('config.pbtxt text', () => {
  it('escapes names so that protobuf text format reads them back exactly', async () => {
    if (!pythonAvailable()) return;
    const odd = ['in"put', 'back\\slash', 'new\nline\ttab\r', 'ctl\u0001\u007f', 'é 😀 名前', "single'quote", '#hash'];
    const io = {
      inputs: odd.map((name) => ({ name, dataType: 'TYPE_FP32', dims: [-1, 3], reshapeToScalar: false })),
      outputs: [{ name: 'out"\\', dataType: 'TYPE_STRING', dims: [1], reshapeToScalar: true }],
    };
    const dir = tempDir();
    writeFileSync(join(dir, 'config.pbtxt'), tritonConfig('mo"del\\', io, 4, ['a:1.0.0', 'a:2.0.0']));
    const { config } = await parse(dir, null);
    expect(config.name).toBe('mo"del\\');
    expect(config.input.map((t) => t.name)).toEqual(odd);
    expect(config.input.map((t) => [t.data_type, t.dims, t.reshape])).toEqual(odd.map(() => ['TYPE_FP32', [-1, 3], null]));
    expect(config.output).toEqual([{ name: 'out"\\', data_type: 'TYPE_STRING', dims: [1], reshape: [] }]);
    expect([config.max_batch_size, config.dynamic_batching, config.version_policy]).toEqual([4, true, 'all']);
    expect(pbString('a"b')).toBe('"a\\"b"');
  });
});

describe('deploy triton', () => {
  it('writes a model repository for an sklearn model (two versions) and a transformer, every field from the graph', async () => {
    if (!pythonAvailable()) return;
    const out = join(tempDir(), 'repo');
    const r = await cli(['deploy', 'triton', 'iris:1.0.0', 'iris:1.1.0', 'org/bert', '--out', out, '--json'], { home });
    expect(r.exitCode, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { models: Array<{ name: string; versions: string[]; maxBatchSize: number; outcome: string }> };
    expect(result.models.map((m) => [m.name, m.versions, m.maxBatchSize, m.outcome])).toEqual([
      ['iris', ['iris:1.0.0', 'iris:1.1.0'], 8, 'created'],
      ['org--bert', ['org/bert:1.0.0'], 8, 'created'],
    ]);
    expect(readdirSync(out).sort()).toEqual(['iris', 'org--bert']);
    expect(readdirSync(join(out, 'iris')).sort()).toEqual(['1', '2', 'config.pbtxt']);
    for (const version of [1, 2])
      expectMatchesGraph(await parse(join(out, 'iris'), version), { name: 'iris', maxBatchSize: 8, versions: 2 });
    expectCopyOf(join(out, 'iris', '1', 'model.onnx'), await blobOf('iris:1.0.0', 'model.onnx'));
    expectCopyOf(join(out, 'iris', '2', 'model.onnx'), await blobOf('iris:1.1.0', 'model.onnx'));
    // Only the model file goes into a version folder: reference.json stays in the registry.
    expect(readdirSync(join(out, 'iris', '1'))).toEqual(['model.onnx']);
    const bert = await parse(join(out, 'org--bert'));
    expectMatchesGraph(bert, { name: 'org--bert', maxBatchSize: 8, versions: 1 });
    expect(bert.config.input.map((t) => t.dims)).toEqual([[-1], [-1], [-1]]);
    expectCopyOf(join(out, 'org--bert', '1', 'model.onnx'), await blobOf('org/bert', 'model.onnx'));
  });

  it('without a free first dimension everywhere (or with --max-batch-size 0) there is no batching', async () => {
    if (!pythonAvailable()) return;
    const out = tempDir();
    const r = await cli(['deploy', 'triton', 'hand', '--out', out], { home });
    expect(r.exitCode, r.stderr).toBe(0);
    expectMatchesGraph(await parse(join(out, 'hand')), { name: 'hand', maxBatchSize: 0, versions: 1 });
    const asked = await cli(['deploy', 'triton', 'hand', '--out', tempDir(), '--max-batch-size', '4'], { home });
    expect(asked.exitCode).toBe(2);
    expect(asked.stderr).toMatch(/--max-batch-size 4: hand:1\.0\.0 has an input or output whose first dimension is fixed/);
    const off = await cli(['deploy', 'triton', 'org/bert', '--out', out, '--max-batch-size', '0'], { home });
    expect(off.exitCode, off.stderr).toBe(0);
    const bert = await parse(join(out, 'org--bert'));
    expectMatchesGraph(bert, { name: 'org--bert', maxBatchSize: 0, versions: 1 });
    expect(bert.config.input[0]?.dims).toEqual([-1, -1]);
    const sixteen = await cli(['deploy', 'triton', 'iris', '--out', out, '--max-batch-size', '16'], { home });
    expect(sixteen.exitCode, sixteen.stderr).toBe(0);
    expectMatchesGraph(await parse(join(out, 'iris')), { name: 'iris', maxBatchSize: 16, versions: 1 });
  });

  it('copies external data beside model.onnx, and ONNX Runtime opens the deployed model', async () => {
    if (!pythonAvailable()) return;
    const out = tempDir();
    const r = await cli(['deploy', 'triton', 'ext', '--out', out], { home });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readdirSync(join(out, 'ext', '1')).sort()).toEqual(['model.onnx', 'weights.bin']);
    expectCopyOf(join(out, 'ext', '1', 'weights.bin'), await blobOf('ext', 'weights.bin'));
    expectMatchesGraph(await parse(join(out, 'ext')), { name: 'ext', maxBatchSize: 8, versions: 1 });
    const session = await ort.InferenceSession.create(join(out, 'ext', '1', 'model.onnx'));
    const x = new ort.Tensor('float32', new Float32Array(32).fill(0.5), [2, 16]);
    const result = await session.run({ x });
    expect(result.logits?.dims).toEqual([2, 2]);
    await session.release();
  });

  it('leaves out a ZipMap output (not a tensor), with a warning; string labels are TYPE_STRING', async () => {
    if (!pythonAvailable()) return;
    const out = tempDir();
    const r = await cli(['deploy', 'triton', 'zipmap', '--out', out], { home });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: zipmap: outputs left out \(not tensors\): output_probability/);
    const p = await parse(join(out, 'zipmap'));
    expectMatchesGraph(p, { name: 'zipmap', maxBatchSize: 8, versions: 1, skipped: ['output_probability'] });
    expect(p.config.output.map((t) => t.data_type)).toEqual(['TYPE_STRING']);
  });

  it('leaves the same content alone, refuses different content without --force, replaces it with --force', async () => {
    const out = tempDir();
    expect((await cli(['deploy', 'triton', 'iris:1.0.0', 'iris:1.1.0', '--out', out], { home })).exitCode).toBe(0);
    const config = readFileSync(join(out, 'iris', 'config.pbtxt'), 'utf8');
    const again = await cli(['deploy', 'triton', 'iris:1.0.0', 'iris:1.1.0', '--out', out, '--json'], { home });
    expect(again.exitCode, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { models: Array<{ outcome: string }> }).models[0]?.outcome).toBe('unchanged');
    const other = await cli(['deploy', 'triton', 'iris:1.1.0', '--out', out], { home });
    expect(other.exitCode).toBe(8);
    expect(other.stderr).toMatch(/iris already exists with different content/);
    expect(other.stderr).toMatch(/--force/);
    expect(readFileSync(join(out, 'iris', 'config.pbtxt'), 'utf8')).toBe(config);
    expect(readdirSync(join(out, 'iris')).sort()).toEqual(['1', '2', 'config.pbtxt']);
    const forced = await cli(['deploy', 'triton', 'iris:1.1.0', '--out', out, '--force', '--json'], { home });
    expect(forced.exitCode, forced.stderr).toBe(0);
    expect((JSON.parse(forced.stdout) as { models: Array<{ outcome: string }> }).models[0]?.outcome).toBe('replaced');
    expect(readdirSync(join(out, 'iris')).sort()).toEqual(['1', 'config.pbtxt']);
    expect(readdirSync(out)).toEqual(['iris']); // no staging or old folder left behind
    // A deployed file edited by hand differs from the blob: the registry is untouched, and a re-deploy sees it.
    const deployed = join(out, 'iris', '1', 'model.onnx');
    const blob = await blobOf('iris:1.1.0', 'model.onnx');
    const original = readFileSync(blob);
    const bytes = readFileSync(deployed);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0xff;
    writeFileSync(deployed, bytes);
    expect(readFileSync(blob).equals(original)).toBe(true);
    expect((await cli(['deploy', 'triton', 'iris:1.1.0', '--out', out], { home })).exitCode).toBe(8);
    // Several models: every folder is checked before any is written, so a refusal writes none of them.
    const several = await cli(['deploy', 'triton', 'org/bert', 'iris:1.0.0', '--out', out], { home });
    expect(several.exitCode).toBe(8);
    expect(readdirSync(out)).toEqual(['iris']);
  });

  it('refuses a model that is not ONNX, suggesting export, and writes nothing for any reference given', async () => {
    const out = tempDir();
    const r = await cli(['deploy', 'triton', 'iris', 'joblib', '--out', out], { home });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^error: joblib:1\.0\.0 is a joblib model; Triton serves ONNX$/m);
    expect(r.stderr).toMatch(/modelctl export joblib:1\.0\.0/);
    expect(readdirSync(out)).toEqual([]);
    const missing = await cli(['deploy', 'triton', 'nosuch', '--out', out], { home });
    expect(missing.exitCode).toBe(3);
    expect(existsSync(join(out, 'nosuch'))).toBe(false);
  });

  it('refuses usage mistakes with exit code 2', async () => {
    const noOut = await cli(['deploy', 'triton', 'iris'], { home });
    expect(noOut.exitCode).toBe(2);
    expect(noOut.stderr).toMatch(/deploy triton needs --out DIR/);
    const twice = await cli(['deploy', 'triton', 'iris:1.0.0', 'iris:1.0.0', '--out', tempDir()], { home });
    expect(twice.exitCode).toBe(2);
    expect(twice.stderr).toMatch(/iris:1\.0\.0 is given twice/);
    const wrong = await cli(['deploy', 'triton', 'iris', '--out', tempDir(), '--image', 'x'], { home });
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr).toMatch(/--image is for deploy kserve, not deploy triton/);
    const mixed = await cli(['deploy', 'triton', 'mix:1.0.0', 'mix:2.0.0', '--out', tempDir()], { home });
    expect(mixed.exitCode).toBe(2);
    expect(mixed.stderr).toMatch(/mix:1\.0\.0 and mix:2\.0\.0 have different inputs or outputs/);
    const target = await cli(['deploy', 'docker', 'iris'], { home });
    expect(target.exitCode).toBe(2);
    expect(target.stderr).toMatch(/deploy takes a target \(triton, kserve, image\), got "docker"/);
  });
});
