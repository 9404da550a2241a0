import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { percentile, summarize, throughput } from '../../src/bench/stats.js';
import { pythonAvailable, testPython } from '../python.js';

describe('latency statistics', () => {
  it('interpolates percentiles linearly between ranks, as numpy.percentile does by default', () => {
    // numpy's documentation: np.percentile([10, 7, 4, 3, 2, 1], 50) == 3.5
    expect(percentile([10, 7, 4, 3, 2, 1], 50)).toBe(3.5);
    // h = (n - 1) * q / 100 = 9 * 0.9 = 8.1: x[8] + 0.1 * (x[9] - x[8]) = 9 + 0.1
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90)).toBeCloseTo(9.1, 12);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0)).toBe(1);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 100)).toBe(10);
    expect(percentile([42], 99)).toBe(42);
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1, 2], 101)).toThrow(RangeError);
  });

  it('sorts numerically, not as strings', () => {
    const s = summarize([100, 9, 20, 3]);
    expect([s.min, s.max]).toEqual([3, 100]);
    expect(s.p50).toBe(14.5);
  });

  it('summarizes a known sample: count, mean, sample standard deviation, min, percentiles, max', () => {
    const s = summarize([2, 4, 4, 4, 5, 5, 7, 9]);
    expect(s.count).toBe(8);
    expect(s.mean).toBe(5);
    expect(s.stdev).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(s.min).toBe(2);
    expect(s.max).toBe(9);
    expect(s.p50).toBe(4.5);
    expect(s.p90).toBeCloseTo(7.6, 12); // h = 6.3: 7 + 0.3 * 2
    expect(s.p95).toBeCloseTo(8.3, 12); // h = 6.65: 7 + 0.65 * 2
    expect(s.p99).toBeCloseTo(8.86, 12); // h = 6.93: 7 + 0.93 * 2
    expect(summarize([]).count).toBe(0);
    expect(summarize([3]).stdev).toBe(0);
    expect(throughput(32, 2)).toBe(16_000);
  });

  it('agrees with numpy on random samples (mean, min, max and the five percentiles)', async () => {
    if (!pythonAvailable()) return;
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const samples = [5, 17, 333, 1000].map((n) => Array.from({ length: n }, () => 0.05 + rnd() * rnd() * 40));
    const script = [
      'import json, sys, numpy as np',
      'for xs in json.load(sys.stdin):',
      '    a = np.array(xs, dtype=np.float64)',
      '    print(json.dumps([float(a.mean()), float(a.min()), *[float(np.percentile(a, q)) for q in (50, 90, 95, 99)], float(a.max()), float(a.std(ddof=1))]))',
    ].join('\n');
    const r = await execa(testPython() as string, ['-c', script], {
      input: JSON.stringify(samples),
      env: { PYTHONDONTWRITEBYTECODE: '1' },
    });
    const rows = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as number[]);
    expect(rows).toHaveLength(samples.length);
    for (const [i, xs] of samples.entries()) {
      const s = summarize(xs);
      const ours = [s.mean, s.min, s.p50, s.p90, s.p95, s.p99, s.max, s.stdev];
      for (const [k, v] of (rows[i] as number[]).entries()) expect(ours[k], `sample ${i}, statistic ${k}`).toBeCloseTo(v, 9);
    }
  });
});
