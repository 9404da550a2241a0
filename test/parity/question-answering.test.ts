/**
 * Question answering against transformers' pipeline("question-answering") (4.57.6, in the hf converter
 * environment: transformers 5 removed that pipeline), run over the same ONNX file through optimum's
 * ORTModelForQuestionAnswering, which is how a user holding an optimum export calls the pipeline. The fixture
 * optimum-bert-qa is a random-init BertForQuestionAnswering with 64 positions, so its answers are arbitrary but
 * fully determined: every step after the logits (windows, softmax, span choice, word alignment, merging of equal
 * answers within and across windows) must give the pipeline's spans, with scores within 1e-4.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/predict/predict.js';
import type { Answer } from '../../src/tasks/question-answering.js';
import { FIXTURES, cli } from '../helpers.js';
import { converterReferencePython, reference } from './reference.js';

const FOLDER = join(FIXTURES, 'optimum-bert-qa');
const MODEL = join(FOLDER, 'model.onnx');

const CORPUS = [
  'the model was great and the results were fast',
  'the model was terrible and the results were slow',
  'i loved this tiny transformer, it runs everywhere',
  'converting to onnx worked on the first try',
  'metadata is read without loading the weights',
  'a registry keeps every model with its hash and size',
  'inference on the cpu is quick for small networks',
  'the tokenizer splits unknown words into pieces',
  'positive reviews praise speed, accuracy and clarity',
  'we measured latency and throughput on two cores',
  'nothing works! the output is garbage and the logs are empty.',
  'everything works: the output matches the reference exactly.',
  'shapes, dtypes and names are checked against the graph',
  'small fixtures keep the test suite fast and honest',
];
// Words the vocabulary lacks (whole-word [UNK]s), accents the normalizer strips, emoji, scripts without spaces.
const FOREIGN = ['Café déjà vu', 'Модель работает', '模型很好', '🚀 fast 😀', 'naïve résumé', 'النموذج يعمل', 'हिंदी पाठ', 'the ❤️ model'];
const QUESTIONS = ['what works?', 'which model was great?', 'where does it run?', 'what is fast and honest?'];

const SHORT = [
  { question: 'what works?', context: 'everything works: the output matches the reference exactly.' },
  { question: 'which model?', context: 'the model the model the model was great, the model was great' },
  { question: 'what was great?', context: 'Café résumé naïve: the model déjà vu works' },
  { question: 'what is honest?', context: 'Модель работает. 模型很好 and the output is honest' },
  { question: 'what was fast?', context: 'the model 🚀 was great 😀 and fast ❤️' },
  { question: 'which one?', context: 'Model model MODEL works, The Model WORKS' },
  { question: 'who keeps it?', context: 'النموذج يعمل the registry keeps every model हिंदी' },
  { question: 'what is checked?', context: 'shapes, dtypes and names (are) checked -- "against" the graph!' },
  { question: 'what was great?', context: '  the\tmodel  was\n\ngreat\u200b and fa\u00adst, cafe\u0301 and nai\u0308ve  ' },
  { question: 'what is ΟΔΟΣ?', context: 'ΟΔΟΣ and οδός were checked, the model 👨‍👩‍👧 works👍🏽' },
];

/** Contexts over the model's 64 positions: corpus sentences in varied orders, some with foreign words and repeats. */
const LONG = Array.from({ length: 16 }, (_, i) => {
  const parts: string[] = [];
  const count = 8 + (i % 5) * 3 + (i === 15 ? 30 : 0);
  for (let k = 0; k < count; k++) {
    parts.push(CORPUS[(i * 5 + k * 3) % CORPUS.length] as string);
    if ((i + k) % 4 === 0) parts.push(FOREIGN[(i + k) % FOREIGN.length] as string);
    if (i % 3 === 0 && k % 2 === 0) parts.push('the model was great');
  }
  return { question: QUESTIONS[i % QUESTIONS.length] as string, context: parts.join(i % 2 ? '. ' : ' ') };
});

// Words the vocabulary spells letter by letter, so that windows start and end inside words: the pipeline widens an
// answer to the part of its words inside the window.
const CUT_WORDS = [
  { question: 'what is it?', context: Array.from({ length: 14 }, (_, k) => `zyxwvutsrq${'abcdefgh'.slice(0, k % 8)}`).join(' ') },
  {
    question: 'which word?',
    context: `${CORPUS.slice(0, 3).join(' ')} ${Array.from({ length: 9 }, () => 'quickwaitingthroughput').join(' ')}`,
  },
];

const ITEMS = [...SHORT, ...LONG, ...CUT_WORDS];

interface Reference {
  answers: Record<string, Answer[][]>;
  windows: number[];
}

/** Spans that differ, and the largest score difference, between modelctl's answers and the pipeline's. */
function compare(got: Answer[][], want: Answer[][]): { differ: string[]; maxScoreDiff: number } {
  const differ: string[] = [];
  let maxScoreDiff = 0;
  want.forEach((answers, i) => {
    const mine = got[i] ?? [];
    const span = (a: Answer | undefined) => (a ? `${JSON.stringify(a.answer)}@${a.start}-${a.end}` : 'none');
    if (mine.length !== answers.length || answers.some((a, k) => span(a) !== span(mine[k])))
      differ.push(`item ${i + 1}: ${mine.map(span).join(', ')} vs the pipeline's ${answers.map(span).join(', ')}`);
    answers.forEach((a, k) => {
      if (mine[k]) maxScoreDiff = Math.max(maxScoreDiff, Math.abs(a.score - (mine[k] as Answer).score));
    });
  });
  return { differ, maxScoreDiff };
}

describe('question-answering: modelctl against transformers’ pipeline over the same ONNX file', () => {
  it('10 short and 18 multi-window contexts (scripts, emoji, accents, repeats, windows cutting words): the same answers, scores within 1e-4', async () => {
    const python = converterReferencePython();
    if (!python) return;
    const ref = await reference<Reference>(python, 'qa_pipeline', { folder: FOLDER, items: ITEMS, top_ks: [1, 3] });
    expect(ref.windows.slice(0, SHORT.length).every((n) => n === 1)).toBe(true);
    expect(ref.windows.slice(SHORT.length).every((n) => n > 1)).toBe(true);
    expect(Math.max(...ref.windows)).toBeGreaterThan(6);
    const input = { kind: 'questions' as const, pairs: ITEMS };
    // No top K: the best answer (the pipeline's top_k=1); top K 3: its three best, in its order.
    const best = await predict({ model: MODEL, input, threads: 1 });
    const three = await predict({ model: MODEL, input, threads: 1, topK: 3, batchSize: 5 });
    const one = compare(
      (best.predictions ?? []).map((p) => [{ answer: p.answer, score: p.score, start: p.start, end: p.end } as Answer]),
      ref.answers['1'] as Answer[][],
    );
    const top = compare(
      (three.predictions ?? []).map((p) => p.answers ?? []),
      ref.answers['3'] as Answer[][],
    );
    expect(one.differ).toEqual([]);
    expect(top.differ).toEqual([]);
    expect(one.maxScoreDiff).toBeLessThan(1e-4);
    expect(top.maxScoreDiff).toBeLessThan(1e-4);
    // With a top K, the prediction's own fields are its best answer.
    (three.predictions ?? []).forEach((p) =>
      expect(p.answers?.[0]).toEqual({ answer: p.answer, score: p.score, start: p.start, end: p.end }),
    );
  });

  it('the CLI prints the pipeline’s answers (--question/--context, --top-k)', async () => {
    const python = converterReferencePython();
    if (!python) return;
    const items = [SHORT[1], LONG[3]] as Array<{ question: string; context: string }>;
    const ref = await reference<Reference>(python, 'qa_pipeline', { folder: FOLDER, items, top_ks: [2] });
    for (const [i, item] of items.entries()) {
      const r = await cli(['predict', MODEL, '--question', item.question, '--context', item.context, '--top-k', '2', '--json']);
      expect(r.exitCode, r.stderr).toBe(0);
      const got = (JSON.parse(r.stdout) as { predictions: Array<{ answers: Answer[] }> }).predictions[0]!.answers;
      const want = ref.answers['2']![i]!;
      expect(got.map(({ answer, start, end }) => ({ answer, start, end }))).toEqual(
        want.map(({ answer, start, end }) => ({ answer, start, end })),
      );
      got.forEach((a, k) => expect(Math.abs(a.score - want[k]!.score)).toBeLessThan(1e-4));
    }
  });
});
