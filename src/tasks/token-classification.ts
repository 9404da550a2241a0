import { ModelctlError } from '../errors.js';
import { runSession, tensorOutputs, type RunContext } from './tensors.js';
import { labelName, scores as softmaxOf } from './text-classification.js';
import { textFeeds, type TextTokenizer } from './tokenize.js';

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
  const fetch = tensorOutputs(ctx);
  const name = fetch.find((n) => n === 'logits') ?? fetch[0];
  if (!name) throw new ModelctlError('INVALID_INPUT', 'the model has no tensor output');
  const out = (await runSession(ctx, textFeeds(ctx, batch), [name]))[name];
  const dims = out?.dims ?? [];
  const width = batch.inputIds[0]?.length ?? 0;
  if (!out || dims.length !== 3 || dims[0] !== texts.length || dims[1] !== width) {
    throw new ModelctlError(
      'INVALID_INPUT',
      `output ${name} has shape [${dims.join(', ')}]; token classification needs [batch, tokens, labels]`,
      {
        hint: 'the model is not a token classifier: try --task text-classification or --task raw',
      },
    );
  }
  const labels = dims[2] as number;
  const data = out.data as ArrayLike<number>;
  return encoded.map((e, row) => {
    const chars = Array.from(e.text);
    const pre: PreEntity[] = [];
    for (let k = 0; k < e.keep; k++) {
      const index = e.framed.aStart + k;
      const at = (row * width + (batch.starts[row] as number) + index) * labels;
      const logits = Array.from({ length: labels }, (_, j) => Number(data[at + j]));
      const [start, end] = e.spans.offsets[k] as [number, number];
      const original = chars.slice(start, end).join('');
      const token = e.spans.tokens[k] as string;
      // transformers: a piece whose spelling is longer than its text (the "##") continues a word; [UNK] is the text.
      const unknown = e.spans.unknown[k] as boolean;
      pre.push({
        word: unknown ? original : token,
        scores: softmaxOf(logits, 'softmax'),
        start,
        end,
        index,
        isSubword: !unknown && Array.from(token).length !== end - start,
      });
    }
    const entities = entitiesOf(pre, aggregation, modelConfig, tokenizer);
    return e.truncated ? { entities, truncated: true as const } : { entities };
  });
}
