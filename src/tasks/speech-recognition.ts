import type { Tensor } from 'onnxruntime-node';
import { ModelctlError } from '../errors.js';
import { resampleAudio } from './audio-resample.js';
import { tokenIds } from './generation/config.js';
import { argmax } from './generation/processors.js';
import type { Seq2SeqSettings } from './generation/seq2seq-config.js';
import { Seq2SeqDecoderState } from './generation/seq2seq-decoder.js';
import { decodeSeq2Seq, encoderStates, type Seq2SeqSetup } from './seq2seq.js';
import { mergeOverlaps, timestampChunks, type TimestampChunk } from './speech-timestamps.js';
import type { RunContext } from './tensors.js';
import { whisperLanguageCode } from './whisper-languages.js';
import { cutSegments, featureSegment, INPUT_STRIDE, passMaxLength } from './whisper-seek.js';

/**
 * automatic-speech-recognition with Whisper, as transformers' pipeline("automatic-speech-recognition") runs it with
 * greedy decoding by default (num_beams=1; the pipeline's own default is 5 beams), or beam search or sampling as
 * the options say:
 *
 * - the waveform at the feature extractor's rate (resampled as audio-classification does, audio-resample.ts); with
 *   --chunk-length (or --stride) and longer than a window, cut into windows of chunk_length seconds overlapping by
 *   `stride` seconds on each side (the pipeline's chunk_iter; its chunk_length_s and stride_length_s), each window's
 *   log-mel features computed by transformers.js' WhisperFeatureExtractor (padded to 30 s); without, audio over 30 s
 *   is read whole (the pipeline's long-form input: truncation=False, padding="longest") and decoded with timestamps;
 * - per window, Whisper generate()'s seek loop (whisper-seek.ts): the encoder run on 30 s of features from the seek
 *   position, the decoder prompted with <|startoftranscript|> <|lang|> <|task|> [<|notimestamps|>] from
 *   generation_config.json (lang_to_id, task_to_id, no_timestamps_token_id); with no language given, a multilingual
 *   model's language is detected once per window as transformers' detect_language does (one decoder step on
 *   <|startoftranscript|>, the best language token), and no task token follows unless a task is named
 *   (_retrieve_init_tokens); then decoding with suppress_tokens, begin_suppress_tokens and, with timestamps,
 *   Whisper's timestamp rules (the shared encoder-decoder loop, seq2seq.ts); a pass that stops inside the window is
 *   kept up to its last complete segment and the window read again from there;
 * - the windows' tokens merged as the pipeline's tokenizer._decode_asr merges them: without timestamps, special
 *   tokens left out, a change of language token closing a group, the windows of a group joined where they overlap
 *   best (_find_longest_common_sequence), each group decoded, the texts concatenated; with timestamps, the chunks of
 *   speech-timestamps.ts, whose texts make the text.
 */

export { mergeOverlaps };

export interface SpeechOptions {
  /** A language code (en) or token (<|en|>) of generation_config.json's lang_to_id; default: detected. */
  language?: string;
  /** transcribe or translate (default: generation_config.json's task, else transcribe). */
  task?: 'transcribe' | 'translate';
  /** Seconds per window (default 30, the feature extractor's chunk_length); longer audio is cut into windows. */
  chunkLength?: number;
  /** Seconds of overlap on each side of a window (default chunkLength / 6). */
  stride?: number;
  /** Decode with Whisper's timestamp tokens and return chunks with their times (the pipeline's return_timestamps). */
  returnTimestamps?: boolean;
}

export interface SpeechWindow {
  start_s: number;
  end_s: number;
  language?: string;
  /** The new tokens of this window (the prompt left out), an end token included when one ended it. */
  tokens: number[];
  finish_reason: 'eos' | 'stop' | 'length';
  /** Decoder passes over the window: more than one when Whisper's seek loop read it again from a timestamp. */
  passes: number;
}

export interface SpeechPrediction {
  text: string;
  /** The language code of the first window's language token. */
  language?: string;
  /** The windows' text tokens, merged. */
  tokens: number[];
  windows: SpeechWindow[];
  /** With returnTimestamps: the text's segments and their [start, end] in seconds (end null when none came). */
  chunks?: TimestampChunk[];
  /** Audio over 30 s read whole and decoded 30 s at a time by the seek loop (no --chunk-length given). */
  long_form?: boolean;
  resampled_from?: number;
}

export type FeatureExtractor = (audio: Float32Array) => Promise<{ input_features: { data: unknown; dims: readonly number[] } }>;

export interface SpeechSetup {
  seq2seq: Seq2SeqSetup;
  extractor: FeatureExtractor;
  /** The log-mel of a whole waveform over 30 s, unpadded and normalised as one (the pipeline's long-form features). */
  longExtractor?: FeatureExtractor;
  /** Mel frames per pass (3000: the encoder's positions times its input stride). */
  segmentFrames: number;
  samplingRate: number;
  /** Samples per window of the extractor (n_samples: 30 s). */
  windowSamples: number;
  generationConfig: Record<string, unknown>;
  settings: Seq2SeqSettings;
  /** Whether a token id is a special token (left out of the text, as skip_special_tokens leaves it). */
  isSpecial: (id: number) => boolean;
  /** Seconds per timestamp step: the window's seconds over the encoder's max_source_positions (30 / 1500). */
  timePrecision: number;
}

function record(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function usage(message: string, hint?: string): ModelctlError {
  return new ModelctlError('USAGE', message, hint ? { hint } : {});
}

/** generation_config.json's languages: token id -> code ("<|en|>" -> "en"). */
function languages(g: Record<string, unknown>): Map<number, string> {
  const out = new Map<number, string>();
  for (const [token, id] of Object.entries(record(g.lang_to_id)))
    if (typeof id === 'number') out.set(id, token.replace(/^<\|(.*)\|>$/, '$1'));
  return out;
}

/** The prompt after the start token: [language token or undefined (detect), task token?, no-timestamps token?]. */
export function whisperPrompt(g: Record<string, unknown>, o: SpeechOptions): { language?: number; rest: number[] } {
  const langs = languages(g);
  let language: number | undefined;
  const named = o.language ?? (typeof g.language === 'string' ? g.language : undefined);
  if (named !== undefined) {
    const code = whisperLanguageCode(named.replace(/^<\|(.*)\|>$/, '$1'));
    language = [...langs].find(([, c]) => c === code)?.[0];
    if (language === undefined) {
      throw usage(
        langs.size === 0 ? 'the model is not multilingual: it takes no --language' : `the model knows no language "${named}"`,
        langs.size > 0 ? `its languages: ${[...langs.values()].join(', ')}` : undefined,
      );
    }
  }
  const tasks = record(g.task_to_id);
  const rest: number[] = [];
  // As transformers' _retrieve_init_tokens: a task token when a task is asked (or configured), else transcribe's when
  // a language is; none when the language is detected and no task named.
  const asked = o.task ?? (typeof g.task === 'string' ? g.task : undefined);
  const task = asked ?? (language !== undefined ? 'transcribe' : undefined);
  if (langs.size > 0 && task !== undefined) {
    const id = tasks[task];
    if (typeof id !== 'number') throw usage(`the model has no task token for "${task}" (generation_config.json's task_to_id)`);
    rest.push(id);
  } else if (o.task === 'translate') throw usage('the model is not multilingual: it only transcribes');
  const noTimestamps = tokenIds(g.no_timestamps_token_id)[0];
  if (o.returnTimestamps && noTimestamps === undefined)
    throw usage('the model has no timestamp tokens (generation_config.json has no no_timestamps_token_id)');
  // With timestamps the prompt ends before <|notimestamps|> (transformers' _retrieve_init_tokens).
  if (noTimestamps !== undefined && !o.returnTimestamps) rest.push(noTimestamps);
  return { ...(language !== undefined ? { language } : {}), rest };
}

/** The pipeline's chunk_iter: [start, end, stride left, stride right] in samples, for audio of `length` samples. */
export function speechWindows(length: number, chunk: number, stride: number): Array<[number, number, number, number]> {
  if (length <= chunk) return [[0, length, 0, 0]];
  const step = chunk - 2 * stride;
  if (step <= 0) throw usage(`the chunk length must be more than twice the stride (${chunk} samples, stride ${stride})`);
  const out: Array<[number, number, number, number]> = [];
  for (let start = 0; start < length; start += step) {
    const end = Math.min(start + chunk, length);
    const left = start === 0 ? 0 : stride;
    const last = start + chunk >= length;
    if (end - start > left) out.push([start, end, left, last ? 0 : stride]);
    if (last) break;
  }
  return out;
}

/** The encoder run on one pass's features [1, mels, frames]. */
function encodeFeatures(encoder: RunContext, data: Float32Array, dims: readonly number[]): Promise<Tensor> {
  if (!encoder.inputs.some((i) => i.name === 'input_features'))
    throw new ModelctlError('INVALID_INPUT', 'the encoder takes no input_features', {
      hint: 'export the Whisper model with `modelctl export FOLDER` (encoder_model.onnx reads log-mel features)',
    });
  return encoderStates(encoder, { input_features: new encoder.Tensor('float32', data, [...dims]) });
}

/** transformers' detect_language: the best language token after <|startoftranscript|>. */
async function detectLanguage(setup: SpeechSetup, states: Tensor, langs: readonly number[]): Promise<number> {
  const probe = new Seq2SeqDecoderState(setup.seq2seq.decoder, setup.seq2seq.layout, states, 1);
  try {
    const [logits] = (await probe.step([setup.settings.decoderStartTokenId], null)) as [Float32Array];
    const only = new Float32Array(logits.length).fill(Number.NEGATIVE_INFINITY);
    for (const id of langs) if (id < logits.length) only[id] = logits[id] as number;
    return argmax(only);
  } finally {
    probe.dispose();
  }
}

/**
 * Whether a waveform of `samples` (at the model's rate) is read as the pipeline reads audio over 30 s when no
 * chunk_length_s is given: the whole log-mel at once, decoded 30 s at a time by the seek loop (long-form, which needs
 * timestamp tokens). With --chunk-length or --stride, or for a model without timestamp tokens, it is cut into windows.
 */
function isLongForm(setup: SpeechSetup, samples: number, o: SpeechOptions): boolean {
  if (samples <= setup.windowSamples || o.chunkLength !== undefined || o.stride !== undefined) return false;
  return setup.longExtractor !== undefined && tokenIds(setup.generationConfig.no_timestamps_token_id)[0] !== undefined;
}

/** One waveform (at its own rate) to its text. */
export async function transcribe(
  encoder: RunContext,
  setup: SpeechSetup,
  wave: { samples: Float32Array; sampleRate: number },
  options: SpeechOptions & { signal?: AbortSignal },
): Promise<SpeechPrediction> {
  const g = setup.generationConfig;
  const langs = languages(g);
  const x = resampleAudio(wave.samples, wave.sampleRate, setup.samplingRate);
  const longForm = isLongForm(setup, x.length, options);
  // Long-form decoding predicts timestamps (transformers turns return_timestamps on for it); the chunks are returned
  // only when asked for.
  const stamps = options.returnTimestamps === true || longForm;
  const prompt = whisperPrompt(g, { ...options, returnTimestamps: stamps });
  const chunkS = options.chunkLength ?? setup.windowSamples / setup.samplingRate;
  const strideS = options.stride ?? chunkS / 6;
  if (!(chunkS > 0 && strideS >= 0)) throw usage('the chunk length must be above 0 seconds and the stride at least 0');
  const chunk = Math.round(chunkS * setup.samplingRate);
  if (chunk > setup.windowSamples)
    throw usage(`the chunk length is at most ${setup.windowSamples / setup.samplingRate} seconds (the model's window)`);
  const windows: SpeechWindow[] = [];
  const strides: Array<[number, number, number]> = [];
  const noTimestamps = tokenIds(g.no_timestamps_token_id)[0] as number;
  const maxInitial = g.max_initial_timestamp_index;
  const settings = stamps
    ? {
        ...setup.settings,
        timestamps: {
          noTimestampsTokenId: noTimestamps,
          ...(typeof maxInitial === 'number' ? { maxInitialTimestampIndex: maxInitial } : {}),
        },
      }
    : setup.settings;
  const cuts: Array<[number, number, number, number]> = longForm
    ? [[0, x.length, 0, 0]]
    : speechWindows(x.length, chunk, Math.round(strideS * setup.samplingRate));
  for (const [start, end, left, right] of cuts) {
    const extract = longForm ? (setup.longExtractor as FeatureExtractor) : setup.extractor;
    const { input_features: f } = await extract(x.subarray(start, end));
    const [, mels = 0, total = 0] = f.dims;
    const data = f.data as Float32Array;
    const kept: number[] = [];
    let language: number | undefined = prompt.language;
    let finish: SpeechWindow['finish_reason'] = 'length';
    let passes = 0;
    // Whisper's seek loop (whisper-seek.ts): one pass without timestamps, more when a pass stops inside the window.
    for (let seek = 0; seek < total; ) {
      if (options.signal?.aborted) throw new ModelctlError('INTERRUPTED', 'interrupted');
      const t0 = performance.now();
      const frames = Math.min(total - seek, setup.segmentFrames);
      const segment = featureSegment(data, mels, total, seek, frames, setup.segmentFrames);
      const states = await encodeFeatures(encoder, segment, [1, mels, setup.segmentFrames]);
      // transformers detects the language once per generate() call, on its first 30 s: the first pass's features.
      if (passes === 0 && language === undefined && langs.size > 0) language = await detectLanguage(setup, states, [...langs.keys()]);
      const tokens = [setup.settings.decoderStartTokenId, ...(language !== undefined ? [language] : []), ...prompt.rest];
      const passSettings =
        settings.maxNewTokens === undefined && settings.maxLength !== undefined
          ? { ...settings, maxLength: passMaxLength(settings.maxLength, tokens.length, passes, setup.seq2seq.maxPositions) }
          : settings;
      // begin_suppress_tokens apply at the prompt's end (the shared chain's begin index: the prompt's length).
      const encoded = { states, prompt: tokens, promptTokens: states.dims[1] as number, t0, encoderMs: performance.now() - t0 };
      const r = await decodeSeq2Seq(setup.seq2seq, encoded, passSettings, 'automatic-speech-recognition', options);
      finish = r.finish_reason;
      passes += 1;
      if (!stamps) {
        kept.push(...r.tokens);
        break;
      }
      const ids = setup.settings.eosTokenIds.includes(r.tokens.at(-1) as number) ? r.tokens.slice(0, -1) : r.tokens;
      const cut = cutSegments(ids, noTimestamps + 1, frames);
      kept.push(...cut.tokens);
      seek += cut.advance;
    }
    strides.push([(end - start) / setup.samplingRate, left / setup.samplingRate, right / setup.samplingRate]);
    const code = language !== undefined ? langs.get(language) : undefined;
    windows.push({
      start_s: start / setup.samplingRate,
      end_s: end / setup.samplingRate,
      ...(code !== undefined ? { language: code } : {}),
      tokens: kept,
      finish_reason: finish,
      passes,
    });
  }
  const { text, tokens } = mergeWindows(setup, windows, langs);
  const first = windows[0]?.language;
  const stamped = stamps
    ? timestampChunks(
        windows.map((w, i) => ({ tokens: w.tokens, stride: strides[i] as [number, number, number] })),
        {
          timestampBegin: noTimestamps + 1,
          timePrecision: setup.timePrecision,
          isSpecial: setup.isSpecial,
          decode: (ids) => setup.seq2seq.tokenizer.decode(ids),
          segmentSize: setup.segmentFrames / INPUT_STRIDE,
        },
      )
    : undefined;
  return {
    text: stamped ? stamped.text : text,
    ...(first !== undefined ? { language: first } : {}),
    tokens,
    windows,
    ...(stamped && options.returnTimestamps ? { chunks: stamped.chunks } : {}),
    ...(longForm ? { long_form: true } : {}),
    ...(wave.sampleRate !== setup.samplingRate ? { resampled_from: wave.sampleRate } : {}),
  };
}

/** The pipeline's _decode_asr without timestamps: groups split where the language token changes, each merged and decoded. */
function mergeWindows(
  setup: SpeechSetup,
  windows: readonly SpeechWindow[],
  langs: Map<number, string>,
): { text: string; tokens: number[] } {
  const noTimestamps = tokenIds(setup.generationConfig.no_timestamps_token_id)[0];
  const timestampBegin = noTimestamps !== undefined ? noTimestamps + 1 : Number.POSITIVE_INFINITY;
  const groups: number[][] = [];
  let previous: number[][] = [];
  let lastLanguage: string | undefined;
  for (const w of windows) {
    // generate() leaves the prompt (and its language token) out: a language token here is one the model generated.
    let current: number[] = [];
    for (const id of w.tokens) {
      if (setup.isSpecial(id)) {
        const code = langs.get(id);
        if (code === undefined) continue;
        if (lastLanguage !== undefined && code !== lastLanguage) {
          groups.push(mergeOverlaps([...previous, current]));
          previous = [];
          current = [];
        }
        lastLanguage = code;
      } else if (id < timestampBegin) current.push(id);
    }
    if (current.length > 0) previous.push(current);
    else if (!previous.some((p) => p.length > 0)) previous = [];
  }
  if (previous.length > 0) groups.push(mergeOverlaps(previous));
  const decode = setup.seq2seq.tokenizer;
  return { text: groups.map((g) => decode.decode(g)).join(''), tokens: groups.flat() };
}
