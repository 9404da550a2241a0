import { ModelctlError } from '../../errors.js';
import type { ProcessorSettings } from './processors.js';

/**
 * What a generation run does, from the caller's options over the model's generation_config.json over
 * transformers' defaults (GenerationConfig._get_default_generation_params: top_k 50, top_p 1, temperature 1,
 * greedy unless do_sample). Checked here, before the model runs, with one-line USAGE errors.
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
}

export interface GenerationSettings extends ProcessorSettings {
  maxNewTokens: number;
  seed?: number;
  stop: string[];
  eosTokenIds: number[];
  outputScores: boolean;
}

/** transformers' default when neither the call nor generation_config.json says (GenerationConfig max_length 20 - prompt). */
export const DEFAULT_MAX_NEW_TOKENS = 20;

function record(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
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
}

/**
 * The run's settings. `generationConfig` is generation_config.json ({} when the model has none); `modelConfig`
 * config.json, whose eos_token_id stands in when there is no generation_config.json (as transformers does).
 */
export function generationSettings(o: GenerationOptions, generationConfig: unknown, modelConfig: unknown): GenerationSettings {
  check(o);
  const g = record(generationConfig);
  const sampling = o.doSample ?? g.do_sample === true;
  const eos = o.stopAtEos === false ? [] : tokenIds(g.eos_token_id ?? record(modelConfig).eos_token_id);
  const configured = num(g.max_new_tokens);
  return {
    maxNewTokens: o.maxNewTokens ?? (configured !== undefined && configured >= 1 ? configured : DEFAULT_MAX_NEW_TOKENS),
    doSample: sampling,
    temperature: o.temperature ?? num(g.temperature) ?? 1,
    topK: o.topK ?? num(g.top_k) ?? 50,
    topP: o.topP ?? num(g.top_p) ?? 1,
    repetitionPenalty: o.repetitionPenalty ?? num(g.repetition_penalty) ?? 1,
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    stop: [
      ...(o.stop ?? []),
      ...(Array.isArray(g.stop_strings) ? g.stop_strings : typeof g.stop_strings === 'string' ? [g.stop_strings] : []),
    ].filter((s): s is string => typeof s === 'string' && s !== ''),
    eosTokenIds: [...new Set([...eos, ...(o.eosTokenIds ?? [])])],
    outputScores: o.outputScores === true,
  };
}
