/**
 * Token classification (NER) against transformers 5 pipeline("token-classification"), every aggregation strategy
 * it has. The fixture optimum-bert-ner carries only its ONNX file (no PyTorch weights), so the reference pipeline
 * gets a BertForTokenClassification whose forward runs that same ONNX file in onnxruntime
 * (py/token_classification.py): the tokenization, truncation to the model's 64 positions (the pipeline's default),
 * softmax, word merging and grouping compared here are the pipeline's own.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/predict/predict.js';
import { AGGREGATIONS, type TokenEntity } from '../../src/tasks/token-classification.js';
import { FIXTURES } from '../helpers.js';
import { parityPython, reference } from './reference.js';
import { LONG_TEXTS, TEXTS } from './texts.js';

const FOLDER = join(FIXTURES, 'optimum-bert-ner');

interface Reference {
  entities: Record<string, TokenEntity[][]>;
  lengths: number[];
}

const withoutScore = ({ score: _, ...rest }: TokenEntity) => rest;

describe('token-classification: modelctl against transformers’ pipeline over the same ONNX file', () => {
  it('every aggregation strategy, on short, long, accented, non-Latin and emoji texts: the same entities', {
    timeout: 240_000,
  }, async () => {
    const python = parityPython();
    if (!python) return;
    const ref = await reference<Reference>(python, 'token_classification', { folder: FOLDER, texts: TEXTS, strategies: AGGREGATIONS });
    expect(ref.lengths.filter((n) => n > 64)).toHaveLength(LONG_TEXTS.length);
    const differ: string[] = [];
    let maxScoreDiff = 0;
    for (const aggregation of AGGREGATIONS) {
      const r = await predict({ model: join(FOLDER, 'model.onnx'), input: { kind: 'texts', texts: TEXTS }, threads: 1, aggregation });
      const want = ref.entities[aggregation] as TokenEntity[][];
      // A test that compares nothing proves nothing: the random model tags something in most texts.
      expect(want.filter((es) => es.length > 0).length).toBeGreaterThan(TEXTS.length / 2);
      (r.predictions ?? []).forEach((p, i) => {
        const got = p.entities ?? [];
        const expected = want[i] ?? [];
        if (JSON.stringify(got.map(withoutScore)) !== JSON.stringify(expected.map(withoutScore)))
          differ.push(
            `${aggregation} text ${i + 1}: ${JSON.stringify(got.map(withoutScore))} vs ${JSON.stringify(expected.map(withoutScore))}`,
          );
        else expected.forEach((e, k) => (maxScoreDiff = Math.max(maxScoreDiff, Math.abs(e.score - (got[k] as TokenEntity).score))));
      });
      // What the pipeline cuts (it truncates to model_max_length by default), modelctl cuts and flags.
      expect((r.predictions ?? []).map((p) => p.truncated === true)).toEqual(ref.lengths.map((n) => n > 64));
    }
    expect(differ).toEqual([]);
    expect(maxScoreDiff).toBeLessThan(1e-4);
  });
});
