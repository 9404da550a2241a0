#!/usr/bin/env node
// Per-call cost of one warm run on a small model at each layer onnxruntime-node offers, against Python's
// onnxruntime `session.run`, one intra-op and one inter-op thread everywhere, same model and the same input:
//   python    InferenceSession.run(['label', 'probabilities'], {'input': x}) on a numpy array
//   public    await session.run(feeds, fetches): onnxruntime-common's checks, then the handler
//   handler   await session.handler.run(feeds, fetchesObject, {}): no checks, still deferred by setImmediate
//   binding   the native binding's InferenceSession (same .node file, same options), run synchronously
//   bindingAwait  the same, awaited once per call as an async pipeline step would be
//   bindingOneFetch  the binding, fetching only the last output (what one output fewer costs)
// Each side is its own process; the sides run in turn, --rounds times, and the figures are medians. Each reports
// microseconds per call of wall time and of process CPU time (user + system, every thread): on a shared machine
// the CPU time moves much less with other processes' load than the wall time does.
// Default model: fixtures/models/iris-logreg (4 features). --mlp: bench/predict.mjs's compute-bound MLP instead (256
// features), built with --python's onnx package; --model PATH --width N: any model with one float input [N, width].
// Usage: node bench/ort-layers.mjs [--seconds 2] [--rounds 5] [--python fixtures/.venv/bin/python] [--mlp | --model PATH --width 4]
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildMlp, median, opt, root, time, work } from './lib.mjs';

const seconds = Number(opt('seconds', '2'));
const rounds = Number(opt('rounds', '5'));
const python = opt('python', [join(root, 'fixtures', '.venv', 'bin', 'python')].find(existsSync));
const mlp = process.argv.includes('--mlp');
const model = mlp ? join(work, 'mlp.onnx') : opt('model', join(root, 'fixtures', 'models', 'iris-logreg', 'model.onnx'));
const width = mlp ? 256 : Number(opt('width', '4'));
if (mlp && !python) throw new Error("--mlp builds the model with Python's onnx package: pass --python");
const irisRows = JSON.parse(readFileSync(join(root, 'fixtures', 'models', 'iris-logreg', 'reference.json'), 'utf8')).input;
const ortNode = JSON.stringify(join(root, 'node_modules', 'onnxruntime-node', 'dist', 'index.js'));
const ortBinding = JSON.stringify(join(root, 'node_modules', 'onnxruntime-node', 'dist', 'binding.js'));

const rowsFor = (batch) =>
  Array.from({ length: batch }, (_, i) =>
    width === 4 ? irisRows[i % irisRows.length] : Array.from({ length: width }, (_, k) => ((i * 31 + k * 7) % 13) / 13),
  );

const nodeLoop = (setup, step, isAsync) => `import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const ort = require(${ortNode});
${setup}
const call = ${isAsync ? `async () => { await ${step}; }` : `() => { ${step}; }`};
for (const w = performance.now() + 300; performance.now() < w; ) ${isAsync ? 'await ' : ''}call();
let n = 0; const c0 = process.cpuUsage(); const t0 = performance.now(); const end = t0 + ${seconds * 1000};
while (performance.now() < end) { for (let i = 0; i < 100; i++) ${isAsync ? 'await ' : ''}call(); n += 100; }
const wall = ((performance.now() - t0) * 1000) / n; const c = process.cpuUsage(c0);
console.log(JSON.stringify({ wall, cpu: (c.user + c.system) / n }));`;

function sides(batch) {
  // Through a file: a batch of 32 wide rows would pass the kernel's limit on one command-line argument.
  const file = join(work, `rows-${batch}.json`);
  writeFileSync(file, JSON.stringify(rowsFor(batch)));
  const rows = `JSON.parse(require('node:fs').readFileSync(${JSON.stringify(file)}, 'utf8'))`;
  const common = `const opts = { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' };
const s = await ort.InferenceSession.create(${JSON.stringify(model)}, opts);
const feeds = { [s.inputNames[0]]: new ort.Tensor('float32', Float32Array.from(${rows}.flat()), [${batch}, ${width}]) };
const names = s.outputNames; const fetchObj = Object.fromEntries(names.map((n) => [n, null]));`;
  const bindingSetup = `${common}
const { binding, initOrt } = require(${ortBinding});
initOrt();
const b = new binding.InferenceSession();
b.loadModel(${JSON.stringify(model)}, opts);`;
  const out = {
    public: ['node', nodeLoop(common, 's.run(feeds, names)', true)],
    handler: ['node', nodeLoop(common, 's.handler.run(feeds, fetchObj, {})', true)],
    binding: ['node', nodeLoop(bindingSetup, 'b.run(feeds, fetchObj, {})', false)],
    bindingAwait: ['node', nodeLoop(bindingSetup, 'b.run(feeds, fetchObj, {})', true)],
    bindingOneFetch: [
      'node',
      nodeLoop(
        `${bindingSetup}
const one = { [names.at(-1)]: null };`,
        'b.run(feeds, one, {})',
        false,
      ),
    ],
  };
  if (python) {
    out.python = [
      python,
      `import time, json, numpy as np, onnxruntime as ort
o = ort.SessionOptions(); o.intra_op_num_threads = 1; o.inter_op_num_threads = 1
s = ort.InferenceSession(${JSON.stringify(model)}, o, providers=['CPUExecutionProvider'])
x = np.array(json.load(open(${JSON.stringify(file)})), dtype=np.float32); names = [v.name for v in s.get_outputs()]; feeds = {s.get_inputs()[0].name: x}
w = time.perf_counter() + 0.3
while time.perf_counter() < w: s.run(names, feeds)
n = 0; c0 = time.process_time(); t0 = time.perf_counter(); end = t0 + ${seconds}
while time.perf_counter() < end:
    for _ in range(100): s.run(names, feeds)
    n += 100
print(json.dumps({'wall': (time.perf_counter() - t0) * 1e6 / n, 'cpu': (time.process_time() - c0) * 1e6 / n}))`,
    ];
  }
  return out;
}

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
if (mlp) buildMlp(python, model);
const results = [];
for (const batch of [1, 32]) {
  const all = sides(batch);
  const got = Object.fromEntries(Object.keys(all).map((k) => [k, { wall: [], cpu: [] }]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, [cmd, code]] of Object.entries(all)) {
      const m = JSON.parse(time(cmd, cmd === 'node' ? ['--input-type=module', '-e', code] : ['-c', code]).stdout);
      got[name].wall.push(m.wall);
      got[name].cpu.push(m.cpu);
    }
  }
  const row = { batch };
  for (const kind of ['cpu', 'wall']) {
    const med = Object.fromEntries(Object.entries(got).map(([k, v]) => [k, median(v[kind])]));
    row[`${kind}UsPerCall`] = Object.fromEntries(Object.entries(med).map(([k, v]) => [k, Number(v.toFixed(2))]));
    if (med.python)
      row[`${kind}RateVsPython`] = Object.fromEntries(Object.entries(med).map(([k, v]) => [k, Number((med.python / v).toFixed(2))]));
  }
  results.push(row);
}
rmSync(work, { recursive: true, force: true });
console.log(JSON.stringify({ node: process.version, model: mlp ? 'mlp (built at run time)' : model, seconds, rounds, results }, null, 2));
