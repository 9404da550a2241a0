import { ModelctlError } from '../../errors.js';
import type { ChainSettings } from './constraints.js';

/**
 * What a generation run does, from the caller's options over the model's generation_config.json over
 * transformers' defaults (GenerationConfig._get_default_generation_params: top_k 50, top_p 1, temperature 1,
 * greedy unless do_sample). Checked here, before the model runs, with one-line USAGE errors. The logits processors
 * the file may switch on (no_repeat_ngram_size, bad_words_ids, min_length / min_new_tokens, forced BOS/EOS,
 * suppress_tokens / begin_suppress_tokens) are honoured for both model kinds; its settings that would change the
 * output and that modelctl does not apply are named in `ignored` (predict warns about them), never silently dropped.
 */

export interface GenerationOptions {
  /** New tokens at most (default: generation_config.json's max_new_tokens, else 20 as transformers). */
  maxNewTokens?: number;
  /** Sample instead of greedy decoding (default: generation_config.json's do_sample, else false). */
  doSample?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  /** Seed of the sampler; a random one (reported back) when absent. */
  seed?: number;
  /** Generation stops when the text ends with one of these (not kept in the text). */
  stop?: string[];
  /** Extra end-of-sequence token ids, beside generation_config.json's eos_token_id. */
  eosTokenIds?: number[];
  /** Stop at end-of-sequence tokens (default true). */
  stopAtEos?: boolean;
  /** Keep every step's processed scores over the vocabulary (transformers' output_scores). */
  outputScores?: boolean;
  /** No n-gram of this size occurs twice (default: generation_config.json, else off). */
  noRepeatNgramSize?: number;
}

export interface GenerationSettings extends ChainSettings {
  /** New tokens at most, when the call or generation_config.json's max_new_tokens says; else see maxLength. */
  maxNewTokens?: number;
  /** generation_config.json's max_length: the whole sequence (prompt, or decoder start token, included). */
  maxLength?: number;
  seed?: number;
  stop: string[];
  outputScores: boolean;
  /** generation_config.json's keys that would change the output and that modelctl does not apply. */
  ignored: string[];
}

/** transformers' default when neither the call nor generation_config.json says (GenerationConfig max_length 20 - prompt). */
export const DEFAULT_MAX_NEW_TOKENS = 20;

function record(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function int(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : undefined;
}

/** A list of token ids, or an error naming the key (a file that says something modelctl cannot read is refused). */
function idList(value: unknown, key: string): number[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => !(Number.isSafeInteger(v) && (v as number) >= 0)))
    throw new ModelctlError('INVALID_INPUT', `generation_config.json's ${key} is not a list of token ids`, {
      hint: 'fix generation_config.json (a list of whole numbers) and export or register the model again',
    });
  return value as number[];
}

/**
 * generation_config.json's settings that change what generate() gives and that no processor here applies, with
 * their off values (transformers' defaults). Beam search is encoder-decoder only (`beams`: whether the caller has it).
 */
const UNHONOURED: Record<string, (v: unknown) => boolean> = {
  num_beam_groups: (v) => v !== 1,
  diversity_penalty: (v) => v !== 0,
  penalty_alpha: (v) => v !== 0,
  top_h: () => true,
  min_p: () => true,
  typical_p: (v) => v !== 1,
  epsilon_cutoff: (v) => v !== 0,
  eta_cutoff: (v) => v !== 0,
  encoder_repetition_penalty: (v) => v !== 1,
  encoder_no_repeat_ngram_size: (v) => v !== 0,
  sequence_bias: () => true,
  guidance_scale: (v) => v !== 1,
  exponential_decay_length_penalty: () => true,
  renormalize_logits: (v) => v !== false,
  remove_invalid_values: (v) => v !== false,
  forced_decoder_ids: () => true,
  force_words_ids: () => true,
  constraints: () => true,
  watermarking_config: () => true,
  max_time: () => true,
};

/** Warpers generate() applies only when sampling. */
const SAMPLING_ONLY = new Set(['top_h', 'min_p', 'typical_p', 'epsilon_cutoff', 'eta_cutoff']);

/** The keys of generation_config.json set to something modelctl does not apply (sorted). */
function unhonoured(g: Record<string, unknown>, beams: boolean, sampling: boolean): string[] {
  const keys = Object.entries(UNHONOURED)
    .filter(([k, on]) => g[k] !== undefined && g[k] !== null && on(g[k]) && (sampling || !SAMPLING_ONLY.has(k)))
    .map(([k]) => k);
  if (!beams && typeof g.num_beams === 'number' && g.num_beams > 1) keys.push('num_beams');
  return keys.sort();
}

/** An id or a list of ids (generation_config.json and config.json write both). */
export function tokenIds(value: unknown): number[] {
  const list = Array.isArray(value) ? value : [value];
  return list.filter((v): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0);
}

function usage(message: string, hint?: string): ModelctlError {
  return new ModelctlError('USAGE', message, hint ? { hint } : {});
}

function check(o: GenerationOptions): void {
  const { maxNewTokens, temperature, topK, topP, repetitionPenalty, seed } = o;
  if (maxNewTokens !== undefined && !(Number.isSafeInteger(maxNewTokens) && maxNewTokens >= 1))
    throw usage(`max new tokens must be a whole number of at least 1, not ${String(maxNewTokens)}`);
  if (temperature !== undefined && !(Number.isFinite(temperature) && temperature > 0))
    throw usage(`temperature must be a number above 0, not ${String(temperature)}`, 'for greedy decoding leave sampling off');
  if (topK !== undefined && !(Number.isSafeInteger(topK) && topK >= 0))
    throw usage(`top-k must be a whole number (0 turns it off), not ${String(topK)}`);
  if (topP !== undefined && !(Number.isFinite(topP) && topP > 0 && topP <= 1))
    throw usage(`top-p must be a number above 0 and at most 1, not ${String(topP)}`);
  if (repetitionPenalty !== undefined && !(Number.isFinite(repetitionPenalty) && repetitionPenalty > 0))
    throw usage(`repetition penalty must be a number above 0, not ${String(repetitionPenalty)}`, '1 turns it off');
  if (seed !== undefined && !(Number.isSafeInteger(seed) && seed >= 0))
    throw usage(`seed must be a whole number of at least 0, not ${String(seed)}`);
  if (o.stop?.some((s) => s === '')) throw usage('a stop string cannot be empty');
  if (o.noRepeatNgramSize !== undefined && !(Number.isSafeInteger(o.noRepeatNgramSize) && o.noRepeatNgramSize >= 0))
    throw usage(`no-repeat n-gram size must be a whole number (0 turns it off), not ${String(o.noRepeatNgramSize)}`);
}

/**
 * The run's settings. `generationConfig` is generation_config.json ({} when the model has none); `modelConfig`
 * config.json, whose eos_token_id stands in when there is no generation_config.json (as transformers does).
 * `beams`: the caller runs beam search when num_beams says so (encoder-decoder models).
 */
export function generationSettings(
  o: GenerationOptions,
  generationConfig: unknown,
  modelConfig: unknown,
  beams = false,
): GenerationSettings {
  check(o);
  const g = record(generationConfig);
  const sampling = o.doSample ?? g.do_sample === true;
  const eos = o.stopAtEos === false ? [] : tokenIds(g.eos_token_id ?? record(modelConfig).eos_token_id);
  const configured = int(g.max_new_tokens);
  const maxLength = int(g.max_length);
  const maxNewTokens = o.maxNewTokens ?? (configured !== undefined && configured >= 1 ? configured : undefined);
  const badWords = g.bad_words_ids ?? [];
  if (!Array.isArray(badWords) || badWords.some((w) => !Array.isArray(w) || w.length === 0))
    throw new ModelctlError('INVALID_INPUT', "generation_config.json's bad_words_ids is not a list of token id lists", {
      hint: 'fix generation_config.json ([[id, ...], ...]) and export or register the model again',
    });
  const forcedBos = int(g.forced_bos_token_id);
  const forcedEos = tokenIds(g.forced_eos_token_id);
  const minNew = int(g.min_new_tokens);
  const eosTokenIds = [...new Set([...eos, ...(o.eosTokenIds ?? [])])];
  return {
    ...(maxNewTokens !== undefined ? { maxNewTokens } : {}),
    ...(maxNewTokens === undefined && maxLength !== undefined && maxLength >= 1 ? { maxLength } : {}),
    doSample: sampling,
    temperature: o.temperature ?? num(g.temperature) ?? 1,
    topK: o.topK ?? num(g.top_k) ?? 50,
    topP: o.topP ?? num(g.top_p) ?? 1,
    repetitionPenalty: o.repetitionPenalty ?? num(g.repetition_penalty) ?? 1,
    noRepeatNgramSize: o.noRepeatNgramSize ?? int(g.no_repeat_ngram_size) ?? 0,
    // NoBadWordsLogitsProcessor leaves out a single-token bad word that is an end token.
    badWordsIds: (badWords as unknown[][])
      .map((w, i) => idList(w, `bad_words_ids[${i}]`))
      .filter((w) => !(w.length === 1 && eos.includes(w[0] as number))),
    minLength: int(g.min_length) ?? 0,
    ...(minNew !== undefined && minNew > 0 ? { minNewTokens: minNew } : {}),
    ...(forcedBos !== undefined ? { forcedBosTokenId: forcedBos } : {}),
    ...(forcedEos.length > 0 ? { forcedEosTokenId: forcedEos } : {}),
    suppressTokens: idList(g.suppress_tokens, 'suppress_tokens'),
    beginSuppressTokens: idList(g.begin_suppress_tokens, 'begin_suppress_tokens'),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    stop: [
      ...(o.stop ?? []),
      ...(Array.isArray(g.stop_strings) ? g.stop_strings : typeof g.stop_strings === 'string' ? [g.stop_strings] : []),
    ].filter((s): s is string => typeof s === 'string' && s !== ''),
    eosTokenIds,
    outputScores: o.outputScores === true,
    ignored: unhonoured(g, beams, sampling),
  };
}

/**
 * The sequence's length limit, `inputLength` (the prompt, or the decoder start token) included, as generate()
 * derives max_length: max_new_tokens over generation_config.json's max_length over 20 new tokens; never shorter than
 * one new token, never beyond the model's positions.
 */
export function maxLengthFor(s: Pick<GenerationSettings, 'maxNewTokens' | 'maxLength'>, inputLength: number, positions?: number): number {
  const wanted =
    s.maxNewTokens !== undefined
      ? inputLength + s.maxNewTokens
      : s.maxLength !== undefined
        ? Math.max(s.maxLength, inputLength + 1)
        : inputLength + DEFAULT_MAX_NEW_TOKENS;
  return Math.min(wanted, positions ?? Number.POSITIVE_INFINITY);
}
