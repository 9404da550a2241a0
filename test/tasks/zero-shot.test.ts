/**
 * The zero-shot pipeline's arguments as modelctl reads them, without a model: candidate labels, the hypothesis
 * template (Python's str.format with one label) and which logit is entailment. Scores against the pipeline are in
 * test/parity/zero-shot-classification.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { ModelctlError } from '../../src/errors.js';
import { zeroShotFields } from '../../src/predict/text.js';
import { entailmentId, hypothesis, parseCandidateLabels } from '../../src/tasks/zero-shot-classification.js';

describe('zero-shot arguments', () => {
  it('candidate labels: a list as given, or a comma-separated string trimmed with empty ones dropped', () => {
    expect(parseCandidateLabels(' sports, politics ,,the model ', 'x')).toEqual(['sports', 'politics', 'the model']);
    expect(parseCandidateLabels([' a ', 'b, c'], 'x')).toEqual([' a ', 'b, c']);
    for (const bad of ['', ' , ', [], [1], undefined]) expect(() => parseCandidateLabels(bad, 'x')).toThrow(/needs candidate labels/);
  });

  it('hypothesis templates: {} and {0} take the label, {{ and }} are braces; a template without a slot is refused', () => {
    expect(hypothesis('This example is {}.', 'sports')).toBe('This example is sports.');
    expect(hypothesis('{0}, {{really}} {}', 'x')).toBe('x, {really} x');
    expect(() => hypothesis('no slot', 'x')).toThrow(/has no \{\} for the label/);
    expect(() => hypothesis('{name}', 'x')).toThrow(/only \{\} \(the label\) may stand in braces/);
    expect(() => hypothesis('a } b {}', 'x')).toThrow(/lone \}/);
  });

  it('entailment: the first label2id name starting with "entail" (any case), else id2label; none is refused', () => {
    expect(entailmentId({ label2id: { contradiction: 0, neutral: 1, entailment: 2 } })).toBe(2);
    expect(entailmentId({ label2id: { ENTAILMENT: 0, NEUTRAL: 1, CONTRADICTION: 2 } })).toBe(0);
    expect(entailmentId({ id2label: { 0: 'not_entailment', 1: 'entails' } })).toBe(1);
    expect(() => entailmentId({ label2id: { LABEL_0: 0, LABEL_1: 1 } })).toThrow(/labels name no entailment label/);
    const hint = (() => {
      try {
        entailmentId({ label2id: { LABEL_0: 0, LABEL_1: 1 } });
      } catch (err) {
        return (err as ModelctlError).hint;
      }
    })();
    expect(hint).toMatch(/it has: LABEL_0, LABEL_1/);
  });

  it('a request’s keywords: candidate_labels, hypothesis_template, multi_label, checked', () => {
    expect(zeroShotFields({ candidate_labels: 'a,b', multi_label: true, hypothesis_template: 'It is {}' }, 'r')).toEqual({
      candidateLabels: ['a', 'b'],
      multiLabel: true,
      hypothesisTemplate: 'It is {}',
    });
    expect(zeroShotFields({ texts: ['x'] }, 'r')).toEqual({});
    expect(() => zeroShotFields({ multi_label: 'yes' }, 'r')).toThrow(/"multi_label" must be true or false/);
  });
});
