#!/usr/bin/env node
// Does `modelctl bench` measure what an independent loop measures? Same model, same thread count, same input shapes
// and types, timed by modelctl bench, by a bare onnxruntime-node loop (no modelctl code) and by Python onnxruntime
// (bench/agreement.py). The sides run one after another, alternating, for --rounds rounds; each figure is the median
// over rounds of that side's median latency. Goal: modelctl within 10 % of Python onnxruntime.
// Usage: npm run build && node bench/agreement.mjs [--rounds 5] [--iterations 300] [--threads 1] [--python PATH]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { bin, median, opt, root, time } from './lib.mjs';

const rounds = Number(opt('rounds', '5'));
const iterations = Number(opt('iterations', '300'));
const warmup = Number(opt('warmup', '20'));
const threads = Number(opt('threads', '1'));
const python = opt('python', [join(root, 'fixtures', '.venv', 'bin', 'python')].find(existsSync));
if (!python) throw new Error('no Python with onnxruntime: pass --python PATH (fixtures/.venv has onnxruntime 1.32.0)');
const fx = (name) => join(root, 'fixtures', 'models', name, 'model.onnx');

const cases = [
  { name: 'iris-logreg', model: fx('iris-logreg'), batch: 1, extra: [] },
  { name: 'iris-logreg', model: fx('iris-logreg'), batch: 32, extra: [] },
  { name: 'optimum-bert', model: fx('optimum-bert'), batch: 1, extra: ['--seq-len', '64'] },
  { name: 'optimum-bert', model: fx('optimum-bert'), batch: 8, extra: ['--seq-len', '64'] },
  { name: 'optimum-bert', model: fx('optimum-bert'), batch: 32, extra: ['--seq-len', '64'] },
  { name: 'optimum-vit-tiny', model: fx('optimum-vit-tiny'), batch: 8, extra: [] },
  { name: 'optimum-vit-tiny', model: fx('optimum-vit-tiny'), batch: 64, extra: [] },
  { name: 'yolo-tiny', model: fx('yolo-tiny'), batch: 1, extra: [] },
];

function modelctl(c) {
  const args = [
    bin,
    'bench',
    c.model,
    '--threads',
    String(threads),
    '--batch-sizes',
    String(c.batch),
    '--warmup',
    String(warmup),
    '--iterations',
    String(iterations),
    '--json',
    ...c.extra,
  ];
  const doc = JSON.parse(time('node', args).stdout);
  return doc.results[0];
}

function pythonLoop(c, inputs) {
  const job = JSON.stringify({ model: c.model, threads, warmup, iterations, inputs });
  const r = spawnSync(python, [join(root, 'bench', 'agreement.py')], {
    input: job,
    encoding: 'utf8',
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  if (r.status !== 0) throw new Error(`agreement.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** The same loop with onnxruntime-node alone: the same synthetic values as modelctl would not matter for timing, so zeros/ones suffice. */
async function bareNode(c, inputs) {
  const session = await ort.InferenceSession.create(c.model, { intraOpNumThreads: threads, graphOptimizationLevel: 'all' });
  const arrays = { float32: Float32Array, float64: Float64Array, int64: BigInt64Array, int32: Int32Array, uint8: Uint8Array };
  const feeds = {};
  for (const i of inputs) {
    const n = i.dims.reduce((a, b) => a * b, 1);
    const data = new arrays[i.type](n);
    if (i.type === 'int64') data.fill(/^ones/.test(i.fill) ? 1n : 0n);
    else data.fill(/^ones/.test(i.fill) ? 1 : 0.5);
    feeds[i.name] = new ort.Tensor(i.type, data, i.dims);
  }
  const fetch = session.outputNames;
  for (let k = 0; k < warmup; k++) await session.run(feeds, fetch);
  const samples = [];
  for (let k = 0; k < iterations; k++) {
    const t0 = performance.now();
    await session.run(feeds, fetch);
    samples.push(performance.now() - t0);
  }
  await session.release();
  return { p50: median(samples) };
}

const rows = [];
for (const c of cases) {
  const ours = [];
  const py = [];
  const bare = [];
  let inputs;
  let pyVersion;
  for (let r = 0; r < rounds; r++) {
    const m = modelctl(c);
    inputs = m.inputs;
    ours.push(m.latencyMs.p50);
    const p = pythonLoop(c, inputs);
    pyVersion = p.onnxruntime;
    py.push(p.p50);
    bare.push((await bareNode(c, inputs)).p50);
  }
  const row = {
    case: `${c.name}, batch ${c.batch}${c.extra.length ? ` (${c.extra.join(' ')})` : ''}`,
    shapes: inputs.map((i) => `${i.name} ${i.type}[${i.dims.join(',')}]`).join(', '),
    modelctl: median(ours),
    bareNode: median(bare),
    python: median(py),
    pythonOrt: pyVersion,
  };
  row.vsPython = row.modelctl / row.python;
  row.vsBareNode = row.modelctl / row.bareNode;
  rows.push(row);
  console.error(
    `${row.case}: modelctl ${row.modelctl.toFixed(4)} ms, bare onnxruntime-node ${row.bareNode.toFixed(4)} ms, Python ${row.python.toFixed(4)} ms (${row.vsPython.toFixed(3)}x)`,
  );
}
console.log(
  `| case | input shapes | modelctl bench p50 | bare onnxruntime-node loop p50 | Python onnxruntime ${rows[0]?.pythonOrt} p50 | modelctl / Python | modelctl / bare Node | within 10 % of Python |`,
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  const f = (ms) => (ms < 1 ? `${(ms * 1000).toFixed(1)} us` : `${ms.toFixed(3)} ms`);
  console.log(
    `| ${r.case} | ${r.shapes} | ${f(r.modelctl)} | ${f(r.bareNode)} | ${f(r.python)} | ${r.vsPython.toFixed(3)} | ${r.vsBareNode.toFixed(3)} | ${Math.abs(r.vsPython - 1) <= 0.1 ? 'yes' : 'no'} |`,
  );
}
