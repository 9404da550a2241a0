import { benchGeneration } from '../../bench/generation.js';
import { ModelctlError } from '../../errors.js';
import type { ResolvedModel } from '../../predict/predict.js';
import type { Registry } from '../../registry/index.js';
import type { CliContext } from '../context.js';
import { renderGenerationBench } from '../render/bench-generation.js';
import type { BenchFlags } from '../specs/bench.js';

/** `modelctl bench` on a text-generation model: time to first token, prefill and decode tokens/s. */

/** The flags of the latency bench that mean nothing for a generator: refused, never silently ignored. */
function refuse(options: BenchFlags): void {
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
  ];
  const flags = given.filter(([on]) => on).map(([, f]) => f);
  if (flags.length > 0)
    throw new ModelctlError('USAGE', `${flags.join(', ')}: not for a text-generation model`, {
      hint: 'bench times its generation with --prompt-tokens, --new-tokens, --warmup and --iterations',
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
  refuse(options);
  const result = await benchGeneration({
    model,
    resolved,
    registry,
    ...(options.promptTokens ? { promptTokens: options.promptTokens } : {}),
    ...(options.newTokens !== undefined ? { newTokens: options.newTokens } : {}),
    warmup: options.warmup,
    ...(options.iterations !== undefined ? { iterations: options.iterations } : {}),
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
    device: options.device,
    ...(options.fallback ? { fallback: options.fallback } : {}),
    graphOptimization: options.optimization,
    signal: ctx.signal,
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
