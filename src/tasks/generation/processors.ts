/**
 * The logits processors of text generation that act on the scores' values, on one row of next-token logits (a
 * Float32Array over the vocabulary, changed in place): the repetition penalty and, only when sampling, temperature,
 * top-k and top-p (the whole chain, in generate()'s order, is constraints.ts' processScores). The arithmetic is done in
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

/** The k-th largest value (k >= 1, k < length): a min-heap of the k largest seen, O(n log k) rather than a sort. */
function kthLargest(values: Float32Array, k: number): number {
  const heap = new Float32Array(k);
  let size = 0;
  const down = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < size && (heap[l] as number) < (heap[m] as number)) m = l;
      if (r < size && (heap[r] as number) < (heap[m] as number)) m = r;
      if (m === i) return;
      const t = heap[i] as number;
      heap[i] = heap[m] as number;
      heap[m] = t;
      i = m;
    }
  };
  for (let n = 0; n < values.length; n++) {
    const v = values[n] as number;
    if (size < k) {
      let i = size++;
      heap[i] = v;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if ((heap[parent] as number) <= (heap[i] as number)) break;
        const t = heap[i] as number;
        heap[i] = heap[parent] as number;
        heap[parent] = t;
        i = parent;
      }
    } else if (v > (heap[0] as number)) {
      heap[0] = v;
      down(0);
    }
  }
  return heap[0] as number;
}

/**
 * TopKLogitsWarper: every logit below the k-th largest becomes -Infinity (ties with the k-th are kept, as
 * `scores < topk(scores, k)[..., -1]` keeps them).
 */
export function applyTopK(logits: Float32Array, k: number, minTokensToKeep = 1): void {
  const keep = Math.min(Math.max(k, minTokensToKeep), logits.length);
  if (keep >= logits.length) return;
  const threshold = kthLargest(logits, keep);
  for (let i = 0; i < logits.length; i++) if ((logits[i] as number) < threshold) logits[i] = Number.NEGATIVE_INFINITY;
}

/**
 * TopPLogitsWarper: sorted ascending, the tokens whose cumulative probability stays at or below 1 - top_p are
 * removed (the most probable min_tokens_to_keep always stay). Ties are ordered by index, as a stable sort does.
 */
export function applyTopP(logits: Float32Array, topP: number, minTokensToKeep = 1): void {
  if (topP >= 1) return;
  // Tokens already at -Infinity (after top-k: all but k) have probability 0: they stay removed whatever their rank,
  // and leave the cumulative sum unchanged, so only the others count. Their values are sorted (a typed-array sort,
  // no index comparator) to find how many go; which ones then follows from the value order, ties by index.
  const kept: number[] = [];
  for (let i = 0; i < logits.length; i++) if ((logits[i] as number) !== Number.NEGATIVE_INFINITY) kept.push(logits[i] as number);
  const n = kept.length;
  const sorted = Float32Array.from(kept).sort();
  const probs = softmax(sorted);
  const threshold = f32(1 - topP);
  let cumulative = 0;
  let removed = 0;
  while (removed < n - minTokensToKeep) {
    cumulative = f32(cumulative + (probs[removed] as number));
    if (cumulative > threshold) break;
    removed++;
  }
  if (removed === 0) return;
  const cut = sorted[removed - 1] as number;
  // Every value below the last removed one goes; of those equal to it, the first ones by index, as many as ranked.
  let equal = removed;
  for (let r = 0; r < removed; r++) if ((sorted[r] as number) < cut) equal--;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i] as number;
    if (v < cut) logits[i] = Number.NEGATIVE_INFINITY;
    else if (v === cut && equal > 0) {
      logits[i] = Number.NEGATIVE_INFINITY;
      equal--;
    }
  }
}

/** Softmax in float32 after subtracting the maximum; -Infinity gives 0. */
export function softmax(logits: Float32Array): Float32Array {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) if ((logits[i] as number) > max) max = logits[i] as number;
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

/** The warpers of sampling (temperature, top-k, top-p), in place; nothing when greedy. */
export function applyWarpers(logits: Float32Array, s: ProcessorSettings): void {
  if (!s.doSample) return;
  if (s.temperature !== undefined && s.temperature !== 1) applyTemperature(logits, s.temperature);
  if (s.topK !== undefined && s.topK !== 0) applyTopK(logits, s.topK);
  if (s.topP !== undefined && s.topP < 1) applyTopP(logits, s.topP);
}
