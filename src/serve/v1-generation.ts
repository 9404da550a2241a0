import type { GenerationOptions } from '../tasks/text-generation.js';
import { HttpError } from './http.js';

/**
 * The decoding settings of a /v1 predict request to a text-generation model, in transformers' names (max_new_tokens,
 * do_sample, temperature, top_k, top_p, seed, repetition_penalty, stop): what `predict` takes as flags. Values of
 * the wrong type are a 400 here; out-of-range values are refused by the library with the CLI's message.
 */

function numberField(body: Record<string, unknown>, key: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new HttpError(400, `"${key}" must be a number`);
  return v;
}

export function generationFromBody(body: Record<string, unknown>): GenerationOptions {
  const doSample = body.do_sample;
  if (doSample !== undefined && doSample !== null && typeof doSample !== 'boolean')
    throw new HttpError(400, '"do_sample" must be true or false');
  const stop = body.stop;
  const stops = typeof stop === 'string' ? [stop] : stop;
  if (stops !== undefined && stops !== null && !(Array.isArray(stops) && stops.every((s) => typeof s === 'string')))
    throw new HttpError(400, '"stop" must be a string or a list of strings');
  const maxNewTokens = numberField(body, 'max_new_tokens');
  const temperature = numberField(body, 'temperature');
  const topK = numberField(body, 'top_k');
  const topP = numberField(body, 'top_p');
  const seed = numberField(body, 'seed');
  const repetitionPenalty = numberField(body, 'repetition_penalty');
  return {
    ...(maxNewTokens !== undefined ? { maxNewTokens } : {}),
    ...(typeof doSample === 'boolean' ? { doSample } : {}),
    ...(temperature !== undefined ? { temperature } : {}),
    ...(topK !== undefined ? { topK } : {}),
    ...(topP !== undefined ? { topP } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(repetitionPenalty !== undefined ? { repetitionPenalty } : {}),
    ...(Array.isArray(stops) && stops.length > 0 ? { stop: stops as string[] } : {}),
  };
}
