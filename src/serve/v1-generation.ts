import type { Seq2SeqOptions } from '../tasks/generation/seq2seq-config.js';
import type { SpeechOptions } from '../tasks/speech-recognition.js';
import { settingKinds, settingOwner, type SettingKind } from '../tasks/known.js';
import { HttpError } from './http.js';

/**
 * The decoding settings of a /v1 predict request to a text-generation model, in transformers' names (max_new_tokens,
 * do_sample, temperature, top_k, top_p, seed, repetition_penalty, stop; and for encoder-decoder models num_beams,
 * length_penalty, early_stopping, no_repeat_ngram_size): what `predict` takes as flags. Values of
 * the wrong type are a 400 here; out-of-range values are refused by the library with the CLI's message.
 */

function numberField(body: Record<string, unknown>, key: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new HttpError(400, `"${key}" must be a number`);
  return v;
}

/** Each generation field's kind (the CLI's flags have the same kinds: src/cli/commands/predict-generate.ts). */
const FIELD_KINDS: Record<string, SettingKind> = {
  max_new_tokens: 'decoding',
  do_sample: 'decoding',
  temperature: 'decoding',
  top_p: 'decoding',
  seed: 'decoding',
  repetition_penalty: 'decoding',
  no_repeat_ngram_size: 'decoding',
  stop: 'stop',
  num_beams: 'beams',
  length_penalty: 'beams',
  early_stopping: 'beams',
  language: 'speech',
  speech_task: 'speech',
  chunk_length_s: 'speech',
  stride_length_s: 'speech',
  return_timestamps: 'speech',
};

/** A generation field the model's task does not take is a 400, as predict refuses the flag (never silently ignored). */
export function refuseGenerationFields(task: string, body: Record<string, unknown>): void {
  const allowed = settingKinds(task);
  const given = Object.entries(FIELD_KINDS).find(([key, kind]) => body[key] !== undefined && body[key] !== null && !allowed.has(kind));
  if (given) throw new HttpError(400, `"${given[0]}" is for ${settingOwner(given[1])} models, not ${task}`);
}

export function generationFromBody(body: Record<string, unknown>): Seq2SeqOptions {
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
  const numBeams = numberField(body, 'num_beams');
  const lengthPenalty = numberField(body, 'length_penalty');
  const noRepeatNgramSize = numberField(body, 'no_repeat_ngram_size');
  const early = body.early_stopping;
  if (early !== undefined && early !== null && typeof early !== 'boolean' && early !== 'never')
    throw new HttpError(400, '"early_stopping" must be true, false or "never"');
  return {
    ...(numBeams !== undefined ? { numBeams } : {}),
    ...(lengthPenalty !== undefined ? { lengthPenalty } : {}),
    ...(noRepeatNgramSize !== undefined ? { noRepeatNgramSize } : {}),
    ...(typeof early === 'boolean' || early === 'never' ? { earlyStopping: early } : {}),
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

/** automatic-speech-recognition's settings: language, speech_task (transcribe or translate), chunk_length_s, stride_length_s. */
export function speechFromBody(body: Record<string, unknown>): SpeechOptions {
  const { language, speech_task: task } = body;
  if (language !== undefined && language !== null && typeof language !== 'string') throw new HttpError(400, '"language" must be a string');
  if (task !== undefined && task !== null && task !== 'transcribe' && task !== 'translate')
    throw new HttpError(400, '"speech_task" must be "transcribe" or "translate"');
  const chunkLength = numberField(body, 'chunk_length_s');
  const stride = numberField(body, 'stride_length_s');
  const stamps = body.return_timestamps;
  if (stamps !== undefined && stamps !== null && typeof stamps !== 'boolean')
    throw new HttpError(400, '"return_timestamps" must be a boolean');
  return {
    ...(stamps === true ? { returnTimestamps: true } : {}),
    ...(typeof language === 'string' ? { language } : {}),
    ...(task === 'transcribe' || task === 'translate' ? { task } : {}),
    ...(chunkLength !== undefined ? { chunkLength } : {}),
    ...(stride !== undefined ? { stride } : {}),
  };
}
