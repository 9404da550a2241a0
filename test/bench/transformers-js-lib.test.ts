import { describe, expect, it } from 'vitest';
import { compareAll, compareItem, cosine, describeComparison, fromOurs, fromTjs } from '../../bench/transformers-js-lib.mjs';

// The comparison bench/transformers-js.mjs prints: each side's answer in one form, then labels, entities, answers
// and spans equal, and the largest difference of the numbers both sides give.
describe('bench/transformers-js-lib: the output comparison of modelctl and transformers.js', () => {
  it('compares classification by best label and label by label, whatever order each side lists them in', () => {
    const ours = fromOurs('text-classification', {
      labels: [
        { label: 'negative', score: 0.4957807918871202 },
        { label: 'positive', score: 0.5042192081128798 },
      ],
    });
    const tjs = fromTjs('text-classification', [
      { label: 'positive', score: 0.5042192339897156 },
      { label: 'negative', score: 0.4957807958126068 },
    ]);
    expect(ours.labels?.[0]?.label).toBe('positive');
    const c = compareItem('text-classification', ours, tjs);
    expect(c.same).toBe(true);
    expect(c.diff).toBeCloseTo(0.5042192339897156 - 0.5042192081128798, 15);
    const flipped = fromTjs('text-classification', [
      { label: 'negative', score: 0.51 },
      { label: 'positive', score: 0.49 },
    ]);
    expect(compareItem('text-classification', ours, flipped).same).toBe(false);
  });

  it('counts an entity one side leaves out (transformers.js drops [UNK] tokens) as a difference, spans only where both give them', () => {
    const ours = fromOurs('token-classification', {
      entities: [
        { entity: 'I-PER', score: 0.64, index: 1, word: 'the', start: 0, end: 3 },
        { entity: 'I-PER', score: 0.42, index: 11, word: 'jumps', start: 20, end: 25 },
      ],
    });
    const tjs = fromTjs('token-classification', [{ entity: 'I-PER', score: 0.6400001, index: 1, word: 'the' }]);
    const dropped = compareItem('token-classification', ours, tjs);
    expect(dropped.same).toBe(false);
    expect(dropped.diff).toBeCloseTo(1e-7, 12);
    const both = fromTjs('token-classification', [
      { entity: 'I-PER', score: 0.64, index: 1, word: 'the' },
      { entity: 'I-PER', score: 0.42, index: 11, word: 'jumps' },
    ]);
    expect(compareItem('token-classification', ours, both)).toEqual({ same: true, diff: 0 });
    const moved = { entities: (ours.entities ?? []).map((e) => ({ ...e, start: (e.start ?? 0) + 1 })) };
    expect(compareItem('token-classification', ours, moved).same).toBe(false);
  });

  it('compares answers by text and, where both sides give them, by span', () => {
    const ours = fromOurs('question-answering', { answer: 'fast on two cores', score: 0.128, start: 16, end: 33 });
    expect(compareItem('question-answering', ours, fromTjs('question-answering', { answer: 'fast on two cores', score: 0.127 }))).toEqual({
      same: true,
      diff: expect.closeTo(0.001, 12),
    });
    expect(compareItem('question-answering', ours, { answer: 'fast on two cores', score: 0.128, start: 0, end: 17 }).same).toBe(false);
    expect(compareItem('question-answering', ours, { answer: 'two cores', score: 0.128 }).same).toBe(false);
  });

  it('gives the largest component difference and the cosine of embeddings; vectors of other lengths are not the same', () => {
    const a = { embedding: [3, 4, 0] };
    const b = fromTjs('feature-extraction', [0.6, 0.8, 0]);
    const c = compareItem('feature-extraction', a, b);
    expect(c.diff).toBeCloseTo(3.2, 12);
    expect(c.cos).toBeCloseTo(1, 12);
    expect(cosine([1, 0], [0, 1])).toBe(0);
    expect(compareItem('feature-extraction', a, { embedding: [3, 4] }).same).toBe(false);
  });

  it('sums up items: agreements, largest difference, smallest cosine, errors on either side', () => {
    const as = [{ embedding: [1, 0] }, { embedding: [0, 1] }, { error: 'text too long' }];
    const bs = [{ embedding: [1, 0] }, { embedding: [0.1, 1] }, { embedding: [1, 1] }];
    const c = compareAll('feature-extraction', as, bs);
    expect(c).toEqual({ n: 3, same: 2, diff: expect.closeTo(0.1, 12), cos: expect.closeTo(1 / Math.sqrt(1.01), 12), errors: 1 });
    expect(describeComparison(c)).toBe('2/3 same, max abs diff 1.0e-1, min cos 0.995037, 1 errors');
  });
});
