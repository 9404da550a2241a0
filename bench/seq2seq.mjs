// Encoder-decoder generation, modelctl against transformers.js (@huggingface/transformers 4.3.2, the same
// onnxruntime-node), on the same exported files, one process, one run side by side:
//
//   npm run build && node bench/seq2seq.mjs --python .venv-convert/torch/bin/python [--texts 8] [--tokens 32]
//     [--rounds 1] [--modelctl-only]
//
// The fixtures' T5 and BART (fixtures/models/s2s-*) are exported with `modelctl export` into a temporary registry;
// transformers.js reads the same encoder_model.onnx and decoder_model_merged.onnx from its onnx/ layout with the
// version's config, generation config and tokenizer beside them. Both sides run each text greedily (and modelctl by
// beam search, 4 beams) after one warm-up text; printed: new tokens, wall time, decode tokens/s, and whether the
// greedy tokens are the same. With --rounds N, modelctl's wall time is the median of N runs of all the texts (and its
// fastest); --modelctl-only leaves transformers.js out (to compare modelctl with itself, e.g. before and after a change).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SEQ2SEQ_TEXTS } from './lib.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    python: { type: 'string' },
    texts: { type: 'string', default: '8' },
    tokens: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '1' },
    'modelctl-only': { type: 'boolean', default: false },
  },
});
if (!values.python) throw new Error('give --python: the hf converter interpreter (.venv-convert/torch/bin/python)');
const TEXTS = SEQ2SEQ_TEXTS.slice(0, Number(values.texts));
const maxNewTokens = Number(values.tokens);
const rounds = Number(values.rounds);

const work = mkdtempSync(join(tmpdir(), 'modelctl-bench-s2s-'));
const home = join(work, 'home');
const { Registry, openPredictor } = await import(join(root, 'dist', 'index.js'));
const { AutoTokenizer, AutoModelForSeq2SeqLM, env } = await import(
  join(root, 'node_modules', '@huggingface', 'transformers', 'dist', 'transformers.node.mjs')
);
env.localModelPath = `${work}/tjs/`;
env.allowRemoteModels = false;

function report(fixture, rows) {
  const greedy = rows[0].ids;
  console.log(`\n${fixture}: ${TEXTS.length} texts, at most ${maxNewTokens} new tokens each, 1 thread`);
  console.log('| side | new tokens | wall ms | tokens/s | greedy tokens equal to modelctl greedy |');
  console.log('| --- | ---: | ---: | ---: | --- |');
  for (const r of rows) {
    const equal = r.ids.every((ids, i) => JSON.stringify(ids) === JSON.stringify(greedy[i]));
    console.log(`| ${r.side} | ${r.tokens} | ${r.ms.toFixed(1)} | ${((r.tokens * 1000) / r.ms).toFixed(0)} | ${equal ? 'yes' : 'no'} |`);
  }
}

async function time(fn) {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

try {
  for (const fixture of ['s2s-t5-tiny', 's2s-bart-tiny']) {
    execFileSync(
      process.execPath,
      [
        join(root, 'bin', 'modelctl.cjs'),
        'export',
        join(root, 'fixtures', 'models', fixture),
        '--name',
        fixture,
        '--python',
        values.python,
      ],
      { env: { ...process.env, MODELCTL_HOME: home }, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const registry = new Registry({ home });
    const manifest = await registry.resolve({ kind: 'registry', name: fixture });
    const view = await registry.materialize(manifest);
    const tjs = join(work, 'tjs', fixture);
    mkdirSync(join(tjs, 'onnx'), { recursive: true });
    for (const f of manifest.files) copyFileSync(join(view, f.path), join(tjs, f.path.endsWith('.onnx') ? join('onnx', f.path) : f.path));

    const rows = [];
    for (const numBeams of [1, 4]) {
      const predictor = await openPredictor({
        model: fixture,
        registry,
        threads: 1,
        generation: { maxNewTokens, numBeams, doSample: false },
      });
      await predictor.run({ kind: 'texts', texts: [TEXTS[0]] });
      const runs = [];
      for (let i = 0; i < rounds; i++) runs.push(await time(() => predictor.run({ kind: 'texts', texts: TEXTS })));
      await predictor.close();
      const { value } = runs[0];
      const times = runs.map((r) => r.ms).sort((a, b) => a - b);
      const ms = times[Math.floor((times.length - 1) / 2)];
      const tokens = value.predictions.reduce((n, p) => n + p.tokens.length, 0);
      const side = `modelctl, ${numBeams} beam${numBeams > 1 ? 's' : ''}${rounds > 1 ? ` (median of ${rounds}, fastest ${times[0].toFixed(1)} ms)` : ''}`;
      rows.push({ side, tokens, ms, ids: value.predictions.map((p) => p.tokens) });
    }
    if (values['modelctl-only']) {
      report(fixture, rows);
      continue;
    }
    const tokenizer = await AutoTokenizer.from_pretrained(fixture);
    const model = await AutoModelForSeq2SeqLM.from_pretrained(fixture, {
      dtype: 'fp32',
      device: 'cpu',
      session_options: { intraOpNumThreads: 1, interOpNumThreads: 1 },
    });
    const tjsGenerate = async (text) => {
      const inputs = await tokenizer(text);
      const out = await model.generate({ ...inputs, max_new_tokens: maxNewTokens, num_beams: 1, do_sample: false });
      // Its sequences start with the decoder start token.
      return Array.from(out.tolist()[0].slice(1), Number);
    };
    await tjsGenerate(TEXTS[0]);
    const { value: tjsIds, ms: tjsMs } = await time(async () => {
      const all = [];
      for (const text of TEXTS) all.push(await tjsGenerate(text));
      return all;
    });
    rows.push({ side: 'transformers.js, greedy', tokens: tjsIds.reduce((n, t) => n + t.length, 0), ms: tjsMs, ids: tjsIds });
    await model.dispose();
    report(fixture, rows);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
