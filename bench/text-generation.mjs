#!/usr/bin/env node
// Text generation, side by side in one run on the same ONNX file (a registry version's blob): modelctl's loop
// (openPredictor().run, dist/index.js), transformers.js 4.3.2's generate() (the same onnxruntime-node), and
// optimum's ORTModelForCausalLM.generate() (Python onnxruntime, the hf converter environment). Greedy, one prompt,
// exactly --tokens new tokens on every side (modelctl: stopAtEos false; transformers.js and optimum: min_new_tokens,
// which masks the end tokens, so their tokens may part from modelctl's after an end token would have come).
// Time to first token (prompt run + first choice) and decode tokens/s (the tokens after the first) are the medians
// of --rounds warm runs in one process per side, after one warm-up run; --threads intra-op threads on every side.
// Models: fixtures/models/gen-gpt2-tiny and gen-llama-tiny, and a mid-size random GPT-2 built here (`mid`: hidden
// 384, 6 layers, 512 positions, transformers' default initializer, the tiny GPT-2's tokenizer), each exported with `modelctl export`.
// Usage: npm run build && node bench/text-generation.mjs [--tokens 48] [--rounds 7] [--threads 1]
//   [--convert-python .venv-convert/torch/bin/python] [--keep]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin, opt, root, time } from './lib.mjs';

const tokens = Number(opt('tokens', '48'));
const rounds = Number(opt('rounds', '7'));
const threads = Number(opt('threads', '1'));
const python = opt('convert-python', [join(root, '.venv-convert', 'torch', 'bin', 'python')].find(existsSync));
if (!python) throw new Error('the hf converter environment is needed: --convert-python PATH');
const work = mkdtempSync(join(tmpdir(), 'modelctl-bench-textgen-'));
const home = join(work, 'home');
const prompt = 'The quick brown fox jumps over';

// The mid-size model: the tiny GPT-2's tokenizer over a wider, deeper random GPT-2.
const mid = join(work, 'gen-gpt2-mid');
time(python, [
  '-c',
  `import sys, torch
from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel
tok = AutoTokenizer.from_pretrained(sys.argv[1]); tok.model_max_length = 512
torch.manual_seed(0)
m = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_positions=512, n_embd=384, n_layer=6, n_head=6,
                               bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id))
m.save_pretrained(sys.argv[2]); tok.save_pretrained(sys.argv[2])`,
  join(root, 'fixtures', 'models', 'gen-gpt2-tiny'),
  mid,
]);

const models = [
  { name: 'gpt2-tiny', folder: join(root, 'fixtures', 'models', 'gen-gpt2-tiny') },
  { name: 'llama-tiny', folder: join(root, 'fixtures', 'models', 'gen-llama-tiny') },
  { name: 'gpt2-mid', folder: mid },
];

/** The registry version's files linked into transformers.js's layout (onnx/model.onnx) and a flat one for optimum. */
async function layouts(name) {
  const { Registry } = await import(join(root, 'dist', 'index.js'));
  const { manifest } = await new Registry({ home }).info(name);
  const tjs = join(work, 'tjs', name);
  const flat = join(work, 'flat', name);
  mkdirSync(join(tjs, 'onnx'), { recursive: true });
  mkdirSync(flat, { recursive: true });
  for (const f of manifest.files) {
    const blob = join(home, 'blobs', 'sha256', f.sha256.slice(0, 2), f.sha256);
    symlinkSync(blob, join(flat, f.path));
    symlinkSync(blob, f.path.endsWith('.onnx') ? join(tjs, 'onnx', 'model.onnx') : join(tjs, f.path));
  }
  return { tjs, flat };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const modelctlSide = `
const { openPredictor, Registry } = await import(${JSON.stringify(join(root, 'dist', 'index.js'))});
const [name, home, prompt, n, rounds, threads] = process.argv.slice(1);
const p = await openPredictor({ model: name, registry: new Registry({ home }), threads: Number(threads),
  generation: { maxNewTokens: Number(n), doSample: false, stopAtEos: false } });
const ttft = [], tps = []; let ids;
for (let r = 0; r <= Number(rounds); r++) {
  const out = (await p.run({ kind: 'texts', texts: [prompt] })).predictions[0];
  if (r === 0) continue;
  ttft.push(out.timings.first_token_ms); tps.push(out.timings.decode_tokens_per_second); ids = out.tokens;
}
await p.close();
console.log(JSON.stringify({ ttft, tps, tokens: ids }));`;

const tjsSide = `
const { env, AutoModelForCausalLM, AutoTokenizer } = await import(${JSON.stringify(join(root, 'node_modules', '@huggingface', 'transformers', 'dist', 'transformers.node.mjs'))});
const [dir, prompt, n, rounds, threads] = process.argv.slice(1);
env.localModelPath = dir + '/..'; env.allowRemoteModels = false;
const name = dir.split('/').pop();
const tok = await AutoTokenizer.from_pretrained(name);
const model = await AutoModelForCausalLM.from_pretrained(name, { dtype: 'fp32',
  session_options: { intraOpNumThreads: Number(threads), interOpNumThreads: Number(threads) } });
const ttft = [], tps = []; let ids;
for (let r = 0; r <= Number(rounds); r++) {
  const inputs = tok(prompt);
  const stamps = [];
  const t0 = performance.now();
  const streamer = { put() { stamps.push(performance.now()); }, end() {} };
  const out = await model.generate({ ...inputs, max_new_tokens: Number(n), min_new_tokens: Number(n), do_sample: false, streamer });
  const end = performance.now();
  if (r === 0) continue;
  // put() gets the prompt first, then each new token.
  ttft.push(stamps[1] - t0); tps.push(((Number(n) - 1) * 1000) / (end - stamps[1]));
  ids = out.tolist()[0].map(Number).slice(inputs.input_ids.dims[1]);
}
console.log(JSON.stringify({ ttft, tps, tokens: ids }));`;

const optimumSide = `
import json, sys, time
import onnxruntime
from optimum.onnxruntime import ORTModelForCausalLM
from transformers import AutoTokenizer
from transformers.generation.streamers import BaseStreamer
folder, prompt, n, rounds, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
options = onnxruntime.SessionOptions(); options.intra_op_num_threads = threads; options.inter_op_num_threads = threads
model = ORTModelForCausalLM.from_pretrained(folder, use_cache=True, session_options=options, provider="CPUExecutionProvider")
tok = AutoTokenizer.from_pretrained(folder)
class Stamps(BaseStreamer):
    def __init__(self): self.t = []
    def put(self, value): self.t.append(time.perf_counter())
    def end(self): pass
ttft, tps = [], []
for r in range(rounds + 1):
    x = tok(prompt, return_tensors="pt", return_token_type_ids=False)
    s = Stamps(); t0 = time.perf_counter()
    out = model.generate(**x, max_new_tokens=n, min_new_tokens=n, do_sample=False, streamer=s, pad_token_id=tok.eos_token_id)
    end = time.perf_counter()
    if r == 0: continue
    ttft.append((s.t[1] - t0) * 1000); tps.append((n - 1) / (end - s.t[1]))
    ids = out[0, x["input_ids"].shape[1]:].tolist()
print(json.dumps({"ttft": ttft, "tps": tps, "tokens": ids, "onnxruntime": onnxruntime.__version__}))`;

function side(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, OMP_NUM_THREADS: String(threads) } });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

const fmt = (x, d = 1) => x.toFixed(d);
const rows = [];
try {
  for (const m of models) {
    time('node', [bin, 'export', m.folder, '--name', m.name, '--python', python], { MODELCTL_HOME: home });
    const { tjs, flat } = await layouts(m.name);
    const ours = side('node', [
      '--input-type=module',
      '-e',
      modelctlSide,
      m.name,
      home,
      prompt,
      String(tokens),
      String(rounds),
      String(threads),
    ]);
    const js = side('node', ['--input-type=module', '-e', tjsSide, tjs, prompt, String(tokens), String(rounds), String(threads)]);
    const py = side(python, ['-c', optimumSide, flat, prompt, String(tokens), String(rounds), String(threads)]);
    const same = (a) => a.tokens.every((t, i) => t === ours.tokens[i]);
    rows.push(
      `| ${m.name} | ${fmt(median(ours.ttft))} / ${fmt(median(js.ttft))} / ${fmt(median(py.ttft))} | ` +
        `${fmt(median(ours.tps), 0)} / ${fmt(median(js.tps), 0)} / ${fmt(median(py.tps), 0)} | ` +
        `${same(js) ? 'same' : 'differ'} / ${same(py) ? 'same' : 'differ'} |`,
    );
    writeFileSync(join(work, `${m.name}.json`), JSON.stringify({ ours, js, py }, null, 1));
  }
  console.log(`${tokens} new tokens, greedy, ${threads} thread(s), median of ${rounds} warm runs; prompt ${JSON.stringify(prompt)}\n`);
  console.log(
    '| model | time to first token, ms: modelctl / transformers.js / optimum | decode tokens/s: modelctl / transformers.js / optimum | tokens vs modelctl: tjs / optimum |',
  );
  console.log('| --- | --- | --- | --- |');
  for (const r of rows) console.log(r);
} finally {
  if (process.argv.includes('--keep')) console.error(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
