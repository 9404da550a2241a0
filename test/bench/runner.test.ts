import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hintsFromConfig } from '../../src/bench/synthetic.js';
import { runBench, type BenchVariant } from '../../src/bench/runner.js';
import { summarize } from '../../src/bench/stats.js';
import { readOnnxSummary } from '../../src/onnx/summary.js';
import { FIXTURES } from '../helpers.js';

async function variant(fixture: string, label = fixture, threads?: number, config?: unknown): Promise<BenchVariant> {
  const path = join(FIXTURES, fixture, 'model.onnx');
  return {
    label,
    path,
    summary: await readOnnxSummary(path),
    hints: hintsFromConfig(config),
    session: threads === undefined ? {} : { threads },
  };
}

/** A clock that makes run i last exactly durations[i] ms: start, then a (t0, t1) pair per run. */
function scriptedClock(durations: number[]): () => number {
  const ticks = [0];
  let t = 0;
  for (const d of durations) ticks.push(t, (t += d));
  let i = 0;
  return () => ticks[Math.min(i++, ticks.length - 1)] as number;
}

describe('the benchmark loop', () => {
  it('reports the statistics of the durations it measured, and throughput from the batch and the mean', async () => {
    const durations = [4, 1, 3, 2, 10, 5, 6, 8, 7, 9];
    const report = await runBench({
      variants: [await variant('iris-logreg')],
      batchSizes: [16],
      warmup: 2,
      iterations: durations.length,
      now: scriptedClock(durations),
    });
    const [r] = report.results;
    expect(r!.latencyMs).toEqual(summarize(durations));
    expect(r!.latencyMs).toMatchObject({ count: 10, mean: 5.5, min: 1, max: 10, p50: 5.5 });
    expect(r!.latencyMs.p90).toBeCloseTo(9.1, 12);
    expect(r!.throughput).toBeCloseTo((16 * 1000) / 5.5, 9);
    expect(r!.batch).toBe(16);
    expect(r!.inputs).toEqual([{ name: 'input', type: 'float32', dims: [16, 4], fill: 'uniform floats in [0, 1)' }]);
    expect(r!.warmup).toBe(2);
    expect(r!.sessionCreateMs).toBeGreaterThan(0);
    expect(r!.memory.peakRssBytes).toBeGreaterThanOrEqual(r!.memory.rssAfterSessionBytes);
    expect(r!.key).toMatch(/^cpu-tauto-b16-[0-9a-f]{8}$/);
    expect(report.mode).toEqual({ warmup: 2, iterations: 10, seed: 42 });
    expect(report.host.onnxruntime).toMatch(/^\d+\.\d+/);
  });

  it('runs every fixture kind on synthetic inputs: tabular, token ids with masks, pixels, a fixed-batch detector, int64 side inputs, external data', async () => {
    const cases: Array<[string, unknown, string[]]> = [
      [
        'optimum-bert',
        { vocab_size: 177, max_position_embeddings: 64 },
        ['input_ids int64 [2,64]', 'attention_mask int64 [2,64]', 'token_type_ids int64 [2,64]'],
      ],
      ['optimum-vit-tiny', { image_size: 32, num_channels: 3 }, ['pixel_values float32 [2,3,32,32]']],
      ['yolo-tiny', undefined, ['images float32 [1,3,64,64]']],
      ['onnx-handbuilt', undefined, ['x float32 [2,4]', 'steps int64 [2]']],
      ['onnx-external', undefined, ['x float32 [2,16]']],
    ];
    for (const [fixture, config, inputs] of cases) {
      const report = await runBench({ variants: [await variant(fixture, fixture, 1, config)], batchSizes: [2], warmup: 1, iterations: 3 });
      const [r] = report.results;
      expect(
        r!.inputs.map((i) => `${i.name} ${i.type} [${i.dims.join(',')}]`),
        fixture,
      ).toEqual(inputs);
      expect(r!.latencyMs.count, fixture).toBe(3);
      expect(r!.threads).toBe(1);
      if (fixture === 'yolo-tiny') {
        expect(r!.batch).toBe(1);
        expect(report.notes).toEqual(['yolo-tiny: the model takes 1 item per run, whatever the batch size asked for (2)']);
      }
    }
  });

  it('--vs: two sides interleaved at each batch size, with their ratios', async () => {
    const report = await runBench({
      variants: [
        await variant('optimum-bert', 'threads=auto', undefined, { vocab_size: 177 }),
        await variant('optimum-bert', 'threads=1', 1, { vocab_size: 177 }),
      ],
      batchSizes: [1, 4],
      shapes: { seqLen: 16 },
      warmup: 1,
      iterations: 5,
    });
    expect(report.results.map((r) => [r.variant, r.batch, r.latencyMs.count])).toEqual([
      ['threads=auto', 1, 5],
      ['threads=1', 1, 5],
      ['threads=auto', 4, 5],
      ['threads=1', 4, 5],
    ]);
    expect(report.results[0]!.key).not.toBe(report.results[1]!.key);
    expect(report.comparisons.map((c) => [c.batch, c.base, c.other])).toEqual([
      [1, 'threads=auto', 'threads=1'],
      [4, 'threads=auto', 'threads=1'],
    ]);
    const [c1] = report.comparisons;
    expect(c1!.p50Ratio).toBeCloseTo(report.results[1]!.latencyMs.p50 / report.results[0]!.latencyMs.p50, 12);
    expect(c1!.throughputRatio).toBeCloseTo(report.results[1]!.throughput / report.results[0]!.throughput, 12);
  });

  it('--duration: stops on time (at least one run), and an aborted signal stops with INTERRUPTED', async () => {
    const report = await runBench({ variants: [await variant('iris-logreg')], batchSizes: [1], warmup: 0, durationMs: 20 });
    expect(report.results[0]!.latencyMs.count).toBeGreaterThanOrEqual(1);
    expect(report.mode).toEqual({ warmup: 0, durationMs: 20, seed: 42 });
    const controller = new AbortController();
    controller.abort();
    await expect(runBench({ variants: [await variant('iris-logreg')], batchSizes: [1], signal: controller.signal })).rejects.toMatchObject({
      code: 'INTERRUPTED',
      exitCode: 130,
    });
    await expect(runBench({ variants: [await variant('iris-logreg')], batchSizes: [0] })).rejects.toMatchObject({ exitCode: 2 });
  });
});
