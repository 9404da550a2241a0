/**
 * Zero-shot classification against transformers 5 pipeline("zero-shot-classification") on the PyTorch NLI model
 * the ONNX export was made from: a random BertForSequenceClassification with id2label contradiction / neutral /
 * entailment (built by fixtures/export/build.py, exported by `modelctl export` as a text classifier, which
 * candidate labels make zero-shot). Labels in the pipeline's order, scores within 1e-4: single- and multi-label, one
 * candidate, a custom template, labels given as a comma-separated string, and premises longer than the model's 64
 * positions (only the premise is cut); through the library, the CLI and serve's /v1 endpoint.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { predict, type Prediction } from '../../src/predict/predict.js';
import { converterRoot } from '../convert/env.js';
import { cli } from '../helpers.js';
import { postJson, serve } from '../serve/helpers.js';
import { exportEncoders, maxDiff } from './encoders.js';
import { parityPython, reference } from './reference.js';
import { LONG_TEXTS, TEXTS } from './texts.js';

interface Result {
  sequence: string;
  labels: string[];
  scores: number[];
}

const LABELS = ['sports', 'politics', 'the model', 'fast and honest', 'Café résumé 🚀'];

function check(got: Prediction[] | undefined, want: Result[]): void {
  expect((got ?? []).map((p) => p.sequence)).toEqual(want.map((w) => w.sequence));
  expect((got ?? []).map((p) => p.labels?.map((l) => l.label))).toEqual(want.map((w) => w.labels));
  expect(
    maxDiff(
      (got ?? []).flatMap((p) => p.labels?.map((l) => l.score) ?? []),
      want.flatMap((w) => w.scores),
    ),
  ).toBeLessThan(1e-4);
}

describe('zero-shot-classification: modelctl (ONNX export) against transformers’ pipeline (its PyTorch model)', () => {
  it('single- and multi-label, one candidate, a custom template, comma-separated labels, long premises', async () => {
    const python = parityPython();
    const root = converterRoot();
    if (!python || !root) return;
    const e = await exportEncoders(root, ['bert-nli']);
    const folder = join(e.src, 'bert-nli');
    expect(LONG_TEXTS.length).toBeGreaterThan(0);
    const cases = [
      { candidate_labels: LABELS },
      { candidate_labels: LABELS, multi_label: true },
      { candidate_labels: ['sports'] },
      { candidate_labels: LABELS.slice(0, 3), hypothesis_template: 'The topic of {{this}} text is {}!' },
      { candidate_labels: ' sports, politics ,,the model ' },
    ];
    const refs = await reference<{ results: Result[][] }>(python, 'zero_shot', { folder, texts: TEXTS, cases });
    for (const [i, c] of cases.entries()) {
      const r = await predict({
        model: 'bert-nli',
        registry: e.registry,
        input: { kind: 'texts', texts: TEXTS },
        candidateLabels:
          typeof c.candidate_labels === 'string'
            ? c.candidate_labels
                .split(',')
                .map((l) => l.trim())
                .filter(Boolean)
            : c.candidate_labels,
        ...(c.multi_label ? { multiLabel: true } : {}),
        ...(c.hypothesis_template ? { hypothesisTemplate: c.hypothesis_template } : {}),
        batchSize: 7,
        threads: 1,
      });
      expect(r.task).toBe('zero-shot-classification');
      check(r.predictions, refs.results[i] as Result[]);
      // Long premises are cut, and said to be.
      expect(r.predictions?.filter((p) => p.truncated)).toHaveLength(LONG_TEXTS.length);
    }
  }, 240_000);

  it('the CLI (flags or an --input document of the pipeline’s keywords) and serve answer as the pipeline', async () => {
    const python = parityPython();
    const root = converterRoot();
    if (!python || !root) return;
    const e = await exportEncoders(root, ['bert-nli']);
    const texts = TEXTS.slice(0, 3);
    const refs = await reference<{ results: Result[][] }>(python, 'zero_shot', {
      folder: join(e.src, 'bert-nli'),
      texts,
      cases: [{ candidate_labels: LABELS, hypothesis_template: 'It is about {}.', multi_label: true }],
    });
    const ref = { results: refs.results[0] as Result[] };
    const flags = await cli(
      [
        'predict',
        'bert-nli',
        ...texts,
        '--candidate-labels',
        LABELS.join(','),
        '--hypothesis-template',
        'It is about {}.',
        '--multi-label',
        '--json',
      ],
      { home: e.home },
    );
    expect(flags.exitCode, flags.stderr).toBe(0);
    check(JSON.parse(flags.stdout).predictions, ref.results);
    const doc = { sequences: texts, candidate_labels: LABELS, hypothesis_template: 'It is about {}.', multi_label: true };
    const input = await cli(['predict', 'bert-nli', '--input', JSON.stringify(doc), '--json'], { home: e.home });
    expect(input.exitCode, input.stderr).toBe(0);
    check(JSON.parse(input.stdout).predictions, ref.results);
    const s = await serve({ registry: e.registry });
    const http = await postJson(`${s.url}/v1/models/bert-nli/predict`, { texts, ...doc, sequences: undefined });
    expect(http.status, JSON.stringify(http.body)).toBe(200);
    expect(http.body.task).toBe('zero-shot-classification');
    check(http.body.predictions, ref.results);
    // Refusals: no labels for an explicitly zero-shot model, a template without {}, labels for another task.
    const none = await cli(['predict', 'bert-nli', 'a text', '--task', 'zero-shot-classification'], { home: e.home });
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toMatch(/needs candidate labels/);
    const template = await cli(['predict', 'bert-nli', 'a text', '--candidate-labels', 'a,b', '--hypothesis-template', 'no slot'], {
      home: e.home,
    });
    expect(template.exitCode).toBe(2);
    expect(template.stderr).toMatch(/has no \{\} for the label/);
    const other = await cli(['predict', 'bert-nli', 'a text', '--task', 'text-classification', '--candidate-labels', 'a,b'], {
      home: e.home,
    });
    expect(other.exitCode).toBe(2);
    expect(other.stderr).toMatch(/are for zero-shot-classification, not text-classification/);
  }, 240_000);
});
