import { ModelctlError } from '../errors.js';
import type { RunContext } from './tensors.js';
import { tokenLogits } from './text-feeds.js';
import type { TextTokenizer } from './tokenize.js';

/**
 * Masked language models (BertForMaskedLM, RobertaForMaskedLM and kin), answered as transformers' fill-mask
 * pipeline answers: at each mask token of a text, a softmax over the vocabulary and the K most likely tokens, each
 * with the text it makes. That text is the text's ids with the mask replaced by the candidate and the padding ids
 * removed, decoded with the special tokens skipped when the text holds one mask, kept when it holds several (the
 * other masks then show as themselves, as the pipeline shows them). Several masks are scored independently, one
 * list each, in text order. The mask token is tokenizer_config.json's mask_token, else [MASK] or <mask>.
 */

export interface MaskFill {
  score: number;
  /** The candidate's id and its text (decoded alone). */
  token: number;
  token_str: string;
  /** The text with the mask replaced by the candidate. */
  sequence: string;
}

export interface FillMaskPrediction {
  /** One list per mask token in the text, in order; each the K best candidates, the best first. */
  masks: MaskFill[][];
  truncated?: true;
}

/** The pipeline's default number of candidates. */
export const DEFAULT_FILL_TOP_K = 5;

/** The tokenizer's mask token and its id. */
export function maskToken(tokenizer: TextTokenizer): { token: string; id: number } {
  const named = tokenizer.configToken('mask_token');
  for (const token of named !== undefined ? [named] : ['[MASK]', '<mask>']) {
    const id = tokenizer.tokenId(token);
    if (id !== undefined) return { token, id };
  }
  throw new ModelctlError(
    'INVALID_INPUT',
    `the tokenizer has no mask token${named !== undefined ? ` (${named} is not in its vocabulary)` : ''}`,
    {
      hint: 'fill-mask needs a tokenizer with mask_token in tokenizer_config.json ([MASK], <mask>)',
    },
  );
}

/** The K largest of `probs` (ties: the lower index first), as [index, value]. */
function topK(probs: Float64Array, k: number): Array<[number, number]> {
  const best: Array<[number, number]> = [];
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i] as number;
    if (best.length === k && p <= (best[k - 1] as [number, number])[1]) continue;
    let at = best.length;
    while (at > 0 && (best[at - 1] as [number, number])[1] < p) at--;
    best.splice(at, 0, [i, p]);
    if (best.length > k) best.pop();
  }
  return best;
}

function softmax(logits: ArrayLike<number>, from: number, width: number): Float64Array {
  let max = -Infinity;
  for (let v = 0; v < width; v++) max = Math.max(max, logits[from + v] as number);
  const out = new Float64Array(width);
  let sum = 0;
  for (let v = 0; v < width; v++) {
    out[v] = Math.exp((logits[from + v] as number) - max);
    sum += out[v] as number;
  }
  for (let v = 0; v < width; v++) out[v] = (out[v] as number) / sum;
  return out;
}

/** One batch of texts through the model; one prediction per text, in order. A text without a mask is refused. */
export async function fillMasks(
  ctx: RunContext,
  tokenizer: TextTokenizer,
  texts: readonly string[],
  k: number = DEFAULT_FILL_TOP_K,
): Promise<FillMaskPrediction[]> {
  if (texts.length === 0) return [];
  const mask = maskToken(tokenizer);
  const batch = tokenizer.encodeBatch(texts);
  // The ids of each text as the pipeline tokenizes it alone (no padding), and where its masks are.
  const rows = batch.inputIds.map((ids, i) => ids.filter((_, p) => batch.attentionMask[i]?.[p] === 1));
  const offsets = batch.attentionMask.map((m) => m.indexOf(1));
  rows.forEach((ids, i) => {
    if (!ids.includes(mask.id)) {
      const cut = batch.truncated[i] && texts[i]?.includes(mask.token) ? ' (it was cut off: the text is longer than the model takes)' : '';
      throw new ModelctlError('INVALID_INPUT', `no mask token ${mask.token} in the text${texts.length > 1 ? ` ${i + 1}` : ''}${cut}`, {
        hint: `write ${mask.token} where a word should be predicted, e.g. "Paris is the ${mask.token} of France."`,
      });
    }
  });
  const { data: logits, width: vocab } = await tokenLogits(
    ctx,
    batch,
    texts.length,
    'fill-mask needs [batch, tokens, vocabulary]',
    'the model is not a masked language model: try --task feature-extraction or --task raw',
  );
  const width = batch.inputIds[0]?.length ?? 0;
  // The pipeline drops the pad token's id from the filled text (numpy compares with None when there is none).
  const padToken = tokenizer.configToken('pad_token');
  const pad = padToken !== undefined ? tokenizer.tokenId(padToken) : undefined;
  return rows.map((ids, i) => {
    const positions = ids.flatMap((id, p) => (id === mask.id ? [p] : []));
    const single = positions.length === 1;
    const masks = positions.map((p) => {
      const probs = softmax(logits, (i * width + (offsets[i] as number) + p) * vocab, vocab);
      return topK(probs, Math.min(k, vocab)).map(([token, score]) => {
        const filled = ids.map((id, q) => (q === p ? token : id)).filter((id) => id !== pad);
        return { score, token, token_str: tokenizer.decode([token], false), sequence: tokenizer.decode(filled, single) };
      });
    });
    return batch.truncated[i] ? { masks, truncated: true as const } : { masks };
  });
}
