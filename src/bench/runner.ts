import { createHash } from 'node:crypto';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { ModelctlError } from '../errors.js';
import type { OnnxSummary } from '../onnx/summary.js';
import { formatDevice, loadOrt, openSession, type OpenedSession, type SessionOptions } from '../runtime/index.js';
import { VERSION } from '../version.js';
import type { ModelHints, ShapeRequest } from './synthetic.js';
import { summarize, throughput, type LatencyStats } from './stats.js';
import { inferenceWorkload, type Workload, type WorkloadFactory } from './workload.js';

/**
 * The benchmark loop. Each configuration (a model, device and thread count, at one batch size) gets a session,
 * warm-up runs, then timed runs, one `performance.now()` pair around each. With two variants (`--vs`) the runs
 * alternate A B B A ..., in the same process and the same minutes, so that a noisy neighbour or a CPU clock change
 * weighs on both sides alike and their ratio stays meaningful.
 */

export interface BenchVariant {
  /** How the report names this side: the model reference, or what `--vs` changed ("threads=4"). */
  label: string;
  /** The ONNX file onnxruntime loads. */
  path: string;
  summary: OnnxSummary;
  hints: ModelHints;
  session: SessionOptions;
  /** The work timed per iteration; default: one session.run on synthetic inputs. */
  workload?: WorkloadFactory;
}

export interface BenchProgress {
  phase: 'session' | 'warmup' | 'measure';
  variant: string;
  batch: number;
  done: number;
  total?: number;
}

export interface BenchRunOptions {
  variants: BenchVariant[];
  batchSizes: number[];
  shapes?: Omit<ShapeRequest, 'batch'>;
  warmup?: number;
  /** Timed runs per configuration; with durationMs, whichever ends first. Default: 100 when no duration is given. */
  iterations?: number;
  durationMs?: number;
  seed?: number;
  onProgress?: (event: BenchProgress) => void;
  signal?: AbortSignal;
  /** A test seam for the clock (milliseconds). */
  now?: () => number;
}

export interface MemoryFigures {
  /** Resident set size once the session exists and the inputs are made. */
  rssAfterSessionBytes: number;
  /** Growth of the resident set over the timed runs (after warm-up): a leak shows here. */
  growthBytes: number;
  /** The process's peak resident set so far (getrusage maxrss): it includes everything run before. */
  peakRssBytes: number;
}

export interface ConfigResult {
  variant: string;
  device: string;
  provider: 'cpu' | 'cuda';
  fellBack?: string;
  /** Intra-op threads asked for; null lets onnxruntime choose. */
  threads: number | null;
  graphOptimization: string;
  /** Items per run: the first dimension of the first input. */
  batch: number;
  inputs: Array<{ name: string; type: string; dims: number[]; fill: string }>;
  sessionCreateMs: number;
  warmup: number;
  latencyMs: LatencyStats;
  /** Items per second: batch / mean latency. */
  throughput: number;
  /** --e2e: each stage of the pipeline, timed apart. */
  stages?: Record<string, LatencyStats>;
  memory: MemoryFigures;
  /** Names the configuration for baselines: device, threads, optimization level, input shapes and workload. */
  key: string;
}

export interface Comparison {
  batch: number;
  base: string;
  other: string;
  /** other / base: above 1 means `other` is slower. */
  p50Ratio: number;
  meanRatio: number;
  /** other / base: above 1 means `other` does more per second. */
  throughputRatio: number;
}

export interface HostInfo {
  cpu: string;
  cores: number;
  platform: string;
  arch: string;
  node: string;
  onnxruntime: string;
  modelctl: string;
}

export interface BenchReport {
  host: HostInfo;
  mode: { warmup: number; iterations?: number; durationMs?: number; seed: number };
  results: ConfigResult[];
  comparisons: Comparison[];
  notes: string[];
}

export const DEFAULT_WARMUP = 5;
export const DEFAULT_ITERATIONS = 100;

export async function hostInfo(): Promise<HostInfo> {
  const ort = await loadOrt();
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    platform: process.platform,
    arch: process.arch,
    node: process.version,
    onnxruntime: ort.env.versions.node ?? ort.env.versions.common,
    modelctl: VERSION,
  };
}

/** Stable and readable: `cpu-t4-b8-1a2b3c4d` (threads "auto" when onnxruntime chooses). */
export function configKey(
  r: Pick<ConfigResult, 'device' | 'threads' | 'graphOptimization' | 'batch' | 'inputs'>,
  workload: string,
): string {
  const identity = JSON.stringify([r.device, r.threads, r.graphOptimization, r.inputs.map((i) => [i.name, i.type, i.dims]), workload]);
  const hash = createHash('sha256').update(identity).digest('hex').slice(0, 8);
  return `${r.device.replace(/:/g, '')}-t${r.threads ?? 'auto'}-b${r.batch}-${hash}`;
}

function checkRequest(o: BenchRunOptions): void {
  if (o.variants.length < 1 || o.variants.length > 2) throw new ModelctlError('USAGE', 'bench compares at most two variants at a time');
  if (o.batchSizes.length === 0 || o.batchSizes.some((b) => !Number.isSafeInteger(b) || b < 1)) {
    throw new ModelctlError('USAGE', `batch sizes must be whole numbers of at least 1, not ${o.batchSizes.join(',')}`, {
      hint: 'e.g. --batch-sizes 1,8,32',
    });
  }
  if (o.iterations !== undefined && !(Number.isSafeInteger(o.iterations) && o.iterations >= 1))
    throw new ModelctlError('USAGE', `iterations must be at least 1, not ${o.iterations}`);
  if (o.durationMs !== undefined && !(o.durationMs > 0))
    throw new ModelctlError('USAGE', `the duration must be longer than 0, not ${o.durationMs} ms`);
}

interface Side {
  variant: BenchVariant;
  opened: OpenedSession;
  rssAfterSession: number;
}

function interrupted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ModelctlError('INTERRUPTED', 'interrupted');
}

/** Runs every variant at every batch size; variants of one batch size are timed interleaved. */
export async function runBench(options: BenchRunOptions): Promise<BenchReport> {
  checkRequest(options);
  const now = options.now ?? (() => performance.now());
  const warmup = options.warmup ?? DEFAULT_WARMUP;
  const iterations = options.iterations ?? (options.durationMs === undefined ? DEFAULT_ITERATIONS : undefined);
  const seed = options.seed ?? 42;
  const ort = await loadOrt();
  const host = await hostInfo();
  const sides: Side[] = [];
  const notes: string[] = [];
  const results: ConfigResult[] = [];
  const comparisons: Comparison[] = [];
  try {
    if (options.variants.length > 1) {
      // ONNX Runtime's one-time start-up would otherwise land on whichever side opens first.
      const first = options.variants[0] as BenchVariant;
      await (await openSession(first.path, first.session)).session.release();
    }
    for (const variant of options.variants) {
      interrupted(options.signal);
      options.onProgress?.({ phase: 'session', variant: variant.label, batch: 0, done: 0 });
      const opened = await openSession(variant.path, variant.session);
      sides.push({ variant, opened, rssAfterSession: process.memoryUsage.rss() });
      if (opened.fellBack) notes.push(`${variant.label}: running on the CPU: ${opened.fellBack}`);
    }
    for (const batch of options.batchSizes) {
      const workloads: Workload[] = [];
      for (const side of sides) {
        const factory = side.variant.workload ?? inferenceWorkload;
        workloads.push(
          await factory({
            ort,
            opened: side.opened,
            summary: side.variant.summary,
            hints: side.variant.hints,
            request: { ...options.shapes, batch },
            seed,
          }),
        );
      }
      for (const [i, w] of workloads.entries()) {
        const label = sides[i]?.variant.label ?? '';
        if (w.items !== batch)
          notes.push(
            `${label}: the model takes ${w.items} item${w.items === 1 ? '' : 's'} per run, whatever the batch size asked for (${batch})`,
          );
      }
      const rssStart: number[] = [];
      for (let k = 0; k < warmup; k++) {
        for (const [i, w] of workloads.entries()) {
          interrupted(options.signal);
          await w.run();
          options.onProgress?.({ phase: 'warmup', variant: sides[i]?.variant.label ?? '', batch, done: k + 1, total: warmup });
        }
      }
      for (const _ of workloads) rssStart.push(process.memoryUsage.rss());
      const samples: number[][] = workloads.map(() => []);
      const stageSamples: Array<Record<string, number[]>> = workloads.map(() => ({}));
      // A B, then B A: whichever runs second in a round (warmer caches) alternates.
      const orders = [workloads.map((_, i) => i), workloads.map((_, i) => workloads.length - 1 - i)];
      const label = options.variants.map((v) => v.label).join(' vs ');
      const started = now();
      for (let k = 0; ; k++) {
        if (iterations !== undefined && k >= iterations) break;
        if (options.durationMs !== undefined && k > 0 && now() - started >= options.durationMs) break;
        interrupted(options.signal);
        for (const i of orders[k % 2] as number[]) {
          const w = workloads[i] as Workload;
          const t0 = now();
          const stages = await w.run();
          (samples[i] as number[]).push(now() - t0);
          if (stages)
            for (const [name, ms] of Object.entries(stages)) ((stageSamples[i] as Record<string, number[]>)[name] ??= []).push(ms);
        }
        // Reported every 64 runs: a progress line per run would cost more than a tiny model's run.
        if ((k & 63) === 63)
          options.onProgress?.({
            phase: 'measure',
            variant: label,
            batch,
            done: k + 1,
            ...(iterations !== undefined ? { total: iterations } : {}),
          });
      }
      const rssEnd = process.memoryUsage.rss();
      const peak = process.resourceUsage().maxRSS * 1024;
      for (const [i, side] of sides.entries()) {
        const w = workloads[i] as Workload;
        const latencyMs = summarize(samples[i] as number[]);
        const stages =
          Object.keys(stageSamples[i] ?? {}).length > 0
            ? Object.fromEntries(Object.entries(stageSamples[i] as Record<string, number[]>).map(([k, v]) => [k, summarize(v)]))
            : undefined;
        const o = side.variant.session;
        const partial = {
          variant: side.variant.label,
          device: formatDevice(o.device ?? { kind: 'cpu' }),
          provider: side.opened.provider,
          ...(side.opened.fellBack ? { fellBack: side.opened.fellBack } : {}),
          threads: o.threads ? o.threads : null,
          graphOptimization: o.graphOptimization ?? 'all',
          batch: w.items,
          inputs: w.inputs.map((t) => ({ name: t.name, type: t.type, dims: t.dims, fill: t.fill })),
        };
        results.push({
          ...partial,
          sessionCreateMs: side.opened.createMs,
          warmup,
          latencyMs,
          throughput: throughput(w.items, latencyMs.mean),
          ...(stages ? { stages } : {}),
          // Both sides of --vs share one process: its growth over the interleaved runs is theirs together.
          memory: { rssAfterSessionBytes: side.rssAfterSession, growthBytes: rssEnd - (rssStart[i] as number), peakRssBytes: peak },
          key: configKey(partial, w.kind),
        });
      }
      if (sides.length === 2) {
        const [a, b] = results.slice(-2) as [ConfigResult, ConfigResult];
        comparisons.push({
          batch,
          base: a.variant,
          other: b.variant,
          p50Ratio: b.latencyMs.p50 / a.latencyMs.p50,
          meanRatio: b.latencyMs.mean / a.latencyMs.mean,
          throughputRatio: b.throughput / a.throughput,
        });
      }
    }
  } finally {
    for (const side of sides) await side.opened.session.release().catch(() => {});
  }
  return {
    host,
    mode: {
      warmup,
      ...(iterations !== undefined ? { iterations } : {}),
      ...(options.durationMs !== undefined ? { durationMs: options.durationMs } : {}),
      seed,
    },
    results,
    comparisons,
    notes: [...new Set(notes)],
  };
}
