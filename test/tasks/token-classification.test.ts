import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/predict/predict.js';
import { loadTokenizer } from '../../src/tasks/tokenize.js';
import type { TokenEntity } from '../../src/tasks/token-classification.js';
import { FIXTURES } from '../helpers.js';
import { expectClose, rejects } from './helpers.js';

// optimum-bert-ner: a random-init BertForTokenClassification (O, B-PER, I-PER, B-LOC, I-LOC) and the entities
// transformers' token-classification pipeline found with each aggregation strategy (generate.py).
const DIR = join(FIXTURES, 'optimum-bert-ner');
const MODEL = join(DIR, 'model.onnx');

interface NerReference {
  sentences: Array<{
    sentence: string;
    tokens: string[];
    input_ids: number[];
    offsets: Array<[number, number]>;
    transformers_logits: number[][];
  }>;
  pipeline: { entities: Record<'none' | 'simple' | 'first' | 'max', TokenEntity[][]> };
}
const REF = (
  JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as { fixtures: Record<string, { facts: { reference: unknown } }> }
).fixtures['optimum-bert-ner']!.facts.reference as NerReference;
const SENTENCES = REF.sentences.map((s) => s.sentence);
const texts = (t: string[]) => ({ kind: 'texts' as const, texts: t });

function withoutScore(e: TokenEntity): Omit<TokenEntity, 'score'> {
  const { score: _, ...rest } = e;
  return rest;
}

describe('token-classification against transformers’ pipeline', () => {
  it('tokens and character offsets equal the fast tokenizer’s offset mapping (special tokens at 0-0)', async () => {
    const tokenizer = await loadTokenizer(
      {
        tokenizer: JSON.parse(readFileSync(join(DIR, 'tokenizer.json'), 'utf8')),
        config: JSON.parse(readFileSync(join(DIR, 'tokenizer_config.json'), 'utf8')),
        where: DIR,
      },
      JSON.parse(readFileSync(join(DIR, 'config.json'), 'utf8')),
    );
    for (const s of REF.sentences) {
      const spans = tokenizer.spans(s.sentence);
      const framed = tokenizer.frame(spans.tokens);
      expect(framed.ids).toEqual(s.input_ids);
      expect(spans.offsets).toEqual(s.offsets.slice(1, -1));
    }
  });

  it('a text that spells an added token ([MASK]) is still checked against the whole-text tokenization', async () => {
    const tokenizer = await loadTokenizer(
      {
        tokenizer: JSON.parse(readFileSync(join(DIR, 'tokenizer.json'), 'utf8')),
        config: JSON.parse(readFileSync(join(DIR, 'tokenizer_config.json'), 'utf8')),
        where: DIR,
      },
      JSON.parse(readFileSync(join(DIR, 'config.json'), 'utf8')),
    );
    // The library keeps [MASK] whole where the word-by-word pieces are "[", "mask", "]": offsets cannot be had.
    expect(() => tokenizer.spans('Paris [MASK] London')).toThrow(/tokens differ from the word-by-word ones/);
    // Lowercased, it is ordinary text again; twice, to see that what the tokenizer remembers changes nothing.
    for (let i = 0; i < 2; i++) {
      const spans = tokenizer.spans('Paris [mask] London');
      // The tiny vocabulary has no "[" or "]": [UNK] pieces, at the brackets' places.
      const unknown = spans.tokens.flatMap((t, i) => (t === '[UNK]' ? [spans.offsets[i]] : []));
      expect(unknown).toEqual([
        [6, 7],
        [11, 12],
      ]);
    }
  });

  for (const strategy of ['none', 'simple', 'first', 'max'] as const) {
    it(`--aggregation ${strategy}: entities, words and offsets equal, scores within 1e-4`, async () => {
      const r = await predict({ model: MODEL, input: texts(SENTENCES), threads: 1, aggregation: strategy });
      expect(r.task).toBe('token-classification');
      expect(r.predictions).toHaveLength(SENTENCES.length);
      r.predictions!.forEach((p, i) => {
        const want = REF.pipeline.entities[strategy][i]!;
        expect(want.length).toBeGreaterThan(0);
        expect(p.entities!.map(withoutScore)).toEqual(want.map(withoutScore));
        expectClose(
          p.entities!.map((e) => e.score),
          want.map((e) => e.score),
          1e-4,
          `${strategy} sentence ${i + 1}`,
        );
      });
    });
  }

  it('the default is none; batches of one give the same entities; an empty text has none', async () => {
    const all = await predict({ model: MODEL, input: texts([...SENTENCES, '']), threads: 1 });
    const one = await predict({ model: MODEL, input: texts([...SENTENCES, '']), threads: 1, batchSize: 1 });
    expect(all.predictions!.slice(0, 2).map((p) => p.entities!.map(withoutScore))).toEqual(
      REF.pipeline.entities.none.map((es) => es.map(withoutScore)),
    );
    expect(all.predictions![2]!.entities).toEqual([]);
    one.predictions!.forEach((p, i) =>
      expectClose(
        p.entities!.map((e) => e.score),
        all.predictions![i]!.entities!.map((e) => e.score),
        1e-5,
      ),
    );
  });

  it('a text longer than the model takes is cut and flagged; offsets still point into the text', async () => {
    const long = Array.from({ length: 12 }, () => SENTENCES[0]).join(' ');
    const r = await predict({ model: MODEL, input: texts([long]), threads: 1, aggregation: 'simple' });
    const p = r.predictions![0]!;
    expect(p.truncated).toBe(true);
    for (const e of p.entities!) expect(e.end).toBeLessThanOrEqual(long.length);
  });

  it('an unknown aggregation, or input that is not texts, is refused in one line', async () => {
    const err = await rejects(
      predict({ model: MODEL, input: texts(SENTENCES), threads: 1, aggregation: 'mean' as never }),
      'USAGE',
      /unknown aggregation "mean"/,
    );
    expect(err.message).not.toContain('\n');
    await rejects(predict({ model: MODEL, input: { kind: 'images', files: ['x.png'] }, threads: 1 }), 'INVALID_INPUT', /takes texts/);
  });
});
