import { benchGeneration } from '../../bench/generation.js';
import { benchSeq2Seq } from '../../bench/seq2seq.js';
import { ModelctlError } from '../../errors.js';
import type { ResolvedModel } from '../../predict/predict.js';
import type { Registry } from '../../registry/index.js';
import type { CliContext } from '../context.js';
import { renderGenerationBench, renderSeq2SeqBench } from '../render/bench-generation.js';
import type { BenchFlags } from '../specs/bench.js';

/**
 * `modelctl bench` on a generative model: text-generation (time to first token, prefill and decode tokens/s) or an
 * encoder-decoder model (the encoder's time and rate, time to first token, decode tokens/s).
 */

/** The flags of the latency bench, or of another kind of generator, that mean nothing for this one: refused, never ignored. */
function refuse(options: BenchFlags, task: string): void {
  const given: Array<[boolean, string]> = [
    [options.vs !== undefined, '--vs'],
    [options.saveBaseline === true, '--save-baseline'],
    [options.baseline === true, '--baseline'],
    [options.failIfSlower !== undefined, '--fail-if-slower'],
    [options.e2e === true, '--e2e'],
    [(options.shapes ?? []).length > 0, '--shape'],
    [options.seqLen !== undefined, '--seq-len'],
    [options.durationMs !== undefined, '--duration'],
    [options.batchSizes.some((b) => b !== 1), '--batch-sizes'],
    [options.seconds !== undefined && task !== 'automatic-speech-recognition', '--seconds'],
    [options.numBeams !== undefined && task === 'text-generation', '--num-beams'],
    [options.promptTokens !== undefined && (task === 'automatic-speech-recognition' || task === 'image-to-text'), '--prompt-tokens'],
  ];
  const flags = given.filter(([on]) => on).map(([, f]) => f);
  const own: Record<string, string> = {
    'text-generation': '--prompt-tokens, --new-tokens',
    'automatic-speech-recognition': '--seconds, --new-tokens, --num-beams',
    'image-to-text': '--new-tokens, --num-beams',
  };
  if (flags.length > 0)
    throw new ModelctlError('USAGE', `${flags.join(', ')}: not for a${/^[aeiou]/.test(task) ? 'n' : ''} ${task} model`, {
      hint: `bench times its generation with ${own[task] ?? '--prompt-tokens, --new-tokens, --num-beams'}, --warmup and --iterations`,
    });
}

export async function runGenerationBench(
  model: string,
  resolved: ResolvedModel,
  registry: Registry,
  options: BenchFlags,
  ctx: CliContext,
  progress: { update(text: string): void; stop(): void },
): Promise<number> {
  refuse(options, 'text-generation');
  const result = await benchGeneration({
    model,
    resolved,
    registry,
    ...(options.promptTokens ? { promptTokens: options.promptTokens } : {}),
    ...(options.newTokens !== undefined ? { newTokens: options.newTokens } : {}),
    ...runFlags(options, ctx),
    onProgress: (e) =>
      progress.update(
        e.phase === 'session'
          ? 'opening the model...'
          : `${e.phase === 'warmup' ? 'warming up' : 'timing'} a ${e.promptTokens}-token prompt: ${e.done}/${e.total}`,
      ),
  });
  progress.stop();
  ctx.out.result(result, () => renderGenerationBench(ctx.out, result));
  return 0;
}

/** The run and session flags both generation benches take (warm-up, iterations, threads, device, optimisation). */
function runFlags(options: BenchFlags, ctx: CliContext) {
  return {
    warmup: options.warmup,
    ...(options.iterations !== undefined ? { iterations: options.iterations } : {}),
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
    device: options.device,
    ...(options.fallback ? { fallback: options.fallback } : {}),
    graphOptimization: options.optimization,
    signal: ctx.signal,
  };
}

export async function runSeq2SeqBench(
  model: string,
  task: string,
  resolved: ResolvedModel,
  registry: Registry,
  options: BenchFlags,
  ctx: CliContext,
  progress: { update(text: string): void; stop(): void },
): Promise<number> {
  refuse(options, task);
  const result = await benchSeq2Seq({
    model,
    task,
    resolved,
    registry,
    ...(options.promptTokens ? { promptTokens: options.promptTokens } : {}),
    ...(options.seconds !== undefined ? { seconds: options.seconds } : {}),
    ...(options.newTokens !== undefined ? { newTokens: options.newTokens } : {}),
    ...(options.numBeams !== undefined ? { numBeams: options.numBeams } : {}),
    ...runFlags(options, ctx),
    onProgress: (e) =>
      progress.update(
        e.phase === 'session'
          ? 'opening the model...'
          : `${e.phase === 'warmup' ? 'warming up' : 'timing'} ${e.input}: ${e.done}/${e.total}`,
      ),
  });
  progress.stop();
  ctx.out.result(result, () => renderSeq2SeqBench(ctx.out, result));
  return 0;
}
