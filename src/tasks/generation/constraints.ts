import { applyRepetitionPenalty, applyWarpers, type ProcessorSettings } from './processors.js';

/**
 * The logits processors on one row of scores (changed in place), for decoder-only and encoder-decoder models alike,
 * in the order GenerationMixin._get_logits_processor builds them: RepetitionPenalty, NoRepeatNGram, NoBadWords,
 * MinLength, MinNewTokensLength, ForcedBOSToken, ForcedEOSToken, SuppressTokens, SuppressTokensAtBegin, then, only
 * when sampling, temperature, top-k and top-p (processors.ts). `sequence` is transformers' input_ids there: the
 * prompt and the new tokens (decoder-only), or the decoder's prompt (its start token; Whisper's start, language, task
 * and no-timestamps tokens) and the new tokens (encoder-decoder).
 */

export interface ChainSettings extends ProcessorSettings {
  noRepeatNgramSize: number;
  /** Token sequences never generated (each banned when the text ends with all of it but its last token). */
  badWordsIds: readonly (readonly number[])[];
  /** The whole sequence (input included) is at least this long before an end token may come. */
  minLength: number;
  /** At least this many new tokens before an end token may come. */
  minNewTokens?: number;
  eosTokenIds: readonly number[];
  forcedBosTokenId?: number;
  forcedEosTokenId?: readonly number[];
  /** Never generated. */
  suppressTokens: readonly number[];
  /** Not generated as the first new token. */
  beginSuppressTokens: readonly number[];
}

/** Where the row is: the input's length (transformers' input_ids_seq_length) and the sequence's length limit. */
export interface ChainPlace {
  inputLength: number;
  maxLength: number;
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

function ban(scores: Float32Array, ids: readonly number[]): void {
  for (const id of ids) if (id >= 0 && id < scores.length) scores[id] = Number.NEGATIVE_INFINITY;
}

/** NoBadWordsLogitsProcessor: a bad word's last token is banned when the sequence ends with the rest of it. */
export function applyBadWords(scores: Float32Array, sequence: readonly number[], words: readonly (readonly number[])[]): void {
  for (const word of words) {
    const prefix = word.length - 1;
    if (prefix > sequence.length) continue;
    let match = true;
    for (let k = 0; k < prefix && match; k++) match = sequence[sequence.length - prefix + k] === word[k];
    if (match) ban(scores, [word[prefix] as number]);
  }
}

/** The chain on one row (see the header for the order). */
export function processScores(scores: Float32Array, sequence: readonly number[], s: ChainSettings, at: ChainPlace): void {
  const length = sequence.length;
  if (s.repetitionPenalty !== undefined && s.repetitionPenalty !== 1) applyRepetitionPenalty(scores, sequence, s.repetitionPenalty);
  if (s.noRepeatNgramSize > 0) applyNoRepeatNgram(scores, sequence, s.noRepeatNgramSize);
  if (s.badWordsIds.length > 0) applyBadWords(scores, sequence, s.badWordsIds);
  // generate() turns min_new_tokens into min_length (input included), and keeps both processors.
  const minLength = s.minNewTokens !== undefined ? at.inputLength + s.minNewTokens : s.minLength;
  if (length < minLength) ban(scores, s.eosTokenIds);
  if (s.forcedBosTokenId !== undefined && length === 1) only(scores, [s.forcedBosTokenId]);
  if (s.forcedEosTokenId !== undefined && length === at.maxLength - 1) only(scores, s.forcedEosTokenId);
  if (s.suppressTokens.length > 0) ban(scores, s.suppressTokens);
  // SuppressTokensAtBegin's begin_index: the input's length, one more after a forced BOS on a one-token input.
  const begin = at.inputLength > 1 || s.forcedBosTokenId === undefined ? at.inputLength : at.inputLength + 1;
  if (s.beginSuppressTokens.length > 0 && length === begin) ban(scores, s.beginSuppressTokens);
  applyWarpers(scores, s);
}
