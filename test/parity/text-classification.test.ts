/**
 * Text classification against transformers 5 pipeline("text-classification") on the PyTorch model (hf-bert-tiny's
 * safetensors) that fixtures/models/optimum-bert/model.onnx was exported from: the user's two ways to classify the
 * same texts. A plain pipeline call fails on a text longer than the model's 64 positions (the position embeddings
 * run out); a user passes truncation=True, which cuts it to model_max_length as modelctl does (and flags).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/predict/predict.js';
import type { LabelScore } from '../../src/tasks/text-classification.js';
import { FIXTURES } from '../helpers.js';
import { parityPython, reference } from './reference.js';
import { LONG_TEXTS, TEXTS } from './texts.js';

interface Reference {
  labels: LabelScore[][];
  plain_error: Array<string | null>;
}

describe('text-classification: modelctl (ONNX export) against transformers’ pipeline (its PyTorch model)', () => {
  it('short, long, accented, non-Latin and emoji texts: the same labels in the same order, scores within 1e-4', {
    timeout: 240_000,
  }, async () => {
    const python = parityPython();
    if (!python) return;
    const ref = await reference<Reference>(python, 'text_classification', { folder: join(FIXTURES, 'hf-bert-tiny'), texts: TEXTS });
    const r = await predict({ model: join(FIXTURES, 'optimum-bert', 'model.onnx'), input: { kind: 'texts', texts: TEXTS }, threads: 1 });
    expect(r.task).toBe('text-classification');
    const got = r.predictions ?? [];
    expect(got.map((p) => p.labels?.map((l) => l.label))).toEqual(ref.labels.map((ls) => ls.map((l) => l.label)));
    const diffs = ref.labels.flatMap((ls, i) => ls.map((l, k) => Math.abs(l.score - (got[i]?.labels?.[k]?.score ?? Number.NaN))));
    expect(Math.max(...diffs)).toBeLessThan(1e-4);
    // This random-init model scores every text near 0.504: 1e-4 alone would not tell two tokenizations apart, the
    // graph and PyTorch agree to float32 rounding, so the same tokens must give the same scores to 1e-6.
    expect(Math.max(...diffs)).toBeLessThan(1e-6);
    // Exactly the texts a plain pipeline call refuses are the ones modelctl cuts and says so.
    expect(got.map((p) => p.truncated === true)).toEqual(ref.plain_error.map((e) => e !== null));
    expect(got.filter((p) => p.truncated)).toHaveLength(LONG_TEXTS.length);
    // --top-k 1: the pipeline's best label.
    const one = await predict({
      model: join(FIXTURES, 'optimum-bert', 'model.onnx'),
      input: { kind: 'texts', texts: TEXTS },
      threads: 1,
      topK: 1,
    });
    expect(one.predictions?.map((p) => p.labels?.map((l) => l.label))).toEqual(ref.labels.map((ls) => [ls[0]?.label]));
  });
});
