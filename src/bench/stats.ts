/**
 * Latency statistics. Percentiles use linear interpolation between the closest ranks (Hyndman & Fan type 7), the
 * default of numpy.percentile and of R's quantile, so a figure here can be checked against numpy on the same
 * samples. onnxruntime_perf_test reports nearest-rank percentiles instead; on the hundreds of samples a benchmark
 * takes the two differ by less than one sample's spacing.
 */

export interface LatencyStats {
  count: number;
  mean: number;
  /** Sample standard deviation (n - 1); 0 for one sample. */
  stdev: number;
  min: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

/** The q-th percentile (0..100) of samples already sorted in ascending order, numpy's "linear" method. */
export function percentileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  if (!(q >= 0 && q <= 100)) throw new RangeError(`percentile must be within 0..100, not ${q}`);
  const h = ((sorted.length - 1) * q) / 100;
  const lo = Math.floor(h);
  const a = sorted[lo] as number;
  const b = sorted[Math.min(lo + 1, sorted.length - 1)] as number;
  return a + (h - lo) * (b - a);
}

export function percentile(samples: readonly number[], q: number): number {
  return percentileSorted(Float64Array.from(samples).sort() as unknown as number[], q);
}

export function summarize(samples: readonly number[]): LatencyStats {
  const n = samples.length;
  if (n === 0)
    return {
      count: 0,
      mean: Number.NaN,
      stdev: Number.NaN,
      min: Number.NaN,
      p50: Number.NaN,
      p90: Number.NaN,
      p95: Number.NaN,
      p99: Number.NaN,
      max: Number.NaN,
    };
  // A typed array sorts numerically (Array#sort would compare strings) and fast.
  const sorted = Float64Array.from(samples).sort();
  const list = sorted as unknown as number[];
  let sum = 0;
  for (const x of sorted) sum += x;
  const mean = sum / n;
  let sq = 0;
  for (const x of sorted) sq += (x - mean) ** 2;
  return {
    count: n,
    mean,
    stdev: n > 1 ? Math.sqrt(sq / (n - 1)) : 0,
    min: sorted[0] as number,
    p50: percentileSorted(list, 50),
    p90: percentileSorted(list, 90),
    p95: percentileSorted(list, 95),
    p99: percentileSorted(list, 99),
    max: sorted[n - 1] as number,
  };
}

/** Items per second for a batch of `batch` items taking `meanMs` on average. */
export function throughput(batch: number, meanMs: number): number {
  return meanMs > 0 ? (batch * 1000) / meanMs : Number.NaN;
}
