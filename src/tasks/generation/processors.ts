/**
 * The logits processors of text generation, on one row of next-token logits (a Float32Array over the vocabulary,
 * changed in place), in the order transformers' generate() applies them (GenerationMixin._get_logits_processor):
 * repetition penalty first, then, only when sampling, temperature, top-k and top-p. The arithmetic is done in
 * float32 as PyTorch does, so that greedy choices and scores match the reference to the last bit where they can.
 */

export interface ProcessorSettings {
  /** > 0; 1 (or absent) turns it off. */
  repetitionPenalty?: number;
  doSample: boolean;
  /** > 0; 1 turns it off. Only when sampling. */
  temperature?: number;
  /** 0 turns it off. Only when sampling. */
  topK?: number;
  /** In (0, 1]; 1 turns it off. Only when sampling. */
  topP?: number;
}

const f32 = Math.fround;

/**
 * transformers' RepetitionPenaltyLogitsProcessor: every token id already in the sequence (prompt and generated,
 * each once) has its logit divided by the penalty when positive, multiplied when negative.
 */
export function applyRepetitionPenalty(logits: Float32Array, seen: Iterable<number>, penalty: number): void {
  for (const id of new Set(seen)) {
    if (id < 0 || id >= logits.length) continue;
    const v = logits[id] as number;
    logits[id] = v < 0 ? f32(v * penalty) : f32(v / penalty);
  }
}

/** TemperatureLogitsWarper: logits / temperature. */
export function applyTemperature(logits: Float32Array, temperature: number): void {
  for (let i = 0; i < logits.length; i++) logits[i] = f32((logits[i] as number) / temperature);
}

/**
 * TopKLogitsWarper: every logit below the k-th largest becomes -Infinity (ties with the k-th are kept, as
 * `scores < topk(scores, k)[..., -1]` keeps them).
 */
export function applyTopK(logits: Float32Array, k: number, minTokensToKeep = 1): void {
  const keep = Math.min(Math.max(k, minTokensToKeep), logits.length);
  if (keep >= logits.length) return;
  const sorted = Float32Array.from(logits).sort();
  const threshold = sorted[logits.length - keep] as number;
  for (let i = 0; i < logits.length; i++) if ((logits[i] as number) < threshold) logits[i] = Number.NEGATIVE_INFINITY;
}

/**
 * TopPLogitsWarper: sorted ascending, the tokens whose cumulative probability stays at or below 1 - top_p are
 * removed (the most probable min_tokens_to_keep always stay). Ties are ordered by index, as a stable sort does.
 */
export function applyTopP(logits: Float32Array, topP: number, minTokensToKeep = 1): void {
  if (topP >= 1) return;
  const n = logits.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (logits[a] as number) - (logits[b] as number) || a - b);
  const probs = softmax(Float32Array.from(order, (i) => logits[i] as number));
  const threshold = f32(1 - topP);
  let cumulative = 0;
  for (let r = 0; r < n - minTokensToKeep; r++) {
    cumulative = f32(cumulative + (probs[r] as number));
    if (cumulative > threshold) break;
    logits[order[r] as number] = Number.NEGATIVE_INFINITY;
  }
}

/** Softmax in float32 after subtracting the maximum; -Infinity gives 0. */
export function softmax(logits: Float32Array): Float32Array {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of logits) if (v > max) max = v;
  const out = new Float32Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = f32(Math.exp(f32((logits[i] as number) - max)));
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < out.length; i++) out[i] = f32((out[i] as number) / sum);
  return out;
}

/** The index of the largest value; the first one on ties, as torch.argmax. */
export function argmax(values: Float32Array): number {
  let best = 0;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    if ((values[i] as number) > max) {
      max = values[i] as number;
      best = i;
    }
  }
  return best;
}

/** The whole chain on one row of logits, in place; `seen` is every token id of the sequence so far. */
export function processLogits(logits: Float32Array, seen: readonly number[], s: ProcessorSettings): void {
  if (s.repetitionPenalty !== undefined && s.repetitionPenalty !== 1) applyRepetitionPenalty(logits, seen, s.repetitionPenalty);
  if (!s.doSample) return;
  if (s.temperature !== undefined && s.temperature !== 1) applyTemperature(logits, s.temperature);
  if (s.topK !== undefined && s.topK !== 0) applyTopK(logits, s.topK);
  if (s.topP !== undefined && s.topP < 1) applyTopP(logits, s.topP);
}
