import { ModelctlError } from '../errors.js';
import type { ResolvedModel } from '../predict/predict.js';
import { prepareGeneration } from '../predict/generation.js';
import type { Registry } from '../registry/index.js';
import { loadOrt } from '../runtime/ort.js';
import { openSession, type SessionOptions } from '../runtime/index.js';
import { checkDecoder, generate, settingsFor, type GenerationSetup } from '../tasks/text-generation.js';
import type { RunContext } from '../tasks/tensors.js';
import { hostInfo, type HostInfo } from './runner.js';
import { summarize, type LatencyStats } from './stats.js';

/**
 * bench on a text-generation model: generation as predict runs it (the KV-cache loop, greedy, end tokens ignored so
 * every run makes exactly --new-tokens tokens) on a prompt of exactly --prompt-tokens tokens, timed in its parts:
 * time to first token (prefill and the first token's choice), prefill tokens/s (the prompt in one run), decode
 * tokens/s (each later token, one run each). Rates are from the median run's time.
 */

export const DEFAULT_PROMPT_TOKENS = [16];
export const DEFAULT_NEW_TOKENS = 32;

/** Text repeated into a prompt of the length asked for (cut in tokens, so any tokenizer gets exactly that many). */
const FILLER = 'The committee reviewed the quarterly results and asked for a clearer summary of costs, risks and the next steps. ';

export interface GenerationBenchOptions extends SessionOptions {
  model: string;
  resolved: ResolvedModel;
  registry?: Registry;
  promptTokens?: number[];
  newTokens?: number;
  warmup?: number;
  iterations?: number;
  signal?: AbortSignal;
  onProgress?: (event: { phase: 'session' | 'warmup' | 'timing'; promptTokens: number; done: number; total: number }) => void;
}

export interface GenerationBenchResult {
  prompt_tokens: number;
  new_tokens: number;
  runs: number;
  /** Tokens each timed run generated (all equal new_tokens). */
  generated_tokens: number[];
  time_to_first_token_ms: LatencyStats;
  prefill_ms: LatencyStats;
  decode_ms: LatencyStats;
  prefill_tokens_per_second: number;
  decode_tokens_per_second: number | null;
}

export interface GenerationBenchReport {
  model: string;
  task: 'text-generation';
  provider: string;
  threads: number | null;
  host: HostInfo;
  sessionMs: number;
  mode: { warmup: number; iterations: number };
  results: GenerationBenchResult[];
}

/** A prompt of exactly n tokens of the filler text (repeated until the tokenizer makes that many, then cut). */
export function promptIds(tokenizer: { encode(text: string, special: boolean): number[] }, n: number): number[] {
  let text = FILLER;
  for (let ids = tokenizer.encode(text, true); ; ids = tokenizer.encode(text, true)) {
    if (ids.length >= n) return ids.slice(0, n);
    if (text.length > 1_000_000) throw new ModelctlError('CHECK_FAILED', `the tokenizer makes fewer than ${n} tokens of a long text`);
    text += FILLER;
  }
}

export function whole(value: number | undefined, fallback: number, flag: string, min: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min)
    throw new ModelctlError('USAGE', `${flag} takes a whole number of at least ${min}, got ${String(v)}`);
  return v;
}

/** Greedy, every token made: an end token must not cut a run short (the same settings for every generative model). */
export function benchDecoding(newTokens: number): { doSample: false; maxNewTokens: number; stopAtEos: false; repetitionPenalty: 1 } {
  return { doSample: false, maxNewTokens: newTokens, stopAtEos: false, repetitionPenalty: 1 };
}

/** The session options of a bench's options (the rest left out). */
export function sessionOf(options: SessionOptions): SessionOptions {
  return {
    ...(options.device ? { device: options.device } : {}),
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
    ...(options.graphOptimization ? { graphOptimization: options.graphOptimization } : {}),
    ...(options.fallback ? { fallback: options.fallback } : {}),
  };
}

/** The run counts of --warmup, --iterations and --new-tokens, checked. */
export function runCounts(o: { warmup?: number; iterations?: number; newTokens?: number }): {
  warmup: number;
  iterations: number;
  newTokens: number;
} {
  return {
    newTokens: whole(o.newTokens, DEFAULT_NEW_TOKENS, '--new-tokens', 1),
    warmup: whole(o.warmup, 1, '--warmup', 0),
    iterations: whole(o.iterations, 5, '--iterations', 1),
  };
}

/** One generation's tokens and timings, as predict's generate() and decodeSeq2Seq() report them. */
export interface TimedGeneration {
  tokens: readonly number[];
  timings: { prefill_ms: number; first_token_ms: number; decode_ms: number };
}

/** --warmup untimed runs, then --iterations timed ones (returned), reporting each, stopping when interrupted. */
export async function timedRuns<T>(
  counts: { warmup: number; iterations: number },
  run: () => Promise<T>,
  signal: AbortSignal | undefined,
  progress: (phase: 'warmup' | 'timing', done: number, total: number) => void,
): Promise<T[]> {
  const { warmup, iterations } = counts;
  const runs: T[] = [];
  for (let i = 0; i < warmup + iterations; i++) {
    if (signal?.aborted) throw new ModelctlError('INTERRUPTED', 'interrupted');
    const timing = i >= warmup;
    progress(timing ? 'timing' : 'warmup', timing ? i - warmup : i, timing ? iterations : warmup);
    const r = await run();
    if (timing) runs.push(r);
  }
  return runs;
}

export async function benchGeneration(options: GenerationBenchOptions): Promise<GenerationBenchReport> {
  const m = options.resolved;
  const promptLengths = [...new Set(options.promptTokens ?? DEFAULT_PROMPT_TOKENS)];
  for (const p of promptLengths) whole(p, 1, '--prompt-tokens', 1);
  const { newTokens, warmup, iterations } = runCounts(options);
  const base = await prepareGeneration(options.model, m, options.registry);
  const limit = base.maxPositions;
  const longest = Math.max(...promptLengths);
  if (limit !== undefined && longest + newTokens > limit)
    throw new ModelctlError(
      'USAGE',
      `--prompt-tokens ${longest} and --new-tokens ${newTokens} need ${longest + newTokens} positions; the model has ${limit}`,
      {
        hint: 'ask for fewer tokens',
      },
    );
  const settings = settingsFor(base, benchDecoding(newTokens));
  const session = sessionOf(options);
  options.onProgress?.({ phase: 'session', promptTokens: longest, done: 0, total: 1 });
  const opened = await openSession(m.path, session, undefined, m.summary.externalData);
  const ort = await loadOrt();
  const ctx: RunContext = { session: opened.session, Tensor: ort.Tensor, inputs: m.summary.inputs, outputs: m.summary.outputs };
  const setup: GenerationSetup = { ...base, layout: checkDecoder(ctx) };
  const results: GenerationBenchResult[] = [];
  try {
    for (const n of promptLengths) {
      const ids = promptIds(setup.tokenizer, n);
      const runs = await timedRuns(
        { warmup, iterations },
        () => generate(ctx, setup, { ids }, settings, { model: options.model, ...(options.signal ? { signal: options.signal } : {}) }),
        options.signal,
        (phase, done, total) => options.onProgress?.({ phase, promptTokens: n, done, total }),
      );
      const prefill = summarize(runs.map((r) => r.timings.prefill_ms));
      const decode = summarize(runs.map((r) => r.timings.decode_ms));
      results.push({
        prompt_tokens: n,
        new_tokens: newTokens,
        runs: runs.length,
        generated_tokens: runs.map((r) => r.tokens.length),
        time_to_first_token_ms: summarize(runs.map((r) => r.timings.first_token_ms)),
        prefill_ms: prefill,
        decode_ms: decode,
        prefill_tokens_per_second: (n * 1000) / prefill.p50,
        decode_tokens_per_second: newTokens > 1 && decode.p50 > 0 ? ((newTokens - 1) * 1000) / decode.p50 : null,
      });
    }
  } finally {
    await opened.session.release();
  }
  return {
    model: m.manifest ? `${m.manifest.name}:${m.manifest.version}` : options.model,
    task: 'text-generation',
    provider: opened.provider,
    threads: options.threads ?? null,
    host: await hostInfo(),
    sessionMs: opened.createMs,
    mode: { warmup, iterations },
    results,
  };
}
