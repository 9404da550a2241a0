/**
 * bench on a text-generation model (fixtures/models/gen-gpt2-tiny exported by the real converter): time to first
 * token, prefill and decode tokens/s per prompt length, as JSON and as a table. No timed assertions: the fields
 * exist, the counts are right (runs, tokens per run), and the runs happened (progress events, positive times).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { benchGeneration } from '../../src/bench/generation.js';
import { resolveModel } from '../../src/predict/predict.js';
import { Registry } from '../../src/registry/index.js';
import { converterRoot, familyPython } from '../convert/env.js';
import { FIXTURES, cli, fileDir } from '../helpers.js';

async function exportedHome(): Promise<string | null> {
  const root = converterRoot();
  if (!root) return null;
  const home = fileDir('modelctl-bench-gen-');
  const folder = join(FIXTURES, 'gen-gpt2-tiny');
  const r = await cli(['export', folder, '--name', 'gpt2-tiny', '--python', familyPython(root, 'hf'), '--json'], { home });
  expect(r.exitCode, r.stderr).toBe(0);
  return home;
}

describe('bench: text-generation', () => {
  it('reports time to first token, prefill and decode tokens/s per prompt length (JSON, table, library)', async () => {
    const home = await exportedHome();
    if (!home) return;
    const r = await cli(
      ['bench', 'gpt2-tiny', '--prompt-tokens', '4,12', '--new-tokens', '6', '--warmup', '1', '--iterations', '3', '--json'],
      {
        home,
      },
    );
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ model: 'gpt2-tiny:1.0.0', task: 'text-generation', provider: 'cpu', mode: { warmup: 1, iterations: 3 } });
    expect(doc.host.onnxruntime).toEqual(expect.any(String));
    expect(doc.results.map((x: { prompt_tokens: number }) => x.prompt_tokens)).toEqual([4, 12]);
    for (const x of doc.results) {
      expect(x).toMatchObject({ new_tokens: 6, runs: 3, generated_tokens: [6, 6, 6] });
      for (const k of ['time_to_first_token_ms', 'prefill_ms', 'decode_ms']) {
        expect(x[k].count, k).toBe(3);
        expect(x[k].min, k).toBeGreaterThan(0);
        expect(x[k].max).toBeGreaterThanOrEqual(x[k].p50);
      }
      expect(x.time_to_first_token_ms.p50).toBeGreaterThanOrEqual(x.prefill_ms.min);
      expect(Number.isFinite(x.prefill_tokens_per_second) && x.prefill_tokens_per_second > 0).toBe(true);
      expect(x.decode_tokens_per_second).toBeGreaterThan(0);
    }
    // The table: one row per prompt length, with the three figures.
    const table = await cli(['bench', 'gpt2-tiny', '--prompt-tokens', '8', '--new-tokens', '2', '--warmup', '0', '--iterations', '1'], {
      home,
    });
    expect(table.exitCode, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/TTFT P50 .*PREFILL TOK\/S +DECODE TOK\/S/);
    expect(table.stdout).toMatch(/gpt2-tiny:1\.0\.0 +cpu +auto +8 +2 /);
    // The library: every run reported, warm-up and timed, for each prompt length.
    const registry = new Registry({ home });
    const events: string[] = [];
    const report = await benchGeneration({
      model: 'gpt2-tiny',
      registry,
      resolved: await resolveModel('gpt2-tiny', registry),
      promptTokens: [20],
      newTokens: 1,
      warmup: 2,
      iterations: 2,
      threads: 1,
      onProgress: (e) => events.push(`${e.phase}:${e.promptTokens}:${e.done}`),
    });
    expect(events).toEqual(['session:20:0', 'warmup:20:0', 'warmup:20:1', 'timing:20:0', 'timing:20:1']);
    expect(report.threads).toBe(1);
    // One new token: no decode step, so no decode rate.
    expect(report.results[0]).toMatchObject({ prompt_tokens: 20, generated_tokens: [1, 1], decode_tokens_per_second: null });
  }, 300_000);

  it('refuses what does not fit: more positions than the model has, latency-bench flags, generation flags elsewhere', async () => {
    const home = await exportedHome();
    if (!home) return;
    // gen-gpt2-tiny has 64 positions.
    const long = await cli(['bench', 'gpt2-tiny', '--prompt-tokens', '60', '--new-tokens', '8'], { home });
    expect(long.exitCode).toBe(2);
    expect(long.stderr).toMatch(/--prompt-tokens 60 and --new-tokens 8 need 68 positions; the model has 64/);
    const vs = await cli(['bench', 'gpt2-tiny', '--vs', 'threads=2', '--batch-sizes', '1,4'], { home });
    expect(vs.exitCode).toBe(2);
    expect(vs.stderr).toMatch(/--vs, --batch-sizes: not for a text-generation model/);
    const iris = await cli(['register', join(FIXTURES, 'iris-logreg', 'model.onnx'), '--name', 'iris'], { home });
    expect(iris.exitCode, iris.stderr).toBe(0);
    const other = await cli(['bench', 'iris', '--new-tokens', '4'], { home });
    expect(other.exitCode).toBe(2);
    expect(other.stderr).toMatch(/--new-tokens: for generative models/);
  }, 300_000);
});
