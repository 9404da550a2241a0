import type { Tensor } from 'onnxruntime-node';
import { ModelctlError } from '../errors.js';
import { beamSearch } from './generation/beam.js';
import { maxLengthFor } from './generation/config.js';
import { logSoftmax, processScores } from './generation/constraints.js';
import { decodeLoop } from './generation/loop.js';
import type { Seq2SeqSettings } from './generation/seq2seq-config.js';
import { Seq2SeqDecoderState, type Seq2SeqDecoderLayout } from './generation/seq2seq-decoder.js';
import type { GenerationTokenizer } from './generation/text.js';
import { floatData, floatTensor, runSession, type RunContext } from './tensors.js';

/**
 * text2text-generation, translation and summarization: an encoder-decoder model (T5, BART, Marian...) exported as an
 * encoder and a merged decoder with its cache. The text is encoded once; the decoder then runs from the
 * decoder_start_token_id, one token a step, greedy, sampled or by beam search, its scores processed as
 * transformers' generate() processes them (generation/constraints.ts). Greedy and sampled text streams as it comes;
 * beam search knows its text only at the end.
 */

export const SEQ2SEQ_TASKS = ['text2text-generation', 'translation', 'summarization'] as const;

export function isSeq2SeqTask(task: string): boolean {
  return (SEQ2SEQ_TASKS as readonly string[]).includes(task);
}

/** The pipelines' name of the text each task gives. */
const TEXT_KEY: Record<string, 'generated_text' | 'translation_text' | 'summary_text'> = {
  'text2text-generation': 'generated_text',
  translation: 'translation_text',
  summarization: 'summary_text',
};

export interface Seq2SeqSetup {
  tokenizer: GenerationTokenizer;
  decoder: RunContext;
  layout: Seq2SeqDecoderLayout;
  /** The positions of the model's learned position embeddings (BART: max_position_embeddings), if it has any. */
  maxPositions?: number;
}

export interface Seq2SeqPrediction {
  generated_text?: string;
  translation_text?: string;
  summary_text?: string;
  /** The new token ids (the decoder start token left out), an end token included when one ended the text. */
  tokens: number[];
  finish_reason: 'eos' | 'stop' | 'length';
  prompt_tokens: number;
  /** Beam search: the best hypothesis' score (transformers' sequences_scores). */
  sequence_score?: number;
  num_beams: number;
  seed?: number;
  /** Greedy or sampled, with outputScores: per new token, the processed scores over the vocabulary. */
  scores?: number[][];
  /** prefill_ms: the encoder's run; first_token_ms: from the start to the first new token. */
  timings: { prefill_ms: number; first_token_ms: number; decode_ms: number; decode_tokens_per_second: number | null };
}

async function encode(ctx: RunContext, ids: readonly number[]): Promise<Tensor> {
  const feeds: Record<string, Tensor> = {
    input_ids: new ctx.Tensor(
      'int64',
      BigInt64Array.from(ids, (v) => BigInt(v)),
      [1, ids.length],
    ),
  };
  if (ctx.inputs.some((i) => i.name === 'attention_mask'))
    feeds.attention_mask = new ctx.Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]);
  return encoderStates(ctx, feeds);
}

/**
 * The encoder's last_hidden_state [1, length, hidden] as float32 for one input's feeds. A float16 encoder (a
 * `*_fp16.onnx`) is fed its float inputs (pixels, log-mel features) in float16 and its states are read back as float32.
 */
export async function encoderStates(ctx: RunContext, feeds: Record<string, Tensor>): Promise<Tensor> {
  const output = ctx.outputs.find((o) => o.name === 'last_hidden_state')?.name ?? ctx.outputs[0]?.name ?? 'last_hidden_state';
  const halves = new Set(ctx.inputs.filter((i) => i.dtype === 'float16').map((i) => i.name));
  const typed = Object.fromEntries(
    Object.entries(feeds).map(([name, t]) => [
      name,
      halves.has(name) && t.type === 'float32' ? floatTensor(ctx, 'float16', t.data as Float32Array, t.dims) : t,
    ]),
  );
  const out = await runSession(ctx, typed, [output]);
  const states = out[output];
  if (states?.dims.length !== 3 || (states.type !== 'float32' && states.type !== 'float16'))
    throw new ModelctlError('INVALID_INPUT', 'the encoder gave no float32 or float16 last_hidden_state [1, length, hidden]', {
      hint: 'export the model with `modelctl export FOLDER` (encoder_model.onnx is its encoder)',
    });
  return states.type === 'float32' ? states : new ctx.Tensor('float32', floatData(states), states.dims);
}

/** Generates the text for one input. */
export async function generateSeq2Seq(
  encoder: RunContext,
  setup: Seq2SeqSetup,
  text: string,
  settings: Seq2SeqSettings,
  task: string,
  options: { onText?: (piece: string) => void; signal?: AbortSignal } = {},
): Promise<Seq2SeqPrediction> {
  return generateSeq2SeqIds(encoder, setup, setup.tokenizer.encode(text, true), settings, task, options);
}

/** Generates the text for one input already in token ids (bench gives a prompt of an exact length). */
export async function generateSeq2SeqIds(
  encoder: RunContext,
  setup: Seq2SeqSetup,
  ids: readonly number[],
  settings: Seq2SeqSettings,
  task: string,
  options: { onText?: (piece: string) => void; signal?: AbortSignal } = {},
): Promise<Seq2SeqPrediction> {
  if (ids.length === 0)
    throw new ModelctlError('INVALID_INPUT', 'the text is empty and the tokenizer adds no token', { hint: 'give some text' });
  const limit = setup.maxPositions;
  if (limit !== undefined && ids.length > limit)
    throw new ModelctlError('INVALID_INPUT', `the text is ${ids.length} tokens; the model reads ${limit} at most`, {
      hint: 'shorten the text, or split it',
    });
  const t0 = performance.now();
  const states = await encode(encoder, ids);
  const encoded: Encoded = {
    states,
    prompt: [settings.decoderStartTokenId],
    promptTokens: ids.length,
    t0,
    encoderMs: performance.now() - t0,
  };
  return decodeSeq2Seq(setup, encoded, settings, task, options);
}

/** An input the encoder has read: its states, the decoder's prompt (the start token, or Whisper's forced tokens), timings. */
export interface Encoded {
  states: Tensor;
  prompt: readonly number[];
  /** The input's length in its own units (tokens of the text; for audio, the encoder's frames). */
  promptTokens: number;
  t0: number;
  encoderMs: number;
}

/**
 * The decoder run from the encoder's states: the prompt's tokens fed first (all but the last only fill the cache),
 * then one new token a step, greedy, sampled or by beam search, until an end token or the length limit (the prompt
 * counted, as transformers' max_length). Disposes of the states.
 */
export async function decodeSeq2Seq(
  setup: Seq2SeqSetup,
  encoded: Encoded,
  settings: Seq2SeqSettings,
  task: string,
  options: { onText?: (piece: string) => void; signal?: AbortSignal } = {},
): Promise<Seq2SeqPrediction> {
  const { states, prompt, t0, encoderMs } = encoded;
  const limit = setup.maxPositions;
  // The decoder's length limit, the prompt included (transformers' max_length), within its positions.
  const maxLength = maxLengthFor(settings, prompt.length, limit);
  // The processors' input_ids length (min_new_tokens, begin_suppress_tokens' begin index) is the prompt's.
  const place = { inputLength: prompt.length, maxLength };
  const rows = settings.numBeams;
  const state = new Seq2SeqDecoderState(setup.decoder, setup.layout, states, rows);
  states.dispose?.();
  const start = [...prompt];
  const last = prompt.at(-1);
  if (last === undefined) throw new ModelctlError('INVALID_INPUT', 'the decoder has no prompt: give it at least its start token');
  const t1 = performance.now();
  let firstToken = t1;
  try {
    // All but the prompt's last token only fill the cache (each row the same); the last gives the first logits.
    for (const token of prompt.slice(0, -1)) await state.step(new Array<number>(rows).fill(token), null);
    let tokens: number[];
    let finish: Seq2SeqPrediction['finish_reason'] = 'length';
    let textOut: string;
    const extra: Partial<Seq2SeqPrediction> = {};
    if (rows > 1) {
      const r = await beamSearch(
        start,
        { ...settings, maxLength },
        async (sequences, sources) => {
          const logits = await state.step(
            sequences.map((s) => s.at(-1) as number),
            sources,
          );
          return logits.map((row, b) => {
            const scores = logSoftmax(row);
            processScores(scores, sequences[b] as readonly number[], settings, place);
            return scores;
          });
        },
        options.signal,
      );
      tokens = r.tokens;
      firstToken = performance.now();
      if (settings.eosTokenIds.includes(tokens.at(-1) as number)) finish = 'eos';
      textOut = setup.tokenizer.decode(tokens);
      if (textOut) options.onText?.(textOut);
      extra.sequence_score = r.score;
    } else {
      const r = await decodeLoop(
        {
          tokenizer: setup.tokenizer,
          sequence: [...start],
          budget: maxLength - start.length,
          first: async () => ((await state.step([last], null)) as [Float32Array])[0],
          next: async (token) => ((await state.step([token], null)) as [Float32Array])[0],
          process: (logits, sequence) => processScores(logits, sequence, settings, place),
          onText: options.onText,
          signal: options.signal,
        },
        settings,
      );
      ({ tokens, finish, text: textOut } = r);
      firstToken = r.firstTokenAt;
      if (r.seed !== undefined) extra.seed = r.seed;
      if (r.scores) extra.scores = r.scores;
    }
    const decodeMs = performance.now() - t1;
    return {
      [TEXT_KEY[task] ?? 'generated_text']: textOut,
      tokens,
      finish_reason: finish,
      prompt_tokens: encoded.promptTokens,
      num_beams: rows,
      ...extra,
      timings: {
        prefill_ms: encoderMs,
        first_token_ms: firstToken - t0,
        decode_ms: decodeMs,
        decode_tokens_per_second: tokens.length > 0 && decodeMs > 0 ? (tokens.length * 1000) / decodeMs : null,
      },
    };
  } finally {
    state.dispose();
  }
}
