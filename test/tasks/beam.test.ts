/**
 * Beam search and the seq2seq logits processors, without a model: the next-token logits come from a seeded table
 * (the row picked by the last token and the length), and transformers' own generate() searches the same table at
 * test time (test/parity/py/beam_search.py). Any difference in tokens or scores is the search's. Then the settings:
 * generation_config.json read as transformers reads it, and the options refused before anything runs.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelctlError } from '../../src/errors.js';
import { beamSearch } from '../../src/tasks/generation/beam.js';
import { applyNoRepeatNgram, logSoftmax, processScores, type ChainSettings } from '../../src/tasks/generation/constraints.js';
import { seededRandom } from '../../src/tasks/generation/sampler.js';
import { seq2seqSettings } from '../../src/tasks/generation/seq2seq-config.js';
import { maxLengthFor } from '../../src/tasks/generation/config.js';
import { applyRowPlan, rowPlan } from '../../src/tasks/generation/seq2seq-decoder.js';
import { openPredictor } from '../../src/predict/predict.js';
import { FIXTURES } from '../helpers.js';
import { parityPython, reference } from '../parity/reference.js';

const VOCAB = 12;
const ROWS = 17;

interface BeamCase {
  start: number;
  num_beams: number;
  max_new_tokens: number;
  length_penalty: number;
  early_stopping: boolean | 'never';
  eos: number[];
  no_repeat_ngram_size?: number;
  min_length?: number;
  forced_bos_token_id?: number;
  forced_eos_token_id?: number;
  repetition_penalty?: number;
}

interface RefBeam {
  tokens: number[];
  sequence_score: number;
  hypotheses: Array<{ tokens: number[]; score: number }>;
}

function table(seed: number, spread: number): number[][] {
  const random = seededRandom(seed);
  return Array.from({ length: ROWS }, () => Array.from({ length: VOCAB }, () => Math.fround((random.next() * 2 - 1) * spread)));
}

const CASES: BeamCase[] = [
  { start: 0, num_beams: 3, max_new_tokens: 8, length_penalty: 1, early_stopping: false, eos: [1] },
  { start: 0, num_beams: 4, max_new_tokens: 10, length_penalty: 2, early_stopping: true, eos: [1] },
  { start: 3, num_beams: 4, max_new_tokens: 10, length_penalty: 2, early_stopping: 'never', eos: [1] },
  { start: 3, num_beams: 2, max_new_tokens: 12, length_penalty: -0.5, early_stopping: 'never', eos: [1, 2] },
  { start: 5, num_beams: 3, max_new_tokens: 9, length_penalty: 0, early_stopping: false, eos: [2], no_repeat_ngram_size: 2 },
  { start: 0, num_beams: 4, max_new_tokens: 8, length_penalty: 1, early_stopping: true, eos: [1], min_length: 5, repetition_penalty: 1.3 },
  {
    start: 2,
    num_beams: 3,
    max_new_tokens: 7,
    length_penalty: 1.5,
    early_stopping: false,
    eos: [2],
    forced_bos_token_id: 0,
    forced_eos_token_id: 2,
    no_repeat_ngram_size: 3,
  },
];

/** Every processor off (greedy). */
const NO_CONSTRAINTS: ChainSettings = {
  doSample: false,
  noRepeatNgramSize: 0,
  badWordsIds: [],
  minLength: 0,
  eosTokenIds: [],
  suppressTokens: [],
  beginSuppressTokens: [],
};

async function ours(rows: number[][], c: BeamCase) {
  const settings: ChainSettings = {
    ...NO_CONSTRAINTS,
    noRepeatNgramSize: c.no_repeat_ngram_size ?? 0,
    minLength: c.min_length ?? 0,
    eosTokenIds: c.eos,
    doSample: false,
    ...(c.repetition_penalty !== undefined ? { repetitionPenalty: c.repetition_penalty } : {}),
    ...(c.forced_bos_token_id !== undefined ? { forcedBosTokenId: c.forced_bos_token_id } : {}),
    ...(c.forced_eos_token_id !== undefined ? { forcedEosTokenId: [c.forced_eos_token_id] } : {}),
  };
  const maxLength = c.max_new_tokens + 1;
  return beamSearch(
    [c.start],
    { numBeams: c.num_beams, lengthPenalty: c.length_penalty, earlyStopping: c.early_stopping, maxLength, eosTokenIds: c.eos },
    async (sequences) =>
      sequences.map((seq) => {
        const scores = logSoftmax(Float32Array.from(rows[((seq.at(-1) as number) * 7 + seq.length) % ROWS] as number[]));
        processScores(scores, seq, settings, { inputLength: 1, maxLength });
        return scores;
      }),
  );
}

describe('beam search against transformers’ generate() over the same table of logits', () => {
  it('three tables (logits within ±1, ±3, ±6), seven settings each: tokens, score and every finished hypothesis', async () => {
    const python = parityPython();
    if (!python) return;
    const tables = [table(1, 3), table(2, 1), table(3, 6)];
    const ref = await reference<{ tables: Array<{ cases: RefBeam[] }> }>(python, 'beam_search', { tables, cases: CASES });
    let compared = 0;
    for (const [t, rows] of tables.entries()) {
      for (const [i, c] of CASES.entries()) {
        const want = ref.tables[t]?.cases[i] as RefBeam;
        const got = await ours(rows, c);
        const label = `table ${t}, ${JSON.stringify(c)}`;
        // transformers pads the shorter hypotheses of its batch with the first end token.
        expect(got.tokens, label).toEqual(want.tokens.slice(0, got.tokens.length));
        expect(
          want.tokens.slice(got.tokens.length).every((x) => x === c.eos[0]),
          label,
        ).toBe(true);
        expect(Math.abs(got.score - want.sequence_score), label).toBeLessThan(1e-5);
        expect(got.hypotheses.length, label).toBeGreaterThan(0);
        for (const [k, h] of got.hypotheses.entries()) {
          const theirs = want.hypotheses[k] as RefBeam['hypotheses'][number];
          expect(h.tokens, `${label} hypothesis ${k}`).toEqual(theirs.tokens.slice(0, h.tokens.length));
          expect(Math.abs(h.score - theirs.score), `${label} hypothesis ${k}`).toBeLessThan(1e-5);
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThanOrEqual(tables.length * CASES.length);
  }, 120_000);
});

/** How many cycles of two or more rows `sources` has (row r takes row sources[r]). */
function cycles(sources: number[]): number {
  const seen = new Set<number>();
  let count = 0;
  for (const [start] of sources.entries()) {
    const path: number[] = [];
    let r = start;
    while (!seen.has(r) && !path.includes(r)) {
      path.push(r);
      r = sources[r] as number;
    }
    if (path.includes(r) && sources[r] !== r) count++;
    for (const p of path) seen.add(p);
  }
  return count;
}

describe('reordering the self-attention cache with the beams', () => {
  it('in place, as a plain gather would: every choice of sources for 1 to 4 rows; none when each row keeps its own', () => {
    const size = 3;
    let scratch: Float32Array = new Float32Array(0);
    let checked = 0;
    for (let rows = 1; rows <= 4; rows++) {
      const original = Float32Array.from({ length: rows * size }, (_, i) => i + 0.5);
      for (let code = 0; code < rows ** rows; code++) {
        const sources = Array.from({ length: rows }, (_, r) => Math.floor(code / rows ** r) % rows);
        const want = Float32Array.from(
          { length: rows * size },
          (_, i) => original[(sources[Math.floor(i / size)] as number) * size + (i % size)] as number,
        );
        const plan = rowPlan(sources);
        const identity = sources.every((s, r) => s === r);
        expect(plan === null, JSON.stringify(sources)).toBe(identity);
        const data = original.slice();
        if (plan) {
          // Only the rows that change are written, each once; one row of each cycle is saved, none otherwise.
          expect(plan.copies.map(([to]) => to).sort()).toEqual(sources.flatMap((s, r) => (s === r ? [] : [r])));
          expect(plan.save.length, JSON.stringify(sources)).toBe(cycles(sources));
          scratch = applyRowPlan(data, size, plan, scratch);
        }
        expect(Array.from(data), JSON.stringify(sources)).toEqual(Array.from(want));
        checked++;
      }
    }
    expect(checked).toBe(1 + 4 + 27 + 256);
  });
});

describe('seq2seq logits processors', () => {
  it('no_repeat_ngram_size bans the tokens that would complete an n-gram already there, and only those', () => {
    const scores = new Float32Array(6).fill(1);
    applyNoRepeatNgram(scores, [0, 1, 2, 1, 3, 1], 2);
    // bigrams starting with 1 (the last token): (1, 2) and (1, 3): 2 and 3 are banned.
    expect(Array.from(scores)).toEqual([1, 1, Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY, 1, 1]);
  });

  it('log_softmax sums to one in probability', () => {
    const lp = logSoftmax(Float32Array.from([1, 2, 3, -1]));
    expect(Array.from(lp).reduce((a, v) => a + Math.exp(v), 0)).toBeCloseTo(1, 6);
  });
});

describe('seq2seq settings', () => {
  it('reads generation_config.json as transformers does; the call wins', () => {
    const g = {
      num_beams: 4,
      length_penalty: 2,
      no_repeat_ngram_size: 3,
      early_stopping: true,
      min_length: 4,
      max_length: 24,
      forced_bos_token_id: 0,
      forced_eos_token_id: 2,
      decoder_start_token_id: 2,
      eos_token_id: 2,
    };
    const s = seq2seqSettings({}, g, {});
    expect(s).toMatchObject({ numBeams: 4, lengthPenalty: 2, noRepeatNgramSize: 3, earlyStopping: true, minLength: 4, maxLength: 24 });
    // max_length counts the decoder start token: 23 new tokens.
    expect(maxLengthFor(s, 1) - 1).toBe(23);
    expect(s).toMatchObject({ forcedBosTokenId: 0, forcedEosTokenId: [2], decoderStartTokenId: 2, eosTokenIds: [2] });
    expect(seq2seqSettings({ numBeams: 1, maxNewTokens: 5, earlyStopping: 'never' }, g, {})).toMatchObject({
      numBeams: 1,
      maxNewTokens: 5,
      earlyStopping: 'never',
    });
    // Without max_length: 20 new tokens; config.json's decoder_start_token_id stands in.
    const plain = seq2seqSettings({}, { eos_token_id: 1 }, { decoder_start_token_id: 0 });
    expect(plain).toMatchObject({ decoderStartTokenId: 0 });
    expect(maxLengthFor(plain, 1) - 1).toBe(20);
  });

  it('refuses beam sampling, stop strings with beams, bad numbers and a model without a decoder start token', () => {
    const g = { decoder_start_token_id: 0, eos_token_id: 1 };
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return (err as ModelctlError).code;
      }
      return 'none';
    };
    expect(code(() => seq2seqSettings({ numBeams: 3, doSample: true }, g, {}))).toBe('USAGE');
    expect(code(() => seq2seqSettings({ numBeams: 3, stop: ['x'] }, g, {}))).toBe('USAGE');
    expect(code(() => seq2seqSettings({ numBeams: 0 }, g, {}))).toBe('USAGE');
    expect(code(() => seq2seqSettings({ noRepeatNgramSize: -1 }, g, {}))).toBe('USAGE');
    expect(code(() => seq2seqSettings({}, { eos_token_id: 1 }, {}))).toBe('INVALID_INPUT');
  });

  it('processes in transformers’ order: the forced end token wins over min_length at the last position', () => {
    const s: ChainSettings = { ...NO_CONSTRAINTS, minLength: 10, eosTokenIds: [1], forcedEosTokenId: [1] };
    const scores = new Float32Array(4).fill(0.5);
    processScores(scores, [0, 3, 3], s, { inputLength: 1, maxLength: 4 });
    expect(Array.from(scores)).toEqual([Number.NEGATIVE_INFINITY, 0, Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY]);
  });
});

describe('beam-search options on another task', () => {
  it('are refused before the model loads, not ignored', async () => {
    const err = await openPredictor({
      model: join(FIXTURES, 'optimum-bert', 'model.onnx'),
      generation: { numBeams: 4 },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelctlError);
    expect((err as ModelctlError).code).toBe('USAGE');
    expect((err as ModelctlError).message).toBe(
      'numBeams is for encoder-decoder models (text2text-generation, translation, summarization, automatic-speech-recognition, image-to-text), not text-classification',
    );
  });
});
