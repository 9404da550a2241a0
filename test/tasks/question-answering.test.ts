import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/predict/predict.js';
import { pairsFromJson, topSpans, windowStarts } from '../../src/tasks/question-answering.js';
import { FIXTURES } from '../helpers.js';
import { rejects } from './helpers.js';

// optimum-bert-qa: a random-init BertForQuestionAnswering and the answers transformers' question-answering pipeline
// gave (generate.py); the second context is longer than the model's 64 positions and is read in 3 windows.
const MODEL = join(FIXTURES, 'optimum-bert-qa', 'model.onnx');

interface QaReference {
  max_seq_len: number;
  doc_stride: number;
  pairs: Array<{
    question: string;
    context: string;
    untruncated_length: number;
    windows: Array<{ input_ids: number[]; start_logits: number[]; end_logits: number[]; token_type_ids: number[] }>;
    answer: { answer: string; score: number; start: number; end: number };
  }>;
}
const REF = (
  JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as { fixtures: Record<string, { facts: { reference: unknown } }> }
).fixtures['optimum-bert-qa']!.facts.reference as QaReference;
const questions = (pairs: Array<{ question: string; context: string }>) => ({ kind: 'questions' as const, pairs });

describe('question-answering against transformers’ pipeline', () => {
  it('answers both questions: text and offsets equal, score within 1e-4 (the long context over 3 windows)', async () => {
    expect(REF.pairs[1]!.untruncated_length).toBeGreaterThan(REF.max_seq_len);
    expect(REF.pairs[1]!.windows).toHaveLength(3);
    const r = await predict({
      model: MODEL,
      input: questions(REF.pairs.map(({ question, context }) => ({ question, context }))),
      threads: 1,
    });
    expect(r.task).toBe('question-answering');
    expect(r.predictions).toHaveLength(2);
    r.predictions!.forEach((p, i) => {
      const want = REF.pairs[i]!.answer;
      expect({ answer: p.answer, start: p.start, end: p.end }).toEqual({ answer: want.answer, start: want.start, end: want.end });
      expect(REF.pairs[i]!.context.slice(p.start, p.end)).toBe(p.answer);
      expect(Math.abs(p.score! - want.score)).toBeLessThan(1e-4);
    });
  });

  it('the long context alone, in batches of one window, gives the same answer', async () => {
    const { question, context, answer } = REF.pairs[1]!;
    const r = await predict({ model: MODEL, input: questions([{ question, context }]), threads: 1, batchSize: 1 });
    expect(r.predictions![0]).toMatchObject({ answer: answer.answer, start: answer.start, end: answer.end });
  });

  it('windows: the pipeline’s starts (stride shared), and span selection over its logits', () => {
    expect(windowStarts(10, 29, 14)).toEqual([0]);
    expect(windowStarts(100, 50, 20)).toEqual([0, 30, 60]);
    // The long pair: what the pipeline's tokenizer cut it into (question + [CLS] [SEP] [SEP] around each window).
    const long = REF.pairs[1]!;
    const question = long.windows[0]!.token_type_ids.filter((t) => t === 0).length - 2;
    const room = REF.max_seq_len - question - 3;
    expect(windowStarts(long.untruncated_length - question - 3, room, REF.doc_stride)).toHaveLength(long.windows.length);
    const w = REF.pairs[0]!.windows[0]!;
    const keep = w.token_type_ids.map((t, k) => (t === 1 && k < w.input_ids.length - 1) || k === 0);
    const spans = topSpans(w.start_logits, w.end_logits, keep, 15, 12);
    expect(spans).toHaveLength(12);
    // Best first; the answer's score sums the spans that widen to its words (test/parity checks the sums).
    expect(spans.every((s, k) => k === 0 || s.score <= spans[k - 1]!.score)).toBe(true);
    expect(spans.every((s) => s.e >= s.s && s.e - s.s < 15 && keep[s.s] && keep[s.e] && s.s > 0)).toBe(true);
    expect(spans[0]!.score).toBeLessThanOrEqual(REF.pairs[0]!.answer.score + 1e-6);
  });

  it('a question without its question or context is refused in one line', async () => {
    const err = await rejects(
      Promise.resolve().then(() => pairsFromJson(JSON.parse('{"context": "a registry keeps every model"}'), '--input')),
      'INVALID_INPUT',
      /^--input has no question$/,
    );
    expect(err.hint).toMatch(/--question and --context/);
    await rejects(
      predict({ model: MODEL, input: questions([{ question: ' ', context: 'the model' }]), threads: 1 }),
      'INVALID_INPUT',
      /question 1 is empty/,
    );
    expect(() => pairsFromJson({ question: 'what?' }, '--input')).toThrow(/--input has no context/);
    expect(() => pairsFromJson([], '--input')).toThrow(/no questions in --input/);
    await rejects(
      predict({ model: MODEL, input: { kind: 'texts', texts: ['what?'] }, threads: 1 }),
      'INVALID_INPUT',
      /takes a question and its context/,
    );
    const long = Array.from({ length: 40 }, () => 'what').join(' ');
    await rejects(
      predict({ model: MODEL, input: questions([{ question: long, context: 'the model' }]), threads: 1 }),
      'INVALID_INPUT',
      /question 1 is too long/,
    );
  });
});
