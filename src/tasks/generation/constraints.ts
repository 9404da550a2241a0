import { applyRepetitionPenalty, applyWarpers, type ProcessorSettings } from './processors.js';

/**
 * The logits processors on one row of scores (changed in place), for decoder-only and encoder-decoder models alike,
 * in the order GenerationMixin._get_logits_processor builds them: RepetitionPenalty, NoRepeatNGram, NoBadWords,
 * MinLength, MinNewTokensLength, ForcedBOSToken, ForcedEOSToken, SuppressTokens, SuppressTokensAtBegin, Whisper's
 * timestamp rules when asked (WhisperTimeStampLogitsProcessor, which Whisper's generate() puts after the suppress
 * processors), then, only when sampling, temperature, top-k and top-p (processors.ts). `sequence` is transformers' input_ids there: the
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
  /** Whisper's timestamp rules (generation_config.json's no_timestamps_token_id; timestamps are the ids after it). */
  timestamps?: WhisperTimestamps;
}

export interface WhisperTimestamps {
  noTimestampsTokenId: number;
  /** The first timestamp is at most <|0.00|> + this (generation_config.json's max_initial_timestamp_index). */
  maxInitialTimestampIndex?: number;
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

/**
 * WhisperTimeStampLogitsProcessor on one row, `begin` being the prompt's length: <|notimestamps|> never; after one
 * timestamp that follows text, only another timestamp or the end token (ids from eos on); after two timestamps,
 * text; no timestamp below the last one (nor equal to it after a closed pair); the first new token a timestamp no
 * later than max_initial_timestamp_index; and text banned when the timestamps' total probability beats every text
 * token's (log-softmax in float32, as transformers computes it).
 */
export function applyTimestampRules(
  scores: Float32Array,
  sequence: readonly number[],
  t: WhisperTimestamps,
  begin: number,
  eos: number,
): void {
  const first = t.noTimestampsTokenId + 1;
  const fill = (from: number, to: number): void => {
    scores.fill(Number.NEGATIVE_INFINITY, Math.max(0, from), Math.min(scores.length, to));
  };
  ban(scores, [t.noTimestampsTokenId]);
  const seq = sequence.slice(begin);
  const lastWas = seq.length >= 1 && (seq[seq.length - 1] as number) >= first;
  const penultimateWas = seq.length < 2 || (seq[seq.length - 2] as number) >= first;
  if (lastWas) {
    if (penultimateWas) fill(first, scores.length);
    else fill(0, eos);
  }
  const stamps = seq.filter((id) => id >= first);
  if (stamps.length > 0) {
    const last = stamps[stamps.length - 1] as number;
    fill(first, lastWas && !penultimateWas ? last : last + 1);
  }
  if (sequence.length === begin) {
    fill(0, first);
    if (t.maxInitialTimestampIndex !== undefined) fill(first + t.maxInitialTimestampIndex + 1, scores.length);
  }
  const logprobs = logSoftmax(scores);
  let max = Number.NEGATIVE_INFINITY;
  for (let i = first; i < logprobs.length; i++) if ((logprobs[i] as number) > max) max = logprobs[i] as number;
  let stampLogprob = Number.NEGATIVE_INFINITY;
  if (max > Number.NEGATIVE_INFINITY) {
    let sum = 0;
    for (let i = first; i < logprobs.length; i++) sum = f32(sum + f32(Math.exp(f32((logprobs[i] as number) - max))));
    stampLogprob = f32(f32(Math.log(sum)) + max);
  }
  let maxText = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < Math.min(first, logprobs.length); i++) if ((logprobs[i] as number) > maxText) maxText = logprobs[i] as number;
  if (stampLogprob > maxText) fill(0, first);
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
  if (s.timestamps) applyTimestampRules(scores, sequence, s.timestamps, at.inputLength, s.eosTokenIds[0] ?? 0);
  applyWarpers(scores, s);
}
