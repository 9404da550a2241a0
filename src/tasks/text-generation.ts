import { ModelctlError } from '../errors.js';
import { renderChat, type ChatMessage } from './generation/chat.js';
import { generationSettings, type GenerationOptions, type GenerationSettings } from './generation/config.js';
import { DecoderState, decoderLayout, type DecoderLayout } from './generation/decoder.js';
import { decodeLoop, type FinishReason } from './generation/loop.js';
import { maxLengthFor } from './generation/config.js';
import { processScores } from './generation/constraints.js';
import type { GenerationTokenizer } from './generation/text.js';
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

export type { FinishReason } from './generation/loop.js';

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
  const state = new DecoderState(ctx, setup.layout);
  const sequence = [...ids];
  const place = { inputLength: ids.length, maxLength: maxLengthFor(settings, ids.length, limit) };
  const t0 = performance.now();
  try {
    const r = await decodeLoop(
      {
        tokenizer: setup.tokenizer,
        sequence,
        budget: place.maxLength - ids.length,
        first: () => state.feed(ids, sequence),
        next: (token) => state.feed([token], sequence),
        process: (logits, seen) => processScores(logits, seen, settings, place),
        onText: options.onText,
        signal: options.signal,
      },
      settings,
    );
    const decodeMs = r.endAt - r.firstTokenAt;
    return {
      generated_text: r.text,
      tokens: r.tokens,
      finish_reason: r.finish,
      prompt_tokens: ids.length,
      ...(rendered !== undefined ? { prompt: rendered } : {}),
      ...(r.seed !== undefined ? { seed: r.seed } : {}),
      ...(r.scores ? { scores: r.scores } : {}),
      timings: {
        prefill_ms: r.prefilledAt - t0,
        first_token_ms: r.firstTokenAt - t0,
        decode_ms: decodeMs,
        decode_tokens_per_second: r.tokens.length > 1 && decodeMs > 0 ? ((r.tokens.length - 1) * 1000) / decodeMs : null,
      },
    };
  } finally {
    state.dispose();
  }
}
