import { ModelctlError } from '../errors.js';
import { tokenIds } from '../tasks/generation/config.js';
import { freshSeed } from '../tasks/generation/sampler.js';
import { seq2seqSettings } from '../tasks/generation/seq2seq-config.js';
import type { RunContext } from '../tasks/tensors.js';
import { INPUT_STRIDE } from '../tasks/whisper-seek.js';
import type { FeatureExtractor, SpeechPrediction, SpeechSetup } from '../tasks/speech-recognition.js';
import { loadProcessorFile } from './preprocessor.js';
import { prepareGeneration, warnIgnored } from './generation.js';
import { openSeq2SeqDecoder } from './seq2seq.js';
import type { PredictOptions, ResolvedModel } from './types.js';

/**
 * predict's automatic-speech-recognition (Whisper): the tokenizer and generation_config.json as for the other
 * generative tasks, the feature extractor's preprocessor_config.json as for audio classification, the merged
 * decoder opened beside the encoder as for encoder-decoder text models; then the audio files transcribed one after
 * the other (src/tasks/speech-recognition.ts). Log-mel features come from transformers.js' WhisperFeatureExtractor.
 * Decoding is the encoder-decoder models' (greedy, sampled or beam search, the one processor chain with Whisper's
 * suppress tokens and timestamp rules), its settings built here.
 */

export interface SpeechRunner {
  run(encoder: RunContext, files: readonly string[]): Promise<Array<SpeechPrediction & { seed?: number }>>;
  close(): Promise<void>;
}

function record(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

async function whisperExtractor(
  raw: unknown,
  where: string,
): Promise<{ extractor: FeatureExtractor; long: FeatureExtractor; rate: number; window: number }> {
  const c = record(raw);
  if (c.feature_extractor_type !== 'WhisperFeatureExtractor') {
    throw new ModelctlError(
      'NOT_AVAILABLE',
      `${where}: speech recognition runs Whisper models (WhisperFeatureExtractor), not ${String(c.feature_extractor_type ?? 'this extractor')}`,
      {
        hint: 'run other speech models with --task raw',
      },
    );
  }
  const rate = typeof c.sampling_rate === 'number' ? c.sampling_rate : 16000;
  const window = typeof c.n_samples === 'number' ? c.n_samples : rate * (typeof c.chunk_length === 'number' ? c.chunk_length : 30);
  const { WhisperFeatureExtractor } = await import('@huggingface/transformers');
  const fe = new WhisperFeatureExtractor(c);
  const extractor: FeatureExtractor = (audio) => fe._call(audio) as ReturnType<FeatureExtractor>;
  // Long-form: the whole waveform's frames (samples / hop), neither padded nor cut to 30 s, normalised together, as
  // the pipeline's feature_extractor(truncation=False, padding="longest"); the mel filters are shared.
  const whole = new WhisperFeatureExtractor({ ...c, mel_filters: fe.config.mel_filters, nb_max_frames: Number.MAX_SAFE_INTEGER });
  const long: FeatureExtractor = (audio) => whole._call(audio, { max_length: audio.length }) as ReturnType<FeatureExtractor>;
  return { extractor, long, rate, window };
}

/** predict's preparation of a Whisper model (the decoder opened), shared with bench; `seed`: the sampler's, when sampling. */
export async function speechParts(
  model: string,
  m: ResolvedModel,
  options: Omit<PredictOptions, 'input'>,
): Promise<{ setup: SpeechSetup; seed?: number; release: () => Promise<void> }> {
  const { whisperPrompt } = await import('../tasks/speech-recognition.js');
  const g = options.generation ?? {};
  if (g.chat) throw new ModelctlError('USAGE', '--chat is for text-generation models, not automatic-speech-recognition');
  if (g.stop?.length) throw new ModelctlError('USAGE', 'stop strings are not applied to speech recognition', { hint: 'leave --stop out' });
  const base = await prepareGeneration(model, m, options.registry);
  const generationConfig = record(base.generationConfig);
  const speech = options.speech ?? {};
  // Checked before the model loads: a bad --language or --speech-task is a usage error.
  whisperPrompt(generationConfig, speech);
  // generation_config.json's suppress_tokens and begin_suppress_tokens go through the shared processor chain;
  // config.json's suppress_tokens stand in when generation_config.json has none. Whisper's max_length counts the
  // whole prompt (start, language, task, no-timestamps tokens): maxLengthFor with the prompt's length per window.
  const fallback = generationConfig.suppress_tokens === undefined ? tokenIds(record(base.modelConfig).suppress_tokens) : undefined;
  // Greedy, sampled or beam search as generation_config.json and the options say (the pipeline's own default of 5
  // beams is not taken: one beam unless asked). Sampling draws every window from one seed, given or fresh, reported.
  const chosen = seq2seqSettings(g, generationConfig, base.modelConfig);
  const seed = chosen.doSample && chosen.numBeams === 1 ? (chosen.seed ?? freshSeed()) : undefined;
  const settings = {
    ...chosen,
    ...(seed !== undefined ? { seed } : {}),
    ...(fallback ? { suppressTokens: fallback } : {}),
  };
  // The prompt built above stands in for forced_decoder_ids (as Whisper's generate() turns them into its init tokens).
  warnIgnored({ ignored: settings.ignored.filter((k) => k !== 'forced_decoder_ids') }, g.onWarning);
  const { raw, where } = await loadProcessorFile('feature extractor', model, m, options.registry);
  const { extractor, long, rate, window } = await whisperExtractor(raw, where);
  const { decoder, layout, release } = await openSeq2SeqDecoder(model, m, options);
  const positions = record(base.modelConfig).max_target_positions;
  const sources = record(base.modelConfig).max_source_positions;
  const setup: SpeechSetup = {
    seq2seq: { tokenizer: base.tokenizer, decoder, layout, ...(typeof positions === 'number' ? { maxPositions: positions } : {}) },
    extractor,
    longExtractor: long,
    segmentFrames: (typeof sources === 'number' ? sources : 1500) * INPUT_STRIDE,
    samplingRate: rate,
    windowSamples: window,
    generationConfig,
    settings,
    isSpecial: (id) => base.tokenizer.isSpecial(id),
    timePrecision: window / rate / (typeof sources === 'number' ? sources : 1500),
  };
  return { setup, ...(seed !== undefined ? { seed } : {}), release };
}

export async function prepareSpeech(model: string, m: ResolvedModel, options: Omit<PredictOptions, 'input'>): Promise<SpeechRunner> {
  const { transcribe } = await import('../tasks/speech-recognition.js');
  const { setup, seed, release } = await speechParts(model, m, options);
  const speech = options.speech ?? {};
  return {
    async run(encoder, files) {
      if (files.length === 0)
        throw new ModelctlError('INVALID_INPUT', 'no audio files given', {
          hint: 'give WAV, FLAC or MP3 files as arguments or --file AUDIO',
        });
      const { readAudioFile } = await import('../inputs/audio.js');
      const out: Array<SpeechPrediction & { seed?: number }> = [];
      for (const file of files) {
        const wave = await readAudioFile(file);
        const p = await transcribe(encoder, setup, wave, { ...speech, ...(options.signal ? { signal: options.signal } : {}) });
        out.push(seed !== undefined ? { ...p, seed } : p);
      }
      return out;
    },
    close: release,
  };
}
