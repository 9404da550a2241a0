import { ModelctlError } from '../errors.js';
import { chooseTask, type ResolvedModel } from '../predict/predict.js';
import { imageToTextParts } from '../predict/image-to-text.js';
import { seq2seqParts } from '../predict/seq2seq.js';
import { speechParts } from '../predict/speech.js';
import type { Registry } from '../registry/index.js';
import { loadOrt } from '../runtime/ort.js';
import { openSession, type SessionOptions } from '../runtime/index.js';
import { loadSharp, outputSize } from '../tasks/image.js';
import { decodeSeq2Seq, encoderStates, generateSeq2SeqIds, isSeq2SeqTask, type Seq2SeqPrediction } from '../tasks/seq2seq.js';
import type { RunContext } from '../tasks/tensors.js';
import { DEFAULT_PROMPT_TOKENS, benchDecoding, promptIds, runCounts, sessionOf, timedRuns, whole } from './generation.js';
import { hostInfo, type HostInfo } from './runner.js';
import { seededRandom } from './synthetic.js';
import { summarize, type LatencyStats } from './stats.js';

/**
 * bench on an encoder-decoder model (text2text-generation, translation, summarization, automatic-speech-recognition,
 * image-to-text): generation as predict runs it, prepared by predict's own functions, on a synthetic input — a prompt
 * of exactly --prompt-tokens tokens, --seconds of seeded audio made into log-mel features by the model's feature
 * extractor, or a seeded image of the processor's size preprocessed as predict does — greedy (or --num-beams) with
 * end tokens ignored, so every run makes exactly --new-tokens tokens. Timed in its parts: the encoder's run (the
 * "prefill" of these models), time to first token (the encoder and the first decoder step), decode tokens/s (each
 * later token). Beam search knows its tokens only at its end: no time to first token, the decoder's whole time.
 */

export const DEFAULT_SECONDS = 30;
export const ENCODER_DECODER_TASKS = [
  'text2text-generation',
  'translation',
  'summarization',
  'automatic-speech-recognition',
  'image-to-text',
];

export interface Seq2SeqBenchOptions extends SessionOptions {
  model: string;
  resolved: ResolvedModel;
  registry?: Registry;
  /** The model's task when the caller has chosen it already (encoderDecoderTask), else chosen here. */
  task?: string;
  /** text2text-generation, translation, summarization: prompt lengths in tokens. */
  promptTokens?: number[];
  /** automatic-speech-recognition: seconds of synthetic audio (at most the model's window). */
  seconds?: number;
  newTokens?: number;
  numBeams?: number;
  warmup?: number;
  iterations?: number;
  signal?: AbortSignal;
  onProgress?: (event: { phase: 'session' | 'warmup' | 'timing'; input: string; done: number; total: number }) => void;
}

export interface Seq2SeqBenchResult {
  /** The input: one of prompt_tokens (text), audio_seconds (speech), image_size [height, width] (image). */
  prompt_tokens?: number;
  audio_seconds?: number;
  image_size?: [number, number];
  /** The encoder's output length (tokens, audio frames or image patches) and the decoder's prompt (start token...). */
  encoder_length: number;
  decoder_prompt_tokens: number;
  new_tokens: number;
  num_beams: number;
  runs: number;
  generated_tokens: number[];
  encoder_ms: LatencyStats;
  /** Greedy: the encoder and the first token's decoder step. null with beam search (tokens known at its end). */
  time_to_first_token_ms: LatencyStats | null;
  /** Greedy: from the first token to the last; beam search: the decoder's whole time. */
  decode_ms: LatencyStats;
  /** The encoder's rate from its median time: one of these three, by the kind of input. */
  input_tokens_per_second?: number;
  audio_seconds_per_second?: number;
  images_per_second?: number;
  decode_tokens_per_second: number | null;
}

export interface Seq2SeqBenchReport {
  model: string;
  task: string;
  provider: string;
  threads: number | null;
  host: HostInfo;
  sessionMs: number;
  mode: { warmup: number; iterations: number; num_beams: number };
  results: Seq2SeqBenchResult[];
}

/** One input to time: what it is, the decoder's prompt length, one generation. */
interface BenchInput {
  label: string;
  describe: Partial<Pick<Seq2SeqBenchResult, 'prompt_tokens' | 'audio_seconds' | 'image_size'>>;
  /** The encoder's rate from its median time in ms. */
  rate: (encoderMs: number) => Partial<Seq2SeqBenchResult>;
  decoderPrompt: number;
  run: () => Promise<Seq2SeqPrediction>;
}

interface Prepared {
  inputs: BenchInput[];
  maxPositions?: number;
  release: () => Promise<void>;
}

/** The encoder-decoder task bench times as a generator, or undefined. */
export async function encoderDecoderTask(m: ResolvedModel, registry?: Registry): Promise<string | undefined> {
  const { task } = await chooseTask(undefined, m, registry);
  return ENCODER_DECODER_TASKS.includes(task) ? task : undefined;
}

/** A seeded mix of three slowly swelling tones and uniform noise, `seconds` long at `rate` Hz, peak below 0.4. */
export function syntheticAudio(seconds: number, rate: number, seed = 42): Float32Array {
  const rnd = seededRandom(seed);
  const out = new Float32Array(Math.round(seconds * rate));
  const tones = [220 + rnd() * 220, 440 + rnd() * 440, 1000 + rnd() * 1000];
  for (let i = 0; i < out.length; i++) {
    const t = i / rate;
    let v = 0;
    for (const [k, f] of tones.entries())
      v += (0.12 / (k + 1)) * Math.sin(2 * Math.PI * f * t) * (1 + 0.5 * Math.sin(2 * Math.PI * (k + 1) * 0.5 * t));
    out[i] = v + 0.05 * (rnd() * 2 - 1);
  }
  return out;
}

/** A seeded RGB image of width x height, as PNG bytes (decoded and preprocessed by predict's own path). */
export async function syntheticImage(width: number, height: number, seed = 42): Promise<Buffer> {
  const rnd = seededRandom(seed);
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(rnd() * 256);
  const sharp = await loadSharp();
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

type PartsOptions = Parameters<typeof seq2seqParts>[3];

/** The bench's decoding for every encoder-decoder model: text-generation's (greedy, end tokens ignored) with N beams. */
export function seq2seqBenchDecoding(newTokens: number, beams: number): ReturnType<typeof benchDecoding> & { numBeams: number } {
  return { ...benchDecoding(newTokens), numBeams: beams };
}

/** The rest of an input's preparation once the decoder is open: a throw releases the decoder first. */
async function orRelease<T>(release: () => Promise<void>, build: () => Promise<T>): Promise<T> {
  try {
    return await build();
  } catch (err) {
    await release();
    throw err;
  }
}

async function textInputs(o: Seq2SeqBenchOptions, task: string, encoder: RunContext, parts: PartsOptions): Promise<Prepared> {
  const lengths = [...new Set(o.promptTokens ?? DEFAULT_PROMPT_TOKENS)];
  for (const n of lengths) whole(n, 1, '--prompt-tokens', 1);
  const { setup, settings, release } = await seq2seqParts(o.model, o.resolved, task, parts);
  return orRelease(release, async () => {
    const limit = setup.maxPositions;
    const longest = Math.max(...lengths);
    if (limit !== undefined && longest > limit) {
      throw new ModelctlError('USAGE', `--prompt-tokens ${longest}: the model reads ${limit} tokens at most`, {
        hint: 'ask for fewer tokens',
      });
    }
    const inputs = lengths.map((n): BenchInput => {
      const ids = promptIds(setup.tokenizer, n);
      return {
        label: `a ${n}-token prompt`,
        describe: { prompt_tokens: n },
        rate: (ms) => ({ input_tokens_per_second: (n * 1000) / ms }),
        decoderPrompt: 1,
        run: () => generateSeq2SeqIds(encoder, setup, ids, settings, task, o.signal ? { signal: o.signal } : {}),
      };
    });
    return { inputs, ...(limit !== undefined ? { maxPositions: limit } : {}), release };
  });
}

/** Whisper's prompt: a multilingual model is told English (or its first language) rather than detecting one. */
function benchLanguage(generationConfig: unknown): string | undefined {
  const langs = Object.keys((generationConfig as { lang_to_id?: Record<string, number> } | undefined)?.lang_to_id ?? {});
  if (langs.length === 0) return undefined;
  return langs.includes('<|en|>') ? 'en' : langs[0];
}

async function speechInputs(o: Seq2SeqBenchOptions, task: string, encoder: RunContext, parts: PartsOptions): Promise<Prepared> {
  const seconds = o.seconds ?? DEFAULT_SECONDS;
  if (!(Number.isFinite(seconds) && seconds > 0))
    throw new ModelctlError('USAGE', `--seconds takes a number above 0, got ${String(seconds)}`);
  if (!encoder.inputs.some((i) => i.name === 'input_features'))
    throw new ModelctlError('INVALID_INPUT', 'the encoder takes no input_features', {
      hint: 'export the Whisper model with `modelctl export FOLDER` (encoder_model.onnx reads log-mel features)',
    });
  const { whisperPrompt } = await import('../tasks/speech-recognition.js');
  const { setup, release } = await speechParts(o.model, o.resolved, { model: o.model, ...parts });
  return orRelease(release, async () => {
    const window = setup.windowSamples / setup.samplingRate;
    if (seconds > window) {
      throw new ModelctlError('USAGE', `--seconds ${seconds}: the model reads ${window} s of audio at a time`, {
        hint: `ask for at most ${window} seconds (longer audio is decoded window by window, each timed alike)`,
      });
    }
    const language = benchLanguage(setup.generationConfig);
    const p = whisperPrompt(setup.generationConfig, language !== undefined ? { language } : {});
    const prompt = [setup.settings.decoderStartTokenId, ...(p.language !== undefined ? [p.language] : []), ...p.rest];
    const { input_features: f } = await setup.extractor(syntheticAudio(seconds, setup.samplingRate));
    const data = f.data as Float32Array;
    const input: BenchInput = {
      label: `${seconds} s of audio`,
      describe: { audio_seconds: seconds },
      rate: (ms) => ({ audio_seconds_per_second: (seconds * 1000) / ms }),
      decoderPrompt: prompt.length,
      run: async () => {
        const t0 = performance.now();
        const states = await encoderStates(encoder, { input_features: new encoder.Tensor('float32', data, [...f.dims]) });
        const encoded = { states, prompt, promptTokens: states.dims[1] as number, t0, encoderMs: performance.now() - t0 };
        return decodeSeq2Seq(setup.seq2seq, encoded, setup.settings, task, o.signal ? { signal: o.signal } : {});
      },
    };
    const limit = setup.seq2seq.maxPositions;
    return { inputs: [input], ...(limit !== undefined ? { maxPositions: limit } : {}), release };
  });
}

async function imageInputs(o: Seq2SeqBenchOptions, encoder: RunContext, parts: PartsOptions): Promise<Prepared> {
  const { describeImage } = await import('../tasks/image-to-text.js');
  const { setup, release } = await imageToTextParts(o.model, o.resolved, { model: o.model, ...parts });
  return orRelease(release, async () => {
    const size = setup.processor.size;
    const { height, width } =
      outputSize(setup.processor) ?? ('height' in size ? size : { height: size.shortestEdge, width: size.shortestEdge });
    const bytes = await syntheticImage(width, height);
    const input: BenchInput = {
      label: `a ${width}x${height} image`,
      describe: { image_size: [height, width] },
      rate: (ms) => ({ images_per_second: 1000 / ms }),
      decoderPrompt: 1,
      run: () => describeImage(encoder, setup, 'synthetic image', { bytes, ...(o.signal ? { signal: o.signal } : {}) }),
    };
    const limit = setup.seq2seq.maxPositions;
    return { inputs: [input], ...(limit !== undefined ? { maxPositions: limit } : {}), release };
  });
}

function figures(x: BenchInput, runs: Seq2SeqPrediction[], newTokens: number, beams: number): Seq2SeqBenchResult {
  const encoder = summarize(runs.map((r) => r.timings.prefill_ms));
  // decodeSeq2Seq's decode_ms runs from the encoder's end to the last token; first_token_ms from the start.
  const later = runs.map((r) => Math.max(0, r.timings.prefill_ms + r.timings.decode_ms - r.timings.first_token_ms));
  const decode = summarize(beams > 1 ? runs.map((r) => r.timings.decode_ms) : later);
  const steps = beams > 1 ? newTokens : newTokens - 1;
  return {
    ...x.describe,
    encoder_length: runs[0]?.prompt_tokens ?? 0,
    decoder_prompt_tokens: x.decoderPrompt,
    new_tokens: newTokens,
    num_beams: beams,
    runs: runs.length,
    generated_tokens: runs.map((r) => r.tokens.length),
    encoder_ms: encoder,
    time_to_first_token_ms: beams > 1 ? null : summarize(runs.map((r) => r.timings.first_token_ms)),
    decode_ms: decode,
    ...x.rate(encoder.p50),
    decode_tokens_per_second: steps > 0 && decode.p50 > 0 ? (steps * 1000) / decode.p50 : null,
  };
}

export async function benchSeq2Seq(options: Seq2SeqBenchOptions): Promise<Seq2SeqBenchReport> {
  const m = options.resolved;
  const task = options.task ?? (await encoderDecoderTask(m, options.registry));
  if (task === undefined || !ENCODER_DECODER_TASKS.includes(task))
    throw new ModelctlError('USAGE', `${options.model} is not an encoder-decoder generative model`);
  const counts = runCounts(options);
  const beams = whole(options.numBeams, 1, '--num-beams', 1);
  const session = sessionOf(options);
  const parts: PartsOptions = {
    ...(options.registry ? { registry: options.registry } : {}),
    generation: seq2seqBenchDecoding(counts.newTokens, beams),
    ...session,
  };
  options.onProgress?.({ phase: 'session', input: '', done: 0, total: 1 });
  const opened = await openSession(m.path, session, undefined, m.summary.externalData);
  const ort = await loadOrt();
  const encoder: RunContext = { session: opened.session, Tensor: ort.Tensor, inputs: m.summary.inputs, outputs: m.summary.outputs };
  const results: Seq2SeqBenchResult[] = [];
  try {
    const prepared = isSeq2SeqTask(task)
      ? await textInputs(options, task, encoder, parts)
      : task === 'automatic-speech-recognition'
        ? await speechInputs(options, task, encoder, parts)
        : await imageInputs(options, encoder, parts);
    try {
      const limit = prepared.maxPositions;
      const prompt = Math.max(...prepared.inputs.map((x) => x.decoderPrompt));
      if (limit !== undefined && prompt + counts.newTokens > limit)
        throw new ModelctlError(
          'USAGE',
          `--new-tokens ${counts.newTokens} and the decoder's ${prompt}-token prompt need ${prompt + counts.newTokens} positions; the decoder has ${limit}`,
          { hint: `ask for at most ${limit - prompt} new tokens` },
        );
      for (const x of prepared.inputs) {
        const runs = await timedRuns(counts, x.run, options.signal, (phase, done, total) =>
          options.onProgress?.({ phase, input: x.label, done, total }),
        );
        results.push(figures(x, runs, counts.newTokens, beams));
      }
    } finally {
      await prepared.release();
    }
  } finally {
    await opened.session.release();
  }
  return {
    model: m.manifest ? `${m.manifest.name}:${m.manifest.version}` : options.model,
    task,
    provider: opened.provider,
    threads: options.threads ?? null,
    host: await hostInfo(),
    sessionMs: opened.createMs,
    mode: { warmup: counts.warmup, iterations: counts.iterations, num_beams: beams },
    results,
  };
}
