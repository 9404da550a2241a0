#!/usr/bin/env node
// predict benchmarks, side by side with a peer in the same run:
//   cold one-shot `modelctl predict` vs a bare onnxruntime-node script doing create + run (goal: ratio <= 1.3)
//   warm throughput at batch 1 and 32: modelctl's tabular pipeline vs Python onnxruntime, same model and threads (goal: >= 1.0x)
// Usage: npm run build && node bench/predict.mjs [--runs 9] [--seconds 3] [--python .venv-test/bin/python]
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bin, median, opt, root, time, work } from './lib.mjs';

const runs = Number(opt('runs', '9'));
const seconds = Number(opt('seconds', '3'));
const python = opt('python', [join(root, 'fixtures', '.venv', 'bin', 'python')].find(existsSync));
const model = join(root, 'fixtures', 'models', 'iris-logreg', 'model.onnx');
const rows = JSON.parse(readFileSync(join(root, 'fixtures', 'models', 'iris-logreg', 'reference.json'), 'utf8')).input;

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const home = join(work, 'home');
time('node', [bin, 'register', model, '--name', 'iris'], { MODELCTL_HOME: home });
const results = [];

{
  const bare = join(work, 'bare.mjs');
  writeFileSync(
    bare,
    `import * as ort from ${JSON.stringify(join(root, 'node_modules', 'onnxruntime-node', 'dist', 'index.js'))};
const s = await ort.InferenceSession.create(${JSON.stringify(model)});
const out = await s.run({ input: new ort.Tensor('float32', Float32Array.from([5.1, 3.5, 1.4, 0.2]), [1, 4]) }, ['label', 'probabilities']);
console.log(JSON.stringify({ label: Number(out.label.data[0]), probabilities: Array.from(out.probabilities.data) }));\n`,
  );
  const peer = [];
  const ours = [];
  for (let i = 0; i < runs; i++) {
    peer.push(time('node', [bare]).ms);
    ours.push(time('node', [bin, 'predict', 'iris', '5.1,3.5,1.4,0.2', '--json'], { MODELCTL_HOME: home }).ms);
  }
  results.push({
    bench: 'cold one-shot predict (iris, 1 row, registry model)',
    peer: `bare onnxruntime-node script (create + run): ${median(peer).toFixed(0)} ms`,
    ours: `modelctl predict: ${median(ours).toFixed(0)} ms`,
    ratio: `${(median(ours) / median(peer)).toFixed(2)} (goal <= 1.3)`,
  });
}

for (const batch of [1, 32]) {
  const batchRows = Array.from({ length: batch }, (_, i) => rows[i % rows.length]);
  const ours = `
    const { SessionCache, loadOrt } = await import(${JSON.stringify(join(root, 'dist', 'runtime', 'index.js'))});
    const { predictTabular } = await import(${JSON.stringify(join(root, 'dist', 'tasks', 'tabular.js'))});
    const { readOnnxSummary } = await import(${JSON.stringify(join(root, 'dist', 'onnx', 'summary.js'))});
    const summary = await readOnnxSummary(${JSON.stringify(model)});
    const cache = new SessionCache();
    const ort = await loadOrt();
    const rows = ${JSON.stringify(batchRows)};
    const opened = await cache.get(${JSON.stringify(model)}, { threads: 1 });
    const ctx = { session: opened.session, Tensor: ort.Tensor, inputs: summary.inputs, outputs: summary.outputs };
    for (let i = 0; i < 200; i++) await predictTabular(ctx, rows, 'tabular-classification');
    let n = 0;
    const end = performance.now() + ${seconds * 1000};
    const t0 = performance.now();
    while (performance.now() < end) { await predictTabular(ctx, rows, 'tabular-classification'); n++; }
    console.log((n * rows.length) / ((performance.now() - t0) / 1000));`;
  const ourRates = [];
  for (let i = 0; i < 3; i++) ourRates.push(Number(time('node', ['--input-type=module', '-e', ours]).stdout));
  // The floor under any Node pipeline: onnxruntime-node's own session.run on a prepared tensor.
  const bare = `
    import * as ort from ${JSON.stringify(join(root, 'node_modules', 'onnxruntime-node', 'dist', 'index.js'))};
    const s = await ort.InferenceSession.create(${JSON.stringify(model)}, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const feeds = { input: new ort.Tensor('float32', Float32Array.from(${JSON.stringify(batchRows.flat())}), [${batch}, 4]) };
    for (let i = 0; i < 200; i++) await s.run(feeds, ['label', 'probabilities']);
    let n = 0; const t0 = performance.now(); const end = t0 + ${seconds * 1000};
    while (performance.now() < end) { await s.run(feeds, ['label', 'probabilities']); n++; }
    console.log((n * ${batch}) / ((performance.now() - t0) / 1000));`;
  const bareRates = [];
  for (let i = 0; i < 3; i++) bareRates.push(Number(time('node', ['--input-type=module', '-e', bare]).stdout));
  let peer = 'python onnxruntime not found (pass --python)';
  let ratio = '-';
  if (python) {
    const code = `import time, numpy as np, onnxruntime as ort
o = ort.SessionOptions(); o.intra_op_num_threads = 1; o.inter_op_num_threads = 1
s = ort.InferenceSession(${JSON.stringify(model)}, o, providers=['CPUExecutionProvider'])
x = np.array(${JSON.stringify(batchRows)}, dtype=np.float32)
for _ in range(200): s.run(['label', 'probabilities'], {'input': x})
n = 0; t0 = time.perf_counter(); end = t0 + ${seconds}
while time.perf_counter() < end:
    s.run(['label', 'probabilities'], {'input': x}); n += 1
print(n * len(x) / (time.perf_counter() - t0))`;
    const peerRates = [];
    for (let i = 0; i < 3; i++) peerRates.push(Number(time(python, ['-c', code]).stdout));
    peer = `Python onnxruntime session.run (numpy in, arrays out): ${median(peerRates).toFixed(0)} rows/s`;
    ratio = `${(median(ourRates) / median(peerRates)).toFixed(2)}x (goal >= 1.0x)`;
  }
  results.push({
    bench: `warm throughput, batch ${batch}, 1 thread (iris)`,
    peer,
    ours: `modelctl tabular pipeline (rows in, labels + probabilities out): ${median(ourRates).toFixed(0)} rows/s; bare onnxruntime-node session.run on a prepared tensor: ${median(bareRates).toFixed(0)} rows/s`,
    ratio,
  });
}

rmSync(work, { recursive: true, force: true });
console.log(JSON.stringify({ node: process.version, runs, seconds, results }, null, 2));
