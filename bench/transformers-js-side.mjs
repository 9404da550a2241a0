#!/usr/bin/env node
// One side of bench/transformers-js.mjs, in its own process: `node bench/transformers-js-side.mjs SPEC.json`.
// SPEC: { side: 'ours' | 'tjs', mode: 'rate' | 'outputs', task, kind, items, batch, seconds, threads,
//         ref, home (ours: a registry model), tjsRoot, tjsModel (transformers.js: env.localModelPath and the model id) }.
// 'rate' prints { rate: items per second of wall time, cpu: CPU ms per item (every thread of the process: onnxruntime's,
// libvips's) } over a timed loop (after a 0.5 s warm-up) on the first `batch` items;
// 'outputs' prints the predictions for every item, in the common form of ./transformers-js-lib.mjs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './lib.mjs';
import { fromOurs, fromTjs } from './transformers-js-lib.mjs';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));

/** A function that predicts a batch of items and returns the side's own answer (converted only in 'outputs'). */
async function open() {
  if (spec.side === 'ours') {
    const { Registry, openPredictor } = await import(join(root, 'dist', 'index.js'));
    const registry = new Registry({ home: spec.home });
    const p = await openPredictor({ model: spec.ref, registry, threads: spec.threads, batchSize: Math.max(spec.batch, 1) });
    const wrap = {
      texts: (items) => ({ kind: 'texts', texts: items }),
      questions: (items) => ({ kind: 'questions', pairs: items }),
      images: (items) => ({ kind: 'images', files: items }),
    }[spec.kind];
    return async (items) => (await p.run(wrap(items))).predictions;
  }
  const { pipeline, env } = await import(join(root, 'node_modules', '@huggingface', 'transformers', 'dist', 'transformers.node.mjs'));
  env.localModelPath = spec.tjsRoot;
  env.allowRemoteModels = false;
  const pipe = await pipeline(spec.task, spec.tjsModel, {
    dtype: 'fp32',
    device: 'cpu',
    session_options: { intraOpNumThreads: spec.threads, interOpNumThreads: spec.threads },
  });
  if (spec.task === 'feature-extraction') {
    // What the model card of all-MiniLM-L6-v2 gives transformers.js users: mean pooling, unit length.
    return async (items) => (await pipe(items, { pooling: 'mean', normalize: true })).tolist();
  }
  if (spec.task === 'question-answering') {
    return async (items) =>
      pipe(
        items.map((q) => q.question),
        items.map((q) => q.context),
      );
  }
  if (spec.task === 'token-classification') return async (items) => pipe(items);
  // Every label with its score, as modelctl gives by default.
  return async (items) => pipe(items, { top_k: null });
}

const predict = await open();
if (spec.mode === 'outputs') {
  const out = [];
  // One item per call: an item one side cannot answer is reported alone instead of failing the batch.
  for (const item of spec.items) {
    try {
      const answer = await predict([item]);
      out.push(spec.side === 'ours' ? fromOurs(spec.task, answer[0]) : fromTjs(spec.task, answer[0]));
    } catch (e) {
      out.push({
        error: String(e?.message ?? e)
          .split('\n')[0]
          .slice(0, 200),
      });
    }
  }
  console.log(JSON.stringify(out));
} else {
  const items = spec.items.slice(0, spec.batch);
  for (const w = performance.now() + 500; performance.now() < w; ) await predict(items);
  let n = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + spec.seconds * 1000;
  while (performance.now() < end) {
    await predict(items);
    n++;
  }
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  console.log(JSON.stringify({ rate: (n * items.length) / (wall / 1000), cpu: (cpu.user + cpu.system) / 1000 / (n * items.length) }));
}
