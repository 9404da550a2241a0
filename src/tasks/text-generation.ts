import { ModelctlError } from '../errors.js';
import { renderChat, type ChatMessage } from './generation/chat.js';
import { generationSettings, type GenerationOptions, type GenerationSettings } from './generation/config.js';
import { DecoderState, decoderLayout, type DecoderLayout } from './generation/decoder.js';
import { argmax, processLogits, softmax } from './generation/processors.js';
import { drawIndex, freshSeed, seededRandom } from './generation/sampler.js';
import { TextStream, type GenerationTokenizer } from './generation/text.js';
import type { RunContext } from './tensors.js';

/**
 * text-generation: a decoder-only model (GPT-2, Llama...) continues a prompt token by token with its KV cache,
 * greedy or sampled, the logits processed as transformers' generate() processes them (generation/processors.ts).
 *
 * The loop is modelctl's own rather than transformers.js' generate(), although that one gives the same greedy tokens
 * on the parity models (bench/text-generation.mjs compares them): in 4.3.2 it leaves top-p out ("TODO: Add
 * TopPLogitsWarper"), samples through one process-wide generator (no per-request seed), has no stop strings, and
 * loads the model through its own files and session instead of the registry version predict has verified and
 * opened; a loop over our session gives the per-step scores and the prefill/decode timings too.
 */

export type { GenerationOptions } from './generation/config.js';
export type { ChatMessage } from './generation/chat.js';

export interface GenerationSetup {
  tokenizer: GenerationTokenizer;
  tokenizerConfig: unknown;
  modelConfig: unknown;
  generationConfig: unknown;
  chatTemplate?: string;
  layout: DecoderLayout;
  /** The positions the model has (max_position_embeddings, n_positions): prompt and new tokens together. */
  maxPositions?: number;
}

export type FinishReason = 'eos' | 'stop' | 'length';

export interface GenerationPrediction {
  /** The new text only (the prompt is not repeated), special tokens left out, cut before a stop string. */
  generated_text: string;
  /** The new token ids, an end-of-sequence token included when one ended the text. */
  tokens: number[];
  /** eos: an end-of-sequence token; stop: a stop string; length: max_new_tokens or the model's positions. */
  finish_reason: FinishReason;
  prompt_tokens: number;
  /** The chat prompt as the template rendered it (with --chat). */
  prompt?: string;
  /** The sampler's seed (sampling only): pass it again to get the same tokens. */
  seed?: number;
  /** Per new token, the processed scores over the vocabulary (outputScores). */
  scores?: number[][];
  timings: { prefill_ms: number; first_token_ms: number; decode_ms: number; decode_tokens_per_second: number | null };
}

/**
 * One prompt: a text (tokenized with the tokenizer's special tokens), chat messages (rendered by the template), or
 * token ids as they are (bench: a prompt of an exact length).
 */
export type GenerationPrompt = { text: string } | { messages: ChatMessage[] } | { ids: number[] };

function positive(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value < 1_000_000 ? value : undefined;
}

/** The model's context length from config.json (GPT-2 calls it n_positions). */
export function maxPositionsOf(modelConfig: unknown): number | undefined {
  const c = (modelConfig ?? {}) as Record<string, unknown>;
  return positive(c.max_position_embeddings) ?? positive(c.n_positions) ?? positive(c.n_ctx);
}

export function checkDecoder(ctx: RunContext): DecoderLayout {
  return decoderLayout(ctx.inputs, ctx.outputs);
}

/** Resolves the options against the model's generation_config.json and config.json (USAGE errors before any run). */
export function settingsFor(setup: Pick<GenerationSetup, 'generationConfig' | 'modelConfig'>, o: GenerationOptions): GenerationSettings {
  return generationSettings(o, setup.generationConfig, setup.modelConfig);
}

async function promptIds(setup: GenerationSetup, prompt: GenerationPrompt, model: string): Promise<{ ids: number[]; rendered?: string }> {
  if ('ids' in prompt) return { ids: [...prompt.ids] };
  if ('messages' in prompt) {
    const rendered = await renderChat(setup.chatTemplate, prompt.messages, setup.tokenizerConfig, model);
    return { ids: setup.tokenizer.encode(rendered, false), rendered };
  }
  return { ids: setup.tokenizer.encode(prompt.text, true) };
}

/**
 * Generates the continuation of one prompt. `onText` gets the text as it grows (never half a character, never
 * the start of a stop string before it is known not to be one).
 */
export async function generate(
  ctx: RunContext,
  setup: GenerationSetup,
  prompt: GenerationPrompt,
  settings: GenerationSettings,
  options: { model: string; onText?: (piece: string) => void; signal?: AbortSignal },
): Promise<GenerationPrediction> {
  const { ids, rendered } = await promptIds(setup, prompt, options.model);
  if (ids.length === 0) {
    throw new ModelctlError('INVALID_INPUT', 'the prompt is empty and the tokenizer adds no start token', {
      hint: 'give a prompt of at least one token',
    });
  }
  const limit = setup.maxPositions;
  if (limit !== undefined && ids.length >= limit) {
    throw new ModelctlError('INVALID_INPUT', `the prompt is ${ids.length} tokens; the model has ${limit} positions in all`, {
      hint: 'shorten the prompt (the new tokens need positions too)',
    });
  }
  const seed = settings.doSample ? (settings.seed ?? freshSeed()) : undefined;
  const random = seed !== undefined ? seededRandom(seed) : undefined;
  const eos = new Set(settings.eosTokenIds);
  const stream = new TextStream(setup.tokenizer, settings.stop);
  const state = new DecoderState(ctx, setup.layout);
  const seen = [...ids];
  const tokens: number[] = [];
  const scores: number[][] = [];
  let finish: FinishReason = 'length';
  const t0 = performance.now();
  let firstToken = 0;
  let decodeStart = 0;
  try {
    let logits = await state.feed(ids, seen);
    const prefillMs = performance.now() - t0;
    for (;;) {
      if (options.signal?.aborted) throw new ModelctlError('INTERRUPTED', 'interrupted');
      processLogits(logits, seen, settings);
      if (settings.outputScores) scores.push(Array.from(logits));
      const next = random ? drawIndex(softmax(logits), random) : argmax(logits);
      if (tokens.length === 0) {
        firstToken = performance.now() - t0;
        decodeStart = performance.now();
      }
      tokens.push(next);
      seen.push(next);
      if (eos.has(next)) {
        finish = 'eos';
        break;
      }
      const piece = stream.push(next);
      if (piece) options.onText?.(piece);
      if (stream.stopped) {
        finish = 'stop';
        break;
      }
      if (tokens.length >= settings.maxNewTokens || (limit !== undefined && seen.length >= limit)) break;
      logits = await state.feed([next], seen);
    }
    const rest = stream.finish();
    if (rest) options.onText?.(rest);
    const decodeMs = performance.now() - decodeStart;
    return {
      generated_text: stream.value,
      tokens,
      finish_reason: finish,
      prompt_tokens: ids.length,
      ...(rendered !== undefined ? { prompt: rendered } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(settings.outputScores ? { scores } : {}),
      timings: {
        prefill_ms: prefillMs,
        first_token_ms: firstToken,
        decode_ms: decodeMs,
        decode_tokens_per_second: tokens.length > 1 && decodeMs > 0 ? ((tokens.length - 1) * 1000) / decodeMs : null,
      },
    };
  } finally {
    state.dispose();
  }
}
