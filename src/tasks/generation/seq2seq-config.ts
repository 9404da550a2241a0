import { ModelctlError } from '../../errors.js';
import { generationSettings, tokenIds, type GenerationOptions, type GenerationSettings } from './config.js';

/**
 * The settings of encoder-decoder generation: text-generation's (config.ts, the logits processors included) plus
 * beam search (num_beams, length_penalty, early_stopping) and the decoder_start_token_id. transformers' defaults when
 * neither the call nor the file says: one beam, length_penalty 1, early_stopping false, 20 new tokens (transformers 5;
 * a max_length in the file counts the decoder start token, so max_length - 1 new tokens: config.ts' maxLengthFor).
 */

export interface Seq2SeqOptions extends GenerationOptions {
  /** Beam search with this many beams (default: generation_config.json's num_beams, else 1: greedy or sampling). */
  numBeams?: number;
  /** Finished beams are scored sum(log p) / length ** lengthPenalty (default: generation_config.json, else 1). */
  lengthPenalty?: number;
  /** true: stop once numBeams beams are finished; false: a heuristic; 'never': the canonical beam search. */
  earlyStopping?: boolean | 'never';
}

export interface Seq2SeqSettings extends GenerationSettings {
  numBeams: number;
  lengthPenalty: number;
  earlyStopping: boolean | 'never';
  decoderStartTokenId: number;
}

function record(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function int(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : undefined;
}

function check(o: Seq2SeqOptions): void {
  if (o.numBeams !== undefined && !(Number.isSafeInteger(o.numBeams) && o.numBeams >= 1 && o.numBeams <= 64))
    throw new ModelctlError('USAGE', `the number of beams must be a whole number from 1 to 64, not ${String(o.numBeams)}`);
  if (o.lengthPenalty !== undefined && !Number.isFinite(o.lengthPenalty))
    throw new ModelctlError('USAGE', `length penalty must be a number, not ${String(o.lengthPenalty)}`);
}

/**
 * The run's settings from the options over generation_config.json over config.json (whose decoder_start_token_id
 * stands in when generation_config.json has none, as transformers does).
 */
export function seq2seqSettings(o: Seq2SeqOptions, generationConfig: unknown, modelConfig: unknown): Seq2SeqSettings {
  check(o);
  const g = record(generationConfig);
  const c = record(modelConfig);
  const base = generationSettings(o, generationConfig, modelConfig, true);
  const numBeams = o.numBeams ?? int(g.num_beams) ?? 1;
  if (numBeams > 1 && base.doSample) {
    throw new ModelctlError('USAGE', 'beam search does not sample here: give --num-beams 1 to sample, or --no-sample', {
      hint: 'beam sampling (num_beams > 1 with do_sample) is not supported',
    });
  }
  if (numBeams > 1 && base.stop.length > 0)
    throw new ModelctlError('USAGE', 'stop strings are for greedy or sampled generation, not beam search', { hint: 'give --num-beams 1' });
  const start = tokenIds(g.decoder_start_token_id ?? c.decoder_start_token_id)[0];
  if (start === undefined) {
    throw new ModelctlError('INVALID_INPUT', 'the model names no decoder_start_token_id (generation_config.json or config.json)', {
      hint: 'an encoder-decoder model needs it to start decoding: add it to generation_config.json and export again',
    });
  }
  const early = o.earlyStopping ?? g.early_stopping;
  return {
    ...base,
    numBeams,
    lengthPenalty: o.lengthPenalty ?? (typeof g.length_penalty === 'number' ? g.length_penalty : 1),
    earlyStopping: early === true || early === 'never' ? early : false,
    decoderStartTokenId: start,
  };
}
