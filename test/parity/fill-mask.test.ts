/**
 * Fill-mask against transformers 5 pipeline("fill-mask") on the PyTorch model each ONNX export was made from: a
 * random BertForMaskedLM on the fixtures' WordPiece vocabulary ([MASK]) and a random RobertaForMaskedLM on a
 * byte-level BPE (<mask>, which takes the space before it), both built by fixtures/export/build.py and exported by
 * `modelctl export`. The same candidate tokens in the same order, the same token_str and filled sequences (special
 * tokens skipped for one mask, kept for several, as the pipeline does), scores within 1e-4; through the library,
 * the CLI and serve's /v1 endpoint.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/predict/predict.js';
import type { MaskFill } from '../../src/tasks/fill-mask.js';
import { converterRoot } from '../convert/env.js';
import { cli, fileDir, writeText } from '../helpers.js';
import { postJson, serve } from '../serve/helpers.js';
import { exportEncoders, maxDiff } from './encoders.js';
import { parityPython, reference } from './reference.js';

const BERT_TEXTS = [
  'the model was [MASK]',
  '[MASK] model was great and the results were fast.',
  'the [MASK] was [MASK] and fast',
  'a registry keeps every [MASK][MASK] with its hash',
  'Café déjà vu: the [MASK] works 🚀',
  'Модель [MASK] the tokenizer splits unknown words into pieces',
  'shapes, dtypes and names are checked against the [MASK].',
  'nothing works! the [MASK] is garbage and the [MASK] are [MASK].',
];
const ROBERTA_TEXTS = [
  'Paris is the <mask> of France.',
  'the model was<mask> and the results were fast',
  '<mask> registry keeps every model',
  'héllo wörld, 東京 and <mask> 🙂 <mask>',
];

interface Reference {
  results: Array<MaskFill[][] | null>;
  errors: Array<string | null>;
  mask_token: string;
}

function check(got: Array<MaskFill[][] | undefined>, want: Reference['results']): void {
  const strip = (fills: MaskFill[][] | null | undefined) =>
    fills?.map((m) => m.map(({ token, token_str, sequence }) => ({ token, token_str, sequence })));
  expect(got.map(strip)).toEqual(want.map(strip));
  const scores = (list: Array<MaskFill[][] | null | undefined>) => list.flatMap((fills) => (fills ?? []).flat().map((f) => f.score));
  expect(maxDiff(scores(got), scores(want))).toBeLessThan(1e-4);
}

describe('fill-mask: modelctl (ONNX export) against transformers’ pipeline (its PyTorch model)', () => {
  it('BERT [MASK] and RoBERTa <mask>: one or several masks per text, top 5 and top 8, the pipeline’s tokens, texts and scores', async () => {
    const python = parityPython();
    const root = converterRoot();
    if (!python || !root) return;
    const e = await exportEncoders(root, ['bert-mlm', 'roberta-mlm']);
    for (const [name, texts, mask] of [
      ['bert-mlm', BERT_TEXTS, '[MASK]'],
      ['roberta-mlm', ROBERTA_TEXTS, '<mask>'],
    ] as const) {
      const folder = join(e.src, name);
      const ref = await reference<Reference>(python, 'fill_mask', { folder, texts, top_k: null });
      expect(ref.mask_token).toBe(mask);
      expect(ref.errors).toEqual(texts.map(() => null));
      const r = await predict({ model: name, registry: e.registry, input: { kind: 'texts', texts: [...texts] }, threads: 1 });
      expect(r.task).toBe('fill-mask');
      check(
        (r.predictions ?? []).map((p) => p.masks),
        ref.results,
      );
      // More candidates than the default, in batches of 3 texts.
      const eight = await reference<Reference>(python, 'fill_mask', { folder, texts, top_k: 8 });
      const r8 = await predict({
        model: name,
        registry: e.registry,
        input: { kind: 'texts', texts: [...texts] },
        topK: 8,
        batchSize: 3,
        threads: 1,
      });
      check(
        (r8.predictions ?? []).map((p) => p.masks),
        eight.results,
      );
    }
  }, 240_000);

  it('the CLI and serve answer as the library; a text without a mask is refused as the pipeline refuses it (exit 2, HTTP 400)', async () => {
    const python = parityPython();
    const root = converterRoot();
    if (!python || !root) return;
    const e = await exportEncoders(root, ['bert-mlm', 'roberta-mlm']);
    const texts = ['the [MASK] was [MASK] and fast', 'the model was [MASK]'];
    const ref = await reference<Reference>(python, 'fill_mask', {
      folder: join(e.src, 'bert-mlm'),
      texts: [...texts, 'no mask here'],
      top_k: 3,
    });
    expect(ref.errors.slice(0, 2)).toEqual([null, null]);
    expect(ref.errors[2]).toMatch(/No mask_token \(\[MASK\]\) found/);
    const r = await cli(['predict', 'bert-mlm', ...texts, '--top-k', '3', '--json'], { home: e.home });
    expect(r.exitCode, r.stderr).toBe(0);
    check(
      JSON.parse(r.stdout).predictions.map((p: { masks: MaskFill[][] }) => p.masks),
      ref.results.slice(0, 2),
    );
    const none = await cli(['predict', 'bert-mlm', 'no mask here'], { home: e.home });
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toMatch(/no mask token \[MASK\] in the text/);
    // In a stream the text without a mask is one error record; the others are answered.
    const file = writeText(join(fileDir('modelctl-fill-'), 'texts.txt'), `${texts[0]}\nno mask here\n${texts[1]}\n`);
    const stream = await cli(['predict', 'bert-mlm', '--file', file, '--top-k', '3'], { home: e.home });
    expect(stream.exitCode).toBe(2);
    const lines = stream.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.line, l.error?.code ?? 'ok'])).toEqual([
      [1, 'ok'],
      [2, 'INVALID_INPUT'],
      [3, 'ok'],
    ]);
    check([lines[0].masks, lines[2].masks], ref.results.slice(0, 2));
    const s = await serve({ registry: e.registry });
    const http = await postJson(`${s.url}/v1/models/bert-mlm/predict`, { texts, top_k: 3 });
    expect(http.status, JSON.stringify(http.body)).toBe(200);
    check(
      http.body.predictions.map((p: { masks: MaskFill[][] }) => p.masks),
      ref.results.slice(0, 2),
    );
    const refused = await postJson(`${s.url}/v1/models/bert-mlm/predict`, { texts: ['no mask here'] });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatch(/no mask token/);
  }, 240_000);
});
