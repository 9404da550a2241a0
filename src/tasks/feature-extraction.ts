import { ModelctlError } from '../errors.js';
import { runSession, tensorOutputs, type RunContext } from './tensors.js';
import { textFeeds, type TextTokenizer } from './tokenize.js';

/**
 * Sentence embeddings from an encoder: the token vectors (last_hidden_state) averaged over the real tokens (the
 * attention mask leaves padding out), as sentence-transformers' mean pooling does, then optionally scaled to unit
 * length. An output that is already one vector per text (sentence_embedding) is taken as it is.
 */

export interface EmbeddingPrediction {
  embedding: number[];
  truncated?: true;
}

/** The token-level output, by the names transformers and sentence-transformers exports use, else the first one. */
function embeddingOutput(ctx: RunContext): string {
  const fetch = tensorOutputs(ctx);
  const name = ['last_hidden_state', 'token_embeddings'].find((n) => fetch.includes(n)) ?? fetch[0];
  if (!name) throw new ModelctlError('INVALID_INPUT', 'the model has no tensor output');
  return name;
}

/** Mean of each row's token vectors where its mask is 1 (a row with none gives zeros, not NaN). */
export function meanPool(hidden: ArrayLike<number>, dims: readonly number[], mask: readonly number[][]): number[][] {
  const [rows = 0, tokens = 0, width = 0] = dims;
  const out: number[][] = [];
  for (let r = 0; r < rows; r++) {
    const sum = new Array<number>(width).fill(0);
    let count = 0;
    for (let t = 0; t < tokens; t++) {
      const m = mask[r]?.[t] ?? 0;
      if (m === 0) continue;
      count += m;
      const base = (r * tokens + t) * width;
      for (let k = 0; k < width; k++) sum[k] = (sum[k] as number) + m * (hidden[base + k] as number);
    }
    out.push(sum.map((s) => s / Math.max(count, 1e-9)));
  }
  return out;
}

/** Unit length in the Euclidean norm (a zero vector stays zero), as torch.nn.functional.normalize does. */
export function l2Normalize(v: readonly number[]): number[] {
  const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
  return v.map((x) => x / Math.max(norm, 1e-12));
}

/** One batch of texts through the model; one vector per text, in order. */
export async function embedTexts(
  ctx: RunContext,
  tokenizer: TextTokenizer,
  texts: readonly string[],
  normalize: boolean,
): Promise<EmbeddingPrediction[]> {
  if (texts.length === 0) return [];
  const batch = tokenizer.encodeBatch(texts);
  const name = embeddingOutput(ctx);
  const out = (await runSession(ctx, textFeeds(ctx, batch), [name]))[name];
  const dims = out?.dims ?? [];
  if (
    !out ||
    dims[0] !== texts.length ||
    (dims.length !== 2 && dims.length !== 3) ||
    (dims.length === 3 && dims[1] !== batch.attentionMask[0]?.length)
  ) {
    throw new ModelctlError(
      'INVALID_INPUT',
      `output ${name} has shape [${dims.join(', ')}]; feature extraction needs [batch, tokens, width] or [batch, width]`,
      {
        hint: 'run the model with --task raw to see its outputs',
      },
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
      ? meanPool(data, dims, batch.attentionMask)
      : texts.map((_, i) => Array.from(data.subarray(i * width, (i + 1) * width)));
  return pooled.map((v, i) => {
    const embedding = normalize ? l2Normalize(v) : v;
    return batch.truncated[i] ? { embedding, truncated: true as const } : { embedding };
  });
}
