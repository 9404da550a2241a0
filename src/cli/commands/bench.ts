import { benchModel, parseTolerance } from '../../bench/index.js';
import { ModelctlError } from '../../errors.js';
import { parseDevice, type GraphOptimization } from '../../runtime/index.js';
import { parseDuration } from '../../util/units.js';
import { integer, openRegistry, type CliContext } from '../context.js';
import { renderBench } from '../render/bench.js';
import { startProgress } from '../render/progress.js';

function batchSizes(value: unknown): number[] {
  const text = String(value ?? '1');
  const sizes = text.split(',').map((s) => s.trim());
  if (sizes.some((s) => !/^\d+$/.test(s) || Number(s) < 1)) {
    throw new ModelctlError('USAGE', `--batch-sizes takes whole numbers of at least 1, comma-separated, got "${text}"`, { hint: 'e.g. --batch-sizes 1,8,32' });
  }
  return [...new Set(sizes.map(Number))];
}

function fallback(value: unknown): boolean {
  if (value === undefined) return false;
  if (value !== 'cpu') throw new ModelctlError('USAGE', `--fallback takes cpu, got "${String(value)}"`);
  return true;
}

export async function run([model = '']: string[], options: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const { out } = ctx;
  const files = (options.file as string[] | undefined) ?? [];
  if (files.length > 0 && !options.e2e) throw new ModelctlError('USAGE', '--file gives the inputs of --e2e', { hint: 'add --e2e, or drop --file to time the model on synthetic inputs' });
  const threads = integer('--threads', options.threads, 0);
  const seqLen = integer('--seq-len', options.seqLen, 1);
  const warmup = integer('--warmup', options.warmup, 0);
  const iterations = integer('--iterations', options.iterations, 1);
  const durationMs = options.duration !== undefined ? parseDuration(String(options.duration)) : undefined;
  const failIfSlower = options.failIfSlower !== undefined ? parseTolerance(String(options.failIfSlower)) : undefined;
  const progress = await startProgress(out, 'opening the model...');
  try {
    const result = await benchModel({
      model,
      registry: openRegistry(ctx),
      batchSizes: batchSizes(options.batchSizes),
      shapes: (options.shape as string[] | undefined) ?? [],
      ...(seqLen !== undefined ? { seqLen } : {}),
      ...(warmup !== undefined ? { warmup } : {}),
      ...(iterations !== undefined ? { iterations } : {}),
      ...(durationMs !== undefined ? { durationMs } : {}),
      ...(threads !== undefined ? { threads } : {}),
      device: parseDevice(String(options.device ?? 'cpu')),
      ...(fallback(options.fallback) ? { fallback: 'cpu' as const } : {}),
      ...(options.optimization !== undefined ? { graphOptimization: String(options.optimization) as GraphOptimization } : {}),
      ...(options.vs !== undefined ? { vs: String(options.vs) } : {}),
      ...(options.e2e ? { e2e: true, ...(files.length > 0 ? { e2eFiles: files } : {}) } : {}),
      ...(options.saveBaseline ? { saveBaseline: true } : {}),
      ...(options.baseline ? { baseline: true } : {}),
      ...(failIfSlower !== undefined ? { failIfSlower } : {}),
      signal: ctx.signal,
      onProgress: (e) => progress.update(e.phase === 'session' ? `opening ${e.variant}...` : `${e.phase === 'warmup' ? 'warming up' : 'timing'} ${e.variant}, batch ${e.batch}: ${e.done}${e.total ? `/${e.total}` : ''}`),
    });
    progress.stop();
    for (const note of result.notes) out.warn(note);
    for (const v of result.baselines?.verdicts ?? []) for (const change of v.hostChanges) out.warn(`baseline ${v.key} was measured on another host (${change}): the comparison may not be fair`);
    out.result(result, () => renderBench(out, result));
    if (result.baselines?.failed) {
      const worst = Math.max(...result.baselines.verdicts.map((v) => v.ratio));
      out.stderr.write(`${out.ce.red('error:')} slower than the baseline: median latency ${((worst - 1) * 100).toFixed(1)}% above it (tolerance ${((failIfSlower ?? 0) * 100).toFixed(0)}%)\n`);
      return 1;
    }
    return 0;
  } finally {
    progress.stop();
  }
}
