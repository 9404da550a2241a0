import { ENCODER_DECODER_TASKS } from '../../bench/seq2seq.js';
import { benchModel } from '../../bench/index.js';
import { chooseTask, resolveModel } from '../../predict/predict.js';
import { ModelctlError } from '../../errors.js';
import { openRegistry, type CliContext } from '../context.js';
import { runGenerationBench, runSeq2SeqBench } from './bench-generation.js';
import { autoConvert } from './convert-progress.js';
import { renderBench } from '../render/bench.js';
import { startProgress } from '../render/progress.js';
import type { BenchFlags } from '../specs/bench.js';

export async function run([model = '']: string[], options: BenchFlags, ctx: CliContext): Promise<number> {
  const { out } = ctx;
  const files = options.files ?? [];
  if (files.length > 0 && !options.e2e)
    throw new ModelctlError('USAGE', '--file gives the inputs of --e2e', {
      hint: 'add --e2e, or drop --file to time the model on synthetic inputs',
    });
  const { threads, seqLen, warmup, iterations, durationMs, failIfSlower } = options;
  const progress = await startProgress(out, 'opening the model...');
  const conversion = autoConvert(options, ctx, progress);
  try {
    const registry = openRegistry(ctx);
    const resolved = await resolveModel(model, registry, { autoConvert: conversion.autoConvert });
    // Generative models are timed generating; the others on synthetic inputs (or --e2e).
    const { task } = await chooseTask(undefined, resolved, registry);
    if (task === 'text-generation') return await runGenerationBench(model, resolved, registry, options, ctx, progress);
    if (ENCODER_DECODER_TASKS.includes(task)) return await runSeq2SeqBench(model, task, resolved, registry, options, ctx, progress);
    const generative = (
      [
        [options.promptTokens !== undefined, '--prompt-tokens'],
        [options.newTokens !== undefined, '--new-tokens'],
        [options.seconds !== undefined, '--seconds'],
        [options.numBeams !== undefined, '--num-beams'],
      ] as const
    ).filter(([on]) => on);
    if (generative.length > 0)
      throw new ModelctlError(
        'USAGE',
        `${generative.map(([, f]) => f).join(', ')}: for generative models (text-generation, encoder-decoder)`,
        {
          hint: 'drop them; --seq-len and --shape size the inputs of other models',
        },
      );
    const result = await benchModel({
      model,
      registry,
      resolved,
      autoConvert: conversion.autoConvert,
      batchSizes: options.batchSizes,
      shapes: options.shapes ?? [],
      ...(seqLen !== undefined ? { seqLen } : {}),
      warmup,
      ...(iterations !== undefined ? { iterations } : {}),
      ...(durationMs !== undefined ? { durationMs } : {}),
      ...(threads !== undefined ? { threads } : {}),
      device: options.device,
      ...(options.fallback ? { fallback: options.fallback } : {}),
      graphOptimization: options.optimization,
      ...(options.vs !== undefined ? { vs: options.vs } : {}),
      ...(options.e2e ? { e2e: true, ...(files.length > 0 ? { e2eFiles: files } : {}) } : {}),
      ...(options.saveBaseline ? { saveBaseline: true } : {}),
      ...(options.baseline ? { baseline: true } : {}),
      ...(failIfSlower !== undefined ? { failIfSlower } : {}),
      signal: ctx.signal,
      onProgress: (e) =>
        progress.update(
          e.phase === 'session'
            ? `opening ${e.variant}...`
            : `${e.phase === 'warmup' ? 'warming up' : 'timing'} ${e.variant}, batch ${e.batch}: ${e.done}${e.total ? `/${e.total}` : ''}`,
        ),
    });
    progress.stop();
    for (const note of result.notes) out.warn(note);
    for (const v of result.baselines?.verdicts ?? [])
      for (const change of v.hostChanges)
        out.warn(`baseline ${v.key} was measured on another host (${change}): the comparison may not be fair`);
    out.result(result, () => renderBench(out, result));
    if (result.baselines?.failed) {
      const worst = Math.max(...result.baselines.verdicts.map((v) => v.ratio));
      out.stderr.write(
        `${out.ce.red('error:')} slower than the baseline: median latency ${((worst - 1) * 100).toFixed(1)}% above it (tolerance ${((failIfSlower ?? 0) * 100).toFixed(0)}%)\n`,
      );
      return 1;
    }
    return 0;
  } finally {
    progress.stop();
  }
}
