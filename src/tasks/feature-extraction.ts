import { ModelctlError } from '../errors.js';
import { runSession, tensorOutputs, type RunContext } from './tensors.js';
import type { Tensor } from 'onnxruntime-node';
import type { PoolingMode, SentencePipeline } from './sentence-transformers.js';
import { textFeeds, type EncodedBatch, type TextTokenizer } from './tokenize.js';

/**
 * Sentence embeddings from an encoder: the token vectors (last_hidden_state) pooled over the real tokens (the
 * attention mask leaves padding out) as a sentence-transformers folder's Pooling module says (mean when there is
 * none), then optionally scaled to unit length. Its default prompt and do_lower_case apply to the texts first.
 * An output that is already one vector per text (sentence_embedding) is taken as it is.
 */

export interface EmbeddingPrediction {
  embedding: number[];
  truncated?: true;
}

/** The token-level output, by the names transformers and sentence-transformers exports use, else the first one. */
export function embeddingOutput(ctx: RunContext): string {
  const fetch = tensorOutputs(ctx);
  const name = ['last_hidden_state', 'token_embeddings'].find((n) => fetch.includes(n)) ?? fetch[0];
  if (!name) throw new ModelctlError('INVALID_INPUT', 'the model has no tensor output');
  return name;
}

/** The first index where the mask is 1 (0 when none), as torch's argmax over the mask. */
function firstReal(mask: readonly number[]): number {
  const i = mask.findIndex((m) => m !== 0);
  return Math.max(i, 0);
}

/** One row's pooled vector for one mode, as sentence-transformers' Pooling module computes it. */
function poolRow(
  hidden: ArrayLike<number>,
  r: number,
  tokens: number,
  width: number,
  mask: readonly number[],
  mode: PoolingMode,
): number[] {
  const at = (t: number, k: number): number => hidden[(r * tokens + t) * width + k] as number;
  const m = (t: number): number => mask[t] ?? 0;
  if (mode === 'cls' || mode === 'lasttoken') {
    let t = firstReal(mask);
    if (mode === 'lasttoken') {
      t = tokens - 1;
      while (t > 0 && m(t) === 0) t--;
    }
    // lasttoken multiplies by the mask: a row with no real token gives zeros.
    const scale = mode === 'lasttoken' ? m(t) : 1;
    return Array.from({ length: width }, (_, k) => at(t, k) * scale);
  }
  if (mode === 'max') {
    const out = new Array<number>(width).fill(Number.NEGATIVE_INFINITY);
    for (let t = 0; t < tokens; t++) if (m(t) !== 0) for (let k = 0; k < width; k++) out[k] = Math.max(out[k] as number, at(t, k));
    return out;
  }
  // mean, mean_sqrt_len_tokens, weightedmean: a weighted sum over the real tokens.
  const start = firstReal(mask);
  const sum = new Array<number>(width).fill(0);
  let total = 0;
  for (let t = 0; t < tokens; t++) {
    const w = m(t) * (mode === 'weightedmean' ? t + 1 - start : 1);
    if (w === 0) continue;
    total += w;
    for (let k = 0; k < width; k++) sum[k] = (sum[k] as number) + w * at(t, k);
  }
  const denominator = mode === 'mean_sqrt_len_tokens' ? Math.sqrt(Math.max(total, 1e-9)) : Math.max(total, 1e-9);
  return sum.map((x) => x / denominator);
}

/** Each row's token vectors pooled by every mode, the modes' vectors concatenated in order. */
export function pool(
  hidden: ArrayLike<number>,
  dims: readonly number[],
  mask: readonly number[][],
  modes: readonly PoolingMode[],
): number[][] {
  const [rows = 0, tokens = 0, width = 0] = dims;
  const out: number[][] = [];
  for (let r = 0; r < rows; r++) out.push(modes.flatMap((mode) => poolRow(hidden, r, tokens, width, mask[r] ?? [], mode)));
  return out;
}

/** Unit length in the Euclidean norm (a zero vector stays zero), as torch.nn.functional.normalize does. */
export function l2Normalize(v: readonly number[]): number[] {
  const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
  return v.map((x) => x / Math.max(norm, 1e-12));
}

/** The texts as the model reads them: the sentence-transformers prompt put before each, and lowercased if asked. */
export function embeddingTexts(texts: readonly string[], sentence?: SentencePipeline): readonly string[] {
  const prompt = sentence?.prompt ?? '';
  if (!prompt && !sentence?.lowercase) return texts;
  return texts.map((t) => (sentence?.lowercase ? (prompt + t).toLowerCase() : prompt + t));
}

/** The model's output for one tokenized batch, pooled (and scaled to unit length if asked): one vector per text. */
export function poolEmbeddings(
  name: string,
  out: Tensor | undefined,
  batch: EncodedBatch,
  normalize: boolean,
  sentence?: SentencePipeline,
): EmbeddingPrediction[] {
  const rows = batch.truncated.length;
  const dims = out?.dims ?? [];
  if (
    !out ||
    dims[0] !== rows ||
    (dims.length !== 2 && dims.length !== 3) ||
    (dims.length === 3 && dims[1] !== batch.attentionMask[0]?.length)
  ) {
    throw new ModelctlError(
      'INVALID_INPUT',
      `output ${name} has shape [${dims.join(', ')}]; feature extraction needs [batch, tokens, width] or [batch, width]`,
      { hint: 'run the model with --task raw to see its outputs' },
    );
  }
  if (out.type !== 'float32' && out.type !== 'float64') {
    throw new ModelctlError('INVALID_INPUT', `output ${name} is ${out.type}; feature extraction reads float32 or float64`, {
      hint: 'run the model with --task raw',
    });
  }
  const data = out.data as Float32Array | Float64Array;
  const width = dims.at(-1) as number;
  const pooled =
    dims.length === 3
      ? pool(data, dims, batch.attentionMask, sentence?.pooling ?? ['mean'])
      : Array.from({ length: rows }, (_, i) => Array.from(data.subarray(i * width, (i + 1) * width)));
  return pooled.map((v, i) => {
    const embedding = normalize ? l2Normalize(v) : v;
    return batch.truncated[i] ? { embedding, truncated: true as const } : { embedding };
  });
}

/** One batch of texts through the model; one vector per text, in order. */
export async function embedTexts(
  ctx: RunContext,
  tokenizer: TextTokenizer,
  texts: readonly string[],
  normalize: boolean,
  sentence?: SentencePipeline,
): Promise<EmbeddingPrediction[]> {
  if (texts.length === 0) return [];
  const batch = tokenizer.encodeBatch(embeddingTexts(texts, sentence));
  const name = embeddingOutput(ctx);
  const out = (await runSession(ctx, textFeeds(ctx, batch), [name]))[name];
  return poolEmbeddings(name, out, batch, normalize, sentence);
}
