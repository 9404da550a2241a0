import { applyRepetitionPenalty, applyTemperature, applyTopK, applyTopP } from './processors.js';

/**
 * The logits processors seq2seq checkpoints switch on (transformers' NoRepeatNGramLogitsProcessor,
 * MinLengthLogitsProcessor, ForcedBOSTokenLogitsProcessor, ForcedEOSTokenLogitsProcessor, and Whisper's
 * SuppressTokensLogitsProcessor and SuppressTokensAtBeginLogitsProcessor), on one row of scores
 * (changed in place), and the whole chain in the order GenerationMixin._get_logits_processor builds it. `sequence`
 * is the decoder's sequence so far, its start token included, as transformers' input_ids there.
 */

export interface ConstraintSettings {
  repetitionPenalty?: number;
  noRepeatNgramSize: number;
  minLength: number;
  eosTokenIds: readonly number[];
  forcedBosTokenId?: number;
  forcedEosTokenId?: readonly number[];
  doSample: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  /** Never generated (transformers' SuppressTokensLogitsProcessor: Whisper's suppress_tokens). */
  suppressTokens?: readonly number[];
  /** Not generated first: banned when the sequence is `at` long (SuppressTokensAtBeginLogitsProcessor). */
  beginSuppress?: { at: number; tokens: readonly number[] };
}

const f32 = Math.fround;

/** log_softmax in float32: x - max - log(sum(exp(x - max))). */
export function logSoftmax(logits: Float32Array): Float32Array {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of logits) if (v > max) max = v;
  let sum = 0;
  for (const v of logits) sum += f32(Math.exp(f32(v - max)));
  const logSum = f32(Math.log(f32(sum)));
  const out = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = f32(f32((logits[i] as number) - max) - logSum);
  return out;
}

/** Bans every token that would complete an n-gram already in `sequence` (each window whose first n-1 match the end). */
export function applyNoRepeatNgram(scores: Float32Array, sequence: readonly number[], n: number): void {
  const len = sequence.length;
  if (n <= 0 || len < n) return;
  const start = len + 1 - n;
  for (let w = 0; w + n <= len; w++) {
    let match = true;
    for (let k = 0; k < n - 1 && match; k++) match = sequence[w + k] === sequence[start + k];
    if (match) {
      const banned = sequence[w + n - 1] as number;
      if (banned >= 0 && banned < scores.length) scores[banned] = Number.NEGATIVE_INFINITY;
    }
  }
}

function only(scores: Float32Array, ids: readonly number[]): void {
  scores.fill(Number.NEGATIVE_INFINITY);
  for (const id of ids) if (id >= 0 && id < scores.length) scores[id] = 0;
}

/**
 * The chain on one row. `maxLength` is the decoder's length limit (start token included): forced_eos_token_id
 * takes the last position.
 */
export function processSeq2Seq(scores: Float32Array, sequence: readonly number[], s: ConstraintSettings, maxLength: number): void {
  if (s.repetitionPenalty !== undefined && s.repetitionPenalty !== 1) applyRepetitionPenalty(scores, sequence, s.repetitionPenalty);
  if (s.noRepeatNgramSize > 0) applyNoRepeatNgram(scores, sequence, s.noRepeatNgramSize);
  if (sequence.length < s.minLength) for (const id of s.eosTokenIds) if (id < scores.length) scores[id] = Number.NEGATIVE_INFINITY;
  if (s.forcedBosTokenId !== undefined && sequence.length === 1) only(scores, [s.forcedBosTokenId]);
  if (s.forcedEosTokenId !== undefined && sequence.length === maxLength - 1) only(scores, s.forcedEosTokenId);
  const ban = (ids: readonly number[]) => {
    for (const id of ids) if (id >= 0 && id < scores.length) scores[id] = Number.NEGATIVE_INFINITY;
  };
  if (s.suppressTokens) ban(s.suppressTokens);
  if (s.beginSuppress && sequence.length === s.beginSuppress.at) ban(s.beginSuppress.tokens);
  if (!s.doSample) return;
  if (s.temperature !== undefined && s.temperature !== 1) applyTemperature(scores, s.temperature);
  if (s.topK !== undefined && s.topK !== 0) applyTopK(scores, s.topK);
  if (s.topP !== undefined && s.topP < 1) applyTopP(scores, s.topP);
}
