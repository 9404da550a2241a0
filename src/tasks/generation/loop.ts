import { ModelctlError } from '../../errors.js';
import { argmax, softmax } from './processors.js';
import { drawIndex, freshSeed, seededRandom } from './sampler.js';
import { TextStream, type GenerationTokenizer } from './text.js';

/**
 * The one token-by-token loop of greedy and sampled generation, for decoder-only models (text-generation.ts) and
 * encoder-decoder ones (seq2seq.ts, when not beam searching): the model's next-token logits processed, a token
 * chosen (argmax, or drawn with the seeded sampler), the text streamed and cut at stop strings, until an end token,
 * a stop string or the token budget. What differs between the two model kinds is behind `first` and `next` (the
 * model's runs) and `process` (the logits processors).
 */

export type FinishReason = 'eos' | 'stop' | 'length';

export interface DecodeSettings {
  doSample: boolean;
  seed?: number;
  eosTokenIds: readonly number[];
  stop: readonly string[];
  outputScores: boolean;
}

export interface DecodeRun {
  tokenizer: GenerationTokenizer;
  /** The sequence so far (a decoder-only model's prompt, a decoder's start token); the chosen tokens are pushed to it. */
  sequence: number[];
  /** New tokens at most. */
  budget: number;
  /** The logits after the sequence as it is (the prompt's run, the decoder's first step). */
  first(): Promise<Float32Array>;
  /** The logits after one more token. */
  next(token: number): Promise<Float32Array>;
  /** The logits processors, in place, on the logits for the position after `sequence`. */
  process(logits: Float32Array, sequence: readonly number[]): void;
  onText?: ((piece: string) => void) | undefined;
  signal?: AbortSignal | undefined;
}

export interface DecodeResult {
  /** The new tokens, an end-of-sequence token included when one ended the text. */
  tokens: number[];
  text: string;
  finish: FinishReason;
  /** The sampler's seed (sampling only). */
  seed?: number;
  /** Per new token, the processed scores (outputScores). */
  scores?: number[][];
  /** performance.now() when `first` gave its logits, when the first token was chosen, and at the end. */
  prefilledAt: number;
  firstTokenAt: number;
  endAt: number;
}

export async function decodeLoop(run: DecodeRun, settings: DecodeSettings): Promise<DecodeResult> {
  const seed = settings.doSample ? (settings.seed ?? freshSeed()) : undefined;
  const random = seed !== undefined ? seededRandom(seed) : undefined;
  const eos = new Set(settings.eosTokenIds);
  const stream = new TextStream(run.tokenizer, [...settings.stop]);
  const tokens: number[] = [];
  const scores: number[][] = [];
  let finish: FinishReason = 'length';
  let firstTokenAt = 0;
  let logits = await run.first();
  const prefilledAt = performance.now();
  while (tokens.length < run.budget) {
    if (run.signal?.aborted) throw new ModelctlError('INTERRUPTED', 'interrupted');
    run.process(logits, run.sequence);
    if (settings.outputScores) scores.push(Array.from(logits));
    const next = random ? drawIndex(softmax(logits), random) : argmax(logits);
    if (tokens.length === 0) firstTokenAt = performance.now();
    tokens.push(next);
    run.sequence.push(next);
    if (eos.has(next)) {
      finish = 'eos';
      break;
    }
    const piece = stream.push(next);
    if (piece) run.onText?.(piece);
    if (stream.stopped) {
      finish = 'stop';
      break;
    }
    if (tokens.length >= run.budget) break;
    logits = await run.next(next);
  }
  const rest = stream.finish();
  if (rest) run.onText?.(rest);
  return {
    tokens,
    text: stream.value,
    finish,
    ...(seed !== undefined ? { seed } : {}),
    ...(settings.outputScores ? { scores } : {}),
    prefilledAt,
    firstTokenAt,
    endAt: performance.now(),
  };
}
