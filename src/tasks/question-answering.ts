import { ModelctlError } from '../errors.js';
import { runSession, type RunContext } from './tensors.js';
import { textFeeds, type TextTokenizer, type TokenSpans } from './tokenize.js';

/**
 * Extractive question answering (BertForQuestionAnswering and kin), as transformers' question-answering pipeline
 * (4.x, the last to have it) answers: the question and the context are encoded as a pair and only the context is
 * cut; a context longer than the model takes is read in overlapping windows (`docStride` tokens shared by
 * neighbours). In each window the start and end logits go through a softmax of their own over the context tokens
 * (and the first special token, whose probability is then set to 0); the 2K+10 spans start <= end <
 * start + maxAnswerLength with the largest products of their start and end probabilities are widened to whole
 * words (of that window) and become answer texts. Candidates whose texts are equal ignoring case, in one window or
 * across windows, are one answer whose score is the sum of theirs, at the span of the first one met (windows in
 * order, best first within a window). The K best answers are returned, the best first. (A window with fewer than
 * 2K+10 spans makes the pipeline fill its list with spans of score 0, picked in an order numpy leaves open, which
 * can add an empty answer of score 0 to its K; answers of score 0 are left out here.)
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

/** The best answer; with a top K asked for, the K best too (the best first). */
export type AnsweredQuestion = Answer & { answers?: Answer[] };

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
  const max = masked.reduce((m, x) => Math.max(m, x), -Infinity);
  const e = masked.map((x) => Math.exp(x - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

export interface Span {
  /** First and last token, as positions among the window's ids. */
  s: number;
  e: number;
  score: number;
}

/**
 * The `count` best spans of one window, best first: start <= end < start + maxAnswerLength, both on tokens that
 * may be picked, scored by the product of the start and end probabilities (the first token's set to 0).
 */
export function topSpans(
  start: readonly number[],
  end: readonly number[],
  keep: readonly boolean[],
  maxAnswerLength: number,
  count: number,
): Span[] {
  const ps = softmaxMasked(start, keep);
  const pe = softmaxMasked(end, keep);
  ps[0] = 0;
  pe[0] = 0;
  // Only the `count` best are kept as they come, best first: pairs come in (start, end) order, so a pair that ties
  // with a kept one goes after it, as numpy's flat index order (and a stable sort of every pair) puts it.
  const best: Span[] = [];
  for (let s = 0; s < ps.length; s++) {
    const p = ps[s] as number;
    if (!keep[s] || p === 0) continue;
    for (let e = s; e < Math.min(pe.length, s + maxAnswerLength); e++) {
      if (!keep[e] || pe[e] === 0) continue;
      const score = p * (pe[e] as number);
      // NaN scores (NaN logits) have no place in that order: the plain sort of every pair decides, as it always has.
      if (Number.isNaN(score)) return allSpans(ps, pe, keep, maxAnswerLength, count);
      if (best.length === count && !(score > (best[count - 1] as Span).score)) continue;
      let at = best.length;
      while (at > 0 && (best[at - 1] as Span).score < score) at--;
      best.splice(at, 0, { s, e, score });
      if (best.length > count) best.pop();
    }
  }
  return best;
}

function allSpans(ps: readonly number[], pe: readonly number[], keep: readonly boolean[], maxAnswerLength: number, count: number): Span[] {
  const spans: Span[] = [];
  for (let s = 0; s < ps.length; s++) {
    if (!keep[s] || ps[s] === 0) continue;
    for (let e = s; e < Math.min(pe.length, s + maxAnswerLength); e++) {
      if (keep[e] && pe[e] !== 0) spans.push({ s, e, score: (ps[s] as number) * (pe[e] as number) });
    }
  }
  // Ties keep the order of (start, end), as numpy's flat index order.
  return spans.sort((a, b) => b.score - a.score || a.s - b.s || a.e - b.e).slice(0, count);
}

/** [start, end) in code points of the words of the window's tokens `first`..`last` (context token positions). */
function wordSpan(c: TokenSpans, w: Window, first: number, last: number): [number, number] {
  // The pipeline asks the window's own encoding, which only knows the pieces of a cut word inside the window.
  let a = first;
  while (a > w.from && c.words[a - 1] === c.words[first]) a--;
  let b = last;
  while (b + 1 < w.to && c.words[b + 1] === c.words[last]) b++;
  return [(c.offsets[a] as [number, number])[0], (c.offsets[b] as [number, number])[1]];
}

export async function answerQuestions(
  ctx: RunContext,
  tokenizer: TextTokenizer,
  pairs: readonly QuestionContext[],
  options: QuestionAnsweringOptions & { batchSize?: number; topK?: number } = {},
): Promise<AnsweredQuestion[]> {
  const maxSeq = options.maxSeqLength ?? Math.min(tokenizer.maxLength ?? 384, 384);
  const stride = options.docStride ?? Math.min(Math.floor(maxSeq / 2), 128);
  const maxAnswer = options.maxAnswerLength ?? 15;
  const topK = options.topK ?? 1;
  // The pipeline looks at 2K+10 spans per window: widening to words makes some of them one answer.
  const perWindow = topK * 2 + 10;
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
  // Each question's answers in the order met (windows in order), with their summed scores.
  const found: Answer[][] = pairs.map(() => []);
  // The same answers by their lowercased text, which is what makes two candidates one answer.
  const byText: Array<Map<string, Answer>> = pairs.map(() => new Map());
  const codePoints = pairs.map((p) => Array.from(p.context));
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
      const row = (t: typeof so): number[] => {
        const data = t!.data as ArrayLike<number>;
        const values = new Array<number>(w.ids.length);
        for (let k = 0; k < values.length; k++) values[k] = Number(data[r * width + offset + k]);
        return values;
      };
      // Only the context's tokens may be picked; the first special token takes part in the softmax.
      const keep = w.ids.map((id, k) => (k >= w.bStart && k < w.bStart + (w.to - w.from)) || id === clsId);
      const c = contexts[w.pair] as TokenSpans;
      const answers = found[w.pair] as Answer[];
      const known = byText[w.pair] as Map<string, Answer>;
      for (const span of topSpans(row(so), row(eo), keep, maxAnswer, perWindow)) {
        if (span.s < w.bStart || span.e < w.bStart) continue;
        const [start, end] = wordSpan(c, w, w.from + span.s - w.bStart, w.from + span.e - w.bStart);
        const text = (codePoints[w.pair] as string[]).slice(start, end).join('');
        const key = text.toLowerCase();
        const same = known.get(key);
        if (same) same.score += span.score;
        else {
          const answer = { answer: text, score: span.score, start, end };
          answers.push(answer);
          known.set(key, answer);
        }
      }
    });
  }
  return found.map((answers, i) => {
    // A stable sort: of equal scores, the answer met first stays first.
    const ranked = answers.sort((a, b) => b.score - a.score).slice(0, topK);
    const best = ranked[0];
    if (!best) throw new ModelctlError('INVALID_INPUT', `no answer for question ${i + 1}: its context is empty`, { hint: HINT });
    return options.topK === undefined ? best : { ...best, answers: ranked };
  });
}
