import { ModelctlError } from '../errors.js';
import type { RunContext } from './tensors.js';
import { tokenLogits } from './text-feeds.js';
import { labelName } from './text-classification.js';
import type { TextTokenizer } from './tokenize.js';

/**
 * Token classification heads (BertForTokenClassification and kin, NER): a softmax per token, then entities as
 * transformers' TokenClassificationPipeline documents them. "none" gives every token whose best label is not O;
 * "simple" groups adjacent tokens of one entity type (a B- tag starts a new group); "first", "max" and "average"
 * first merge the word pieces of a word, taking the label of its first piece, of its most confident piece, or the
 * best of its pieces' mean scores, then group words as "simple" does. A group's score is the mean of its members'.
 */

export const AGGREGATIONS = ['none', 'simple', 'first', 'max', 'average'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

export interface TokenEntity {
  /** none: the token's label. */
  entity?: string;
  /** simple, first, max: the entity type without its B-/I- prefix. */
  entity_group?: string;
  score: number;
  word: string;
  /** [start, end) in the text, in characters (code points). */
  start: number;
  end: number;
  /** none: the token's position among the model's inputs (special tokens included). */
  index?: number;
}

export interface TokenClassificationPrediction {
  entities: TokenEntity[];
  truncated?: true;
}

export function isAggregation(value: string): value is Aggregation {
  return (AGGREGATIONS as readonly string[]).includes(value);
}

/** What transformers leaves out of the entities. */
const IGNORED = new Set(['O']);

interface PreEntity {
  word: string;
  scores: number[];
  start: number;
  end: number;
  index: number;
  isSubword: boolean;
}

interface Labeled {
  entity: string;
  score: number;
  word: string;
  start: number;
  end: number;
  index?: number;
}

function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}

function label(pre: Pick<PreEntity, 'scores'>, modelConfig: unknown): { entity: string; score: number } {
  const i = argmax(pre.scores);
  return { entity: labelName(modelConfig, i), score: pre.scores[i] as number };
}

/** B-X and I-X share the type X; a label without a prefix continues like an I- one. */
function tag(name: string): { bi: 'B' | 'I'; type: string } {
  if (name.startsWith('B-')) return { bi: 'B', type: name.slice(2) };
  if (name.startsWith('I-')) return { bi: 'I', type: name.slice(2) };
  return { bi: 'I', type: name };
}

/** The mean of the pieces' scores, label by label. */
function meanScores(pieces: readonly PreEntity[]): number[] {
  const sum = (pieces[0] as PreEntity).scores.map(() => 0);
  for (const p of pieces) p.scores.forEach((x, j) => (sum[j] = (sum[j] as number) + x));
  return sum.map((x) => x / pieces.length);
}

/** A word from its pieces: the first piece's label ("first"), the most confident piece's ("max"), or the mean's. */
function mergeWords(
  pre: readonly PreEntity[],
  strategy: 'first' | 'max' | 'average',
  modelConfig: unknown,
  tokenizer: TextTokenizer,
): Labeled[] {
  const groups: PreEntity[][] = [];
  for (const p of pre) {
    const last = groups[groups.length - 1];
    if (last && p.isSubword) last.push(p);
    else groups.push([p]);
  }
  return groups.map((g) => {
    const chosen =
      strategy === 'average'
        ? { scores: meanScores(g) }
        : strategy === 'first'
          ? (g[0] as PreEntity)
          : g.reduce((best, p) => (Math.max(...p.scores) > Math.max(...best.scores) ? p : best));
    return {
      ...label(chosen, modelConfig),
      word: tokenizer.tokensToString(g.map((p) => p.word)),
      start: (g[0] as PreEntity).start,
      end: (g[g.length - 1] as PreEntity).end,
    };
  });
}

function afterDash(name: string): string {
  const dash = name.indexOf('-');
  return dash < 0 ? name : name.slice(dash + 1);
}

/** Adjacent entities of one type become one group, unless the next one starts with a B- tag. */
function groupEntities(entities: readonly Labeled[], tokenizer: TextTokenizer): TokenEntity[] {
  const groups: Labeled[][] = [];
  for (const e of entities) {
    const current = groups[groups.length - 1];
    const last = current?.[current.length - 1];
    const { bi, type } = tag(e.entity);
    if (current && last && bi !== 'B' && tag(last.entity).type === type) current.push(e);
    else groups.push([e]);
  }
  return groups.map((g) => ({
    // The pipeline names a group by what follows the first dash of its first label (U-ORG: ORG), B-/I- or not.
    entity_group: afterDash((g[0] as Labeled).entity),
    score: g.reduce((sum, e) => sum + e.score, 0) / g.length,
    word: tokenizer.tokensToString(g.map((e) => e.word)),
    start: (g[0] as Labeled).start,
    end: (g[g.length - 1] as Labeled).end,
  }));
}

/** The entities of one text from its per-token scores. */
export function entitiesOf(
  pre: readonly PreEntity[],
  strategy: Aggregation,
  modelConfig: unknown,
  tokenizer: TextTokenizer,
): TokenEntity[] {
  if (strategy === 'none') {
    return pre
      .map((p) => ({ ...label(p, modelConfig), index: p.index, word: p.word, start: p.start, end: p.end }))
      .filter((e) => !IGNORED.has(e.entity))
      .map(({ entity, score, index, word, start, end }) => ({ entity, score, index, word, start, end }));
  }
  const labeled =
    strategy === 'simple'
      ? pre.map((p) => ({ ...label(p, modelConfig), word: p.word, start: p.start, end: p.end }))
      : mergeWords(pre, strategy, modelConfig, tokenizer);
  return groupEntities(labeled, tokenizer).filter((g) => !IGNORED.has(g.entity_group as string));
}

/** Each token's best label and its probability (and, to merge words, every probability), with what it says. */
interface TokenScores {
  best: readonly number[];
  bestScore: readonly number[];
  full: readonly number[][] | undefined;
  /** The token, or for [UNK] the text it stands for. */
  words: readonly string[];
  offsets: ReadonlyArray<readonly [number, number]>;
  unknown: readonly boolean[];
  /** The first token's position among the model's inputs. */
  index: number;
}

/**
 * entitiesOf for a text's tokens as tagTexts has them, without an object per token where the strategy needs none
 * ("none" and "simple": what the pipeline leaves out, O tokens, costs no more than a label lookup).
 */
function entitiesOfTokens(
  t: TokenScores,
  names: readonly string[],
  strategy: Aggregation,
  modelConfig: unknown,
  tokenizer: TextTokenizer,
): TokenEntity[] {
  const n = t.best.length;
  const out: TokenEntity[] = [];
  if (strategy === 'none') {
    for (let k = 0; k < n; k++) {
      const entity = names[t.best[k] as number] as string;
      if (IGNORED.has(entity)) continue;
      const [start, end] = t.offsets[k] as [number, number];
      out.push({ entity, score: t.bestScore[k] as number, index: t.index + k, word: t.words[k] as string, start, end });
    }
    return out;
  }
  if (strategy === 'simple') {
    const tags = names.map(tag);
    let first = 0;
    const close = (last: number): void => {
      const group = afterDash(names[t.best[first] as number] as string);
      if (IGNORED.has(group)) return;
      let sum = 0;
      for (let k = first; k < last; k++) sum += t.bestScore[k] as number;
      out.push({
        entity_group: group,
        score: sum / (last - first),
        word: tokenizer.tokensToString(t.words.slice(first, last)),
        start: (t.offsets[first] as [number, number])[0],
        end: (t.offsets[last - 1] as [number, number])[1],
      });
    };
    for (let k = 1; k < n; k++) {
      const { bi, type } = tags[t.best[k] as number] as ReturnType<typeof tag>;
      if (bi === 'B' || (tags[t.best[k - 1] as number] as ReturnType<typeof tag>).type !== type) {
        close(k);
        first = k;
      }
    }
    if (n > 0) close(n);
    return out;
  }
  const pre: PreEntity[] = [];
  for (let k = 0; k < n; k++) {
    const [start, end] = t.offsets[k] as [number, number];
    const word = t.words[k] as string;
    // transformers: a piece whose spelling is longer than its text (the "##") continues a word.
    const isSubword = !t.unknown[k] && Array.from(word).length !== end - start;
    pre.push({ word, scores: (t.full as number[][])[k] as number[], start, end, index: t.index + k, isSubword });
  }
  return entitiesOf(pre, strategy, modelConfig, tokenizer);
}

/** One batch of texts through the model; the entities of each text, in order. */
export async function tagTexts(
  ctx: RunContext,
  tokenizer: TextTokenizer,
  texts: readonly string[],
  modelConfig: unknown,
  aggregation: Aggregation = 'none',
): Promise<TokenClassificationPrediction[]> {
  if (!isAggregation(aggregation))
    throw new ModelctlError('USAGE', `unknown aggregation ${JSON.stringify(aggregation)}`, {
      hint: `aggregation strategies: ${AGGREGATIONS.join(', ')}`,
    });
  if (texts.length === 0) return [];
  const room = tokenizer.maxLength === undefined ? undefined : tokenizer.maxLength - tokenizer.specialCount(false);
  const encoded = texts.map((text) => {
    const spans = tokenizer.spans(text);
    const keep = room === undefined ? spans.tokens.length : Math.max(0, Math.min(room, spans.tokens.length));
    const tokens = spans.tokens.slice(0, keep);
    return { text, spans, keep, truncated: keep < spans.tokens.length, framed: tokenizer.frame(tokens) };
  });
  const batch = tokenizer.padRows(encoded.map((e) => e.framed));
  const { data, width: labels } = await tokenLogits(
    ctx,
    batch,
    texts.length,
    'token classification needs [batch, tokens, labels]',
    'the model is not a token classifier: try --task text-classification or --task raw',
  );
  const width = batch.inputIds[0]?.length ?? 0;
  const names = Array.from({ length: labels }, (_, j) => labelName(modelConfig, j));
  const probs = new Float64Array(labels);
  return encoded.map((e, row) => {
    let chars: string[] | undefined;
    const rowStart = row * width + (batch.starts[row] as number) + e.framed.aStart;
    // Only the best label and its probability of each token: the whole score vector only for word merging.
    const best: number[] = [];
    const bestScore: number[] = [];
    const full: number[][] | undefined = aggregation === 'none' || aggregation === 'simple' ? undefined : [];
    const words: string[] = [];
    for (let k = 0; k < e.keep; k++) {
      const at = (rowStart + k) * labels;
      // The softmax of scores(..., 'softmax'), in the same order of operations, so the same numbers.
      let max = -Infinity;
      for (let j = 0; j < labels; j++) max = Math.max(max, Number(data[at + j]));
      let sum = 0;
      for (let j = 0; j < labels; j++) {
        const x = Math.exp(Number(data[at + j]) - max);
        probs[j] = x;
        sum += x;
      }
      let top = 0;
      for (let j = 0; j < labels; j++) {
        probs[j] = (probs[j] as number) / sum;
        if ((probs[j] as number) > (probs[top] as number)) top = j;
      }
      best.push(top);
      bestScore.push(probs[top] as number);
      full?.push(Array.from(probs));
      // transformers: [UNK] is worded as the text it stands for.
      if (e.spans.unknown[k]) {
        const [start, end] = e.spans.offsets[k] as [number, number];
        chars ??= Array.from(e.text);
        words.push(chars.slice(start, end).join(''));
      } else words.push(e.spans.tokens[k] as string);
    }
    const tokens: TokenScores = {
      best,
      bestScore,
      full,
      words,
      offsets: e.spans.offsets,
      unknown: e.spans.unknown,
      index: e.framed.aStart,
    };
    const entities = entitiesOfTokens(tokens, names, aggregation, modelConfig, tokenizer);
    return e.truncated ? { entities, truncated: true as const } : { entities };
  });
}
