// Beam search's reordering of the self-attention cache (src/tasks/generation/seq2seq-decoder.ts), on the beam orders
// the fixtures' T5 and BART really take:
//
//   npm run build && node bench/beam-reorder.mjs --python .venv-convert/torch/bin/python [--beams 4] [--tokens 32] [--rounds 9]
//
// The fixtures (fixtures/models/s2s-*) are exported with `modelctl export` into a temporary registry and run by beam
// search over the texts below; every step's `sources` (which beam each row continues) is recorded. Printed: how often
// a step keeps every beam in place and how many rows change, then the time to replay those reorders on a cache of the
// fixture's own shape and of a BART-base-sized one (6 layers, 12 heads of 64, the length growing by one a step):
// "copy all rows" is what the decoder did up to 24beccf (a new array per layer per step, every row copied into it),
// "in place" is rowPlan + applyRowPlan as built in dist/ (the rows that change only, within the buffer). Median of
// the rounds, each round replaying every recorded search once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SEQ2SEQ_TEXTS, bin, median, opt, root, time } from './lib.mjs';

const python = opt('python');
if (!python) throw new Error('give --python: the hf converter interpreter (.venv-convert/torch/bin/python)');
const numBeams = Number(opt('beams', '4'));
const maxNewTokens = Number(opt('tokens', '32'));
const rounds = Number(opt('rounds', '9'));
const TEXTS = SEQ2SEQ_TEXTS;

const { Registry, openPredictor } = await import(join(root, 'dist', 'index.js'));
const { Seq2SeqDecoderState, applyRowPlan, rowPlan } = await import(join(root, 'dist', 'tasks', 'generation', 'seq2seq-decoder.js'));

// Every step's sources, per search (the step method is wrapped; the reorder itself runs as built).
let searches = [];
const step = Seq2SeqDecoderState.prototype.step;
Seq2SeqDecoderState.prototype.step = function (tokens, sources) {
  if (sources) searches.at(-1)?.push([...sources]);
  return step.call(this, tokens, sources);
};

/** The decoder before 24beccf: a new array per layer, every row copied into it. */
function copyAllRows(data, rows, sources) {
  const size = data.length / rows;
  const out = new Float32Array(sources.length * size);
  sources.forEach((s, r) => out.set(data.subarray(s * size, (s + 1) * size), r * size));
  return out;
}

/**
 * Replays `recorded` on caches of `layers` key/value pairs of [beams, heads, length, headDim], each step a fresh cache
 * one position longer (as onnxruntime-node returns its outputs); the ms spent reordering.
 */
function replay(recorded, shape, inPlace) {
  const { layers, heads, headDim } = shape;
  let ms = 0;
  let scratch = new Float32Array(0);
  for (const steps of recorded) {
    for (const [i, sources] of steps.entries()) {
      let caches = Array.from({ length: 2 * layers }, () => new Float32Array(numBeams * heads * (i + 2) * headDim).fill(i));
      const t0 = performance.now();
      if (inPlace) {
        const plan = rowPlan(sources);
        if (plan) for (const c of caches) scratch = applyRowPlan(c, c.length / numBeams, plan, scratch);
      } else if (sources.some((s, r) => s !== r)) {
        caches = caches.map((c) => copyAllRows(c, numBeams, sources));
      }
      ms += performance.now() - t0;
    }
  }
  return ms;
}

const work = mkdtempSync(join(tmpdir(), 'modelctl-bench-reorder-'));
const home = join(work, 'home');
try {
  for (const fixture of ['s2s-t5-tiny', 's2s-bart-tiny']) {
    time('node', [bin, 'export', join(root, 'fixtures', 'models', fixture), '--name', fixture, '--python', python], {
      MODELCTL_HOME: home,
    });
    const registry = new Registry({ home });
    const predictor = await openPredictor({
      model: fixture,
      registry,
      threads: 1,
      generation: { maxNewTokens, numBeams, doSample: false },
    });
    searches = [];
    for (const text of TEXTS) {
      searches.push([]);
      await predictor.run({ kind: 'texts', texts: [text] });
    }
    await predictor.close();
    const steps = searches.flat();
    const kept = steps.filter((s) => s.every((x, r) => x === r)).length;
    const changed = steps.reduce((n, s) => n + s.filter((x, r) => x !== r).length, 0);
    const saved = steps.reduce((n, s) => n + (rowPlan(s)?.save.length ?? 0), 0);
    console.log(`\n${fixture}: ${TEXTS.length} texts, ${numBeams} beams, at most ${maxNewTokens} new tokens`);
    console.log(
      `${steps.length} reorders: ${kept} keep every beam in place; rows that change: ${changed} of ${steps.length * numBeams} ` +
        `(${((100 * changed) / (steps.length * numBeams)).toFixed(0)}%), saved first: ${saved}`,
    );
    // Both fixtures' decoders: 2 layers, 4 heads of 8 (config.json).
    const shapes = [
      { name: 'the fixture’s (2 layers, 4 heads of 8)', layers: 2, heads: 4, headDim: 8 },
      { name: 'BART-base size (6 layers, 12 heads of 64)', layers: 6, heads: 12, headDim: 64 },
    ];
    console.log('| cache | copy all rows, ms | in place, ms | in place / copy all |');
    console.log('| --- | ---: | ---: | ---: |');
    for (const shape of shapes) {
      const before = median(Array.from({ length: rounds }, () => replay(searches, shape, false)));
      const after = median(Array.from({ length: rounds }, () => replay(searches, shape, true)));
      console.log(`| ${shape.name} | ${before.toFixed(2)} | ${after.toFixed(2)} | ${(after / before).toFixed(2)} |`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
