import { ModelctlError } from '../errors.js';
import { runSession, type RunContext } from './tensors.js';
import { textFeeds, type TextTokenizer, type TokenSpans } from './tokenize.js';

/**
 * Extractive question answering (BertForQuestionAnswering and kin), as transformers' question-answering pipeline
 * documents it: the question and the context are encoded as a pair and only the context is cut; a context longer
 * than the model takes is read in overlapping windows (`docStride` tokens shared by neighbours). In each window
 * the start and end logits go through a softmax of their own over the context tokens (and the first special
 * token, whose probability is then set to 0); the answer is the span start <= end < start + maxAnswerLength with
 * the largest product of its start and end probabilities, widened to whole words; the best window wins.
 */

export interface QuestionContext {
  question: string;
  context: string;
}

export interface Answer {
  answer: string;
  score: number;
  /** [start, end) in the context, in characters (code points). */
  start: number;
  end: number;
}

export interface QuestionAnsweringOptions {
  /** Longest window, special tokens included (default: the tokenizer's maximum length, at most 384). */
  maxSeqLength?: number;
  /** Tokens shared by neighbouring windows (default: half a window, at most 128). */
  docStride?: number;
  /** Longest answer in tokens (default 15). */
  maxAnswerLength?: number;
}

const HINT = 'give {"question": "...", "context": "..."} (or a list of them), or --question and --context';

/** `{"question", "context"}` or a list of them. */
export function pairsFromJson(value: unknown, where: string): QuestionContext[] {
  const one = (v: unknown, i: number): QuestionContext => {
    const at = `${where}${i >= 0 ? ` item ${i + 1}` : ''}`;
    const o = v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
    if (!o) throw new ModelctlError('INVALID_INPUT', `${at} is not a question with its context`, { hint: HINT });
    for (const key of ['question', 'context'] as const) {
      if (typeof o[key] !== 'string' || (o[key] as string).trim() === '')
        throw new ModelctlError('INVALID_INPUT', `${at} has no ${key}`, { hint: HINT });
    }
    return { question: o.question as string, context: o.context as string };
  };
  if (Array.isArray(value)) {
    if (value.length === 0) throw new ModelctlError('INVALID_INPUT', `no questions in ${where}`, { hint: HINT });
    return value.map(one);
  }
  return [one(value, -1)];
}

interface Window {
  pair: number;
  ids: number[];
  typeIds: number[];
  /** Where the context's tokens start among the ids, and which context tokens the window holds. */
  bStart: number;
  from: number;
  to: number;
}

/** The starts of the windows over `n` tokens, `room` at a time, each sharing `stride` with the one before. */
export function windowStarts(n: number, room: number, stride: number): number[] {
  if (n <= room) return [0];
  const starts: number[] = [];
  for (let s = 0; ; s += room - stride) {
    starts.push(s);
    if (s + room >= n) return starts;
  }
}

function softmaxMasked(logits: readonly number[], keep: readonly boolean[]): number[] {
  // transformers puts -10000 where a token may not be picked, then takes a plain softmax.
  const masked = logits.map((x, i) => (keep[i] ? x : -10000));
  const max = Math.max(...masked);
  const e = masked.map((x) => Math.exp(x - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

/** The best span of one window: token positions among the window's ids and its score. */
export function bestSpan(
  start: readonly number[],
  end: readonly number[],
  keep: readonly boolean[],
  maxAnswerLength: number,
): { s: number; e: number; score: number } | undefined {
  const ps = softmaxMasked(start, keep);
  const pe = softmaxMasked(end, keep);
  ps[0] = 0;
  pe[0] = 0;
  let best: { s: number; e: number; score: number } | undefined;
  for (let s = 0; s < ps.length; s++) {
    if (!keep[s]) continue;
    for (let e = s; e < Math.min(pe.length, s + maxAnswerLength); e++) {
      if (!keep[e]) continue;
      const score = (ps[s] as number) * (pe[e] as number);
      if (!best || score > best.score) best = { s, e, score };
    }
  }
  return best;
}

export async function answerQuestions(
  ctx: RunContext,
  tokenizer: TextTokenizer,
  pairs: readonly QuestionContext[],
  options: QuestionAnsweringOptions & { batchSize?: number } = {},
): Promise<Answer[]> {
  const maxSeq = options.maxSeqLength ?? Math.min(tokenizer.maxLength ?? 384, 384);
  const stride = options.docStride ?? Math.min(Math.floor(maxSeq / 2), 128);
  const maxAnswer = options.maxAnswerLength ?? 15;
  const specials = tokenizer.specialCount(true);
  const clsId = tokenizer.frame([]).ids[0];
  const contexts: TokenSpans[] = [];
  const windows: Window[] = [];
  pairs.forEach((p, i) => {
    if (p.question.trim() === '') throw new ModelctlError('INVALID_INPUT', `question ${i + 1} is empty`, { hint: HINT });
    const q = tokenizer.spans(p.question);
    const c = tokenizer.spans(p.context);
    contexts.push(c);
    const room = maxSeq - q.tokens.length - specials;
    if (room <= stride) {
      throw new ModelctlError(
        'INVALID_INPUT',
        `question ${i + 1} is too long: ${q.tokens.length} tokens leave ${Math.max(room, 0)} of the ${maxSeq} for the context, not more than the ${stride} shared by windows`,
        {
          hint: 'ask a shorter question',
        },
      );
    }
    for (const from of windowStarts(c.tokens.length, room, stride)) {
      const to = Math.min(from + room, c.tokens.length);
      const framed = tokenizer.frame(q.tokens, c.tokens.slice(from, to));
      windows.push({ pair: i, ids: framed.ids, typeIds: framed.typeIds, bStart: framed.bStart, from, to });
    }
  });
  const startName = ctx.outputs.find((o) => o.name === 'start_logits')?.name;
  const endName = ctx.outputs.find((o) => o.name === 'end_logits')?.name;
  if (!startName || !endName) {
    throw new ModelctlError('INVALID_INPUT', 'the model has no start_logits and end_logits outputs: it does not answer questions', {
      hint: 'run it with --task raw',
    });
  }
  // The best window wins; an earlier one keeps a tie, as the pipeline's stable sort does.
  const best: Array<Answer | undefined> = pairs.map(() => undefined);
  const size = options.batchSize ?? 32;
  for (let b = 0; b < windows.length; b += size) {
    const chunk = windows.slice(b, b + size);
    const batch = tokenizer.padRows(chunk);
    const outs = await runSession(ctx, textFeeds(ctx, batch), [startName, endName]);
    const width = batch.inputIds[0]?.length ?? 0;
    const [so, eo] = [outs[startName], outs[endName]];
    for (const t of [so, eo]) {
      if (t?.dims.length !== 2 || t.dims[0] !== chunk.length || t.dims[1] !== width) {
        throw new ModelctlError('INVALID_INPUT', `the answer logits have shape [${(t?.dims ?? []).join(', ')}], not [batch, tokens]`, {
          hint: 'run the model with --task raw',
        });
      }
    }
    chunk.forEach((w, r) => {
      const offset = batch.starts[r] as number;
      const row = (t: typeof so): number[] =>
        Array.from({ length: w.ids.length }, (_, k) => Number((t!.data as ArrayLike<number>)[r * width + offset + k]));
      // Only the context's tokens may be picked; the first special token takes part in the softmax.
      const keep = w.ids.map((id, k) => (k >= w.bStart && k < w.bStart + (w.to - w.from)) || id === clsId);
      const span = bestSpan(row(so), row(eo), keep, maxAnswer);
      if (!span || span.s < w.bStart || span.e < w.bStart) return;
      const c = contexts[w.pair] as TokenSpans;
      const first = w.from + span.s - w.bStart;
      const last = w.from + span.e - w.bStart;
      // transformers widens the answer to whole words.
      const start = (c.wordSpans[c.words[first] as number] as [number, number])[0];
      const end = (c.wordSpans[c.words[last] as number] as [number, number])[1];
      const current = best[w.pair];
      if (!current || span.score > current.score) {
        best[w.pair] = {
          answer: Array.from((pairs[w.pair] as QuestionContext).context)
            .slice(start, end)
            .join(''),
          score: span.score,
          start,
          end,
        };
      }
    });
  }
  return best.map((a, i) => {
    if (!a) throw new ModelctlError('INVALID_INPUT', `no answer for question ${i + 1}: its context is empty`, { hint: HINT });
    return a;
  });
}
