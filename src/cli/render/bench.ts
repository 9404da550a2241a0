import type { BenchOutcome } from '../../bench/index.js';
import { formatBytes } from '../../util/units.js';
import type { Output } from './output.js';
import { printable, renderTable } from './table.js';

/** Milliseconds for people: three significant figures, microseconds below 1 ms. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms < 1) return `${(ms * 1000).toPrecision(3)} us`;
  return `${ms >= 1000 ? ms.toFixed(0) : ms.toPrecision(3)} ms`;
}

function formatRate(n: number): string {
  if (!Number.isFinite(n)) return '-';
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toPrecision(3);
}

function ratio(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(2)}x` : '-';
}

/** The latency table, then pipeline stages (--e2e), the --vs ratios and the baseline verdicts, when there are any. */
export function renderBench(out: Output, r: BenchOutcome): string {
  const { c } = out;
  const h = r.host;
  const mode = r.mode.iterations !== undefined ? `${r.mode.iterations} runs` : `${formatMs(r.mode.durationMs ?? 0)}`;
  const blocks: string[] = [
    c.dim(
      `${printable(h.cpu)}, ${h.cores} cores; onnxruntime ${h.onnxruntime}, Node ${h.node}; ${r.mode.warmup} warm-up + ${mode} per configuration; latency per run`,
    ),
  ];
  blocks.push(
    renderTable(
      c,
      ['MODEL', 'DEVICE', 'THREADS', 'BATCH', 'SESSION', 'MEAN', 'MIN', 'P50', 'P90', 'P95', 'P99', 'MAX', 'ITEMS/S', 'PEAK RSS', 'GROWTH'],
      r.results.map((x) => [
        printable(x.variant),
        x.provider === 'cpu' && x.device !== 'cpu' ? `cpu (${x.device} unavailable)` : x.device,
        x.threads === null ? 'auto' : String(x.threads),
        String(x.batch),
        formatMs(x.sessionCreateMs),
        formatMs(x.latencyMs.mean),
        formatMs(x.latencyMs.min),
        formatMs(x.latencyMs.p50),
        formatMs(x.latencyMs.p90),
        formatMs(x.latencyMs.p95),
        formatMs(x.latencyMs.p99),
        formatMs(x.latencyMs.max),
        formatRate(x.throughput),
        formatBytes(x.memory.peakRssBytes),
        `${x.memory.growthBytes >= 0 ? '+' : '-'}${formatBytes(Math.abs(x.memory.growthBytes))}`,
      ]),
    ),
  );
  const staged = r.results.filter((x) => x.stages);
  if (staged.length > 0) {
    blocks.push(
      renderTable(
        c,
        ['MODEL', 'BATCH', 'STAGE', 'MEAN', 'P50', 'P95', 'MAX', 'SHARE'],
        staged.flatMap((x) => {
          const total = Object.values(x.stages ?? {}).reduce((a, s) => a + s.mean, 0);
          return Object.entries(x.stages ?? {}).map(([stage, s], i) => [
            i === 0 ? printable(x.variant) : '',
            i === 0 ? String(x.batch) : '',
            stage,
            formatMs(s.mean),
            formatMs(s.p50),
            formatMs(s.p95),
            formatMs(s.max),
            total > 0 ? `${((s.mean / total) * 100).toFixed(0)}%` : '-',
          ]);
        }),
      ),
    );
  }
  if (r.comparisons.length > 0) {
    blocks.push(
      renderTable(
        c,
        ['BATCH', 'COMPARED', 'P50 RATIO', 'MEAN RATIO', 'THROUGHPUT RATIO'],
        r.comparisons.map((x) => [
          String(x.batch),
          `${printable(x.other)} / ${printable(x.base)}`,
          ratio(x.p50Ratio),
          ratio(x.meanRatio),
          ratio(x.throughputRatio),
        ]),
      ),
    );
  }
  const b = r.baselines;
  if (b && b.verdicts.length > 0) {
    blocks.push(
      renderTable(
        c,
        ['BATCH', 'CONFIG', 'BASELINE P50', 'NOW P50', 'RATIO', 'VERDICT'],
        b.verdicts.map((v) => [
          String(v.batch),
          v.key,
          formatMs(v.baselineMs),
          formatMs(v.currentMs),
          ratio(v.ratio),
          Number.isFinite(v.tolerance)
            ? v.regressed
              ? c.red(`slower by more than ${(v.tolerance * 100).toFixed(0)}%`)
              : c.green('ok')
            : '-',
        ]),
      ),
    );
  }
  if (b && b.saved.length > 0) blocks.push(`saved ${b.saved.length} baseline${b.saved.length === 1 ? '' : 's'} with ${printable(r.model)}`);
  return blocks.join('\n\n');
}
