import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelctlError, ioError } from '../errors.js';
import { isEnoent, writeFileAtomic } from '../registry/fsutil.js';
import type { Layout } from '../registry/layout.js';
import type { Manifest } from '../registry/manifest.js';
import type { ConfigResult, HostInfo } from './runner.js';
import type { LatencyStats } from './stats.js';

/**
 * Baselines live beside the version they measure: <home>/bench/<model>/<version>/<config key>.json. Manifests are
 * sealed, so figures that change with every run cannot go into them; rm and gc remove a version's baselines with
 * it. Each file is replaced atomically, so a reader sees the old baseline or the new one.
 */

export const BASELINE_SCHEMA = 1;

export interface Baseline {
  schema: number;
  model: string;
  version: string;
  /** The manifest digest: a baseline of a version that was removed and registered again is not trusted. */
  digest: string | null;
  key: string;
  savedAt: string;
  host: HostInfo;
  config: Pick<ConfigResult, 'device' | 'provider' | 'threads' | 'graphOptimization' | 'batch' | 'inputs'>;
  latencyMs: LatencyStats;
  throughput: number;
  sessionCreateMs: number;
}

export interface GateVerdict {
  key: string;
  variant: string;
  batch: number;
  /** The statistic compared: the median, the figure least moved by a stray slow run. */
  metric: 'p50';
  baselineMs: number;
  currentMs: number;
  /** current / baseline. */
  ratio: number;
  tolerance: number;
  regressed: boolean;
  savedAt: string;
  /** Host facts that differ from the baseline's (CPU, onnxruntime, ...): the comparison may not be fair. */
  hostChanges: string[];
}

export function baselinePath(layout: Layout, manifest: Pick<Manifest, 'name' | 'version'>, key: string): string {
  return join(layout.benchVersionDir(manifest.name, manifest.version), `${key}.json`);
}

export function toBaseline(manifest: Manifest, host: HostInfo, r: ConfigResult, now: Date): Baseline {
  return {
    schema: BASELINE_SCHEMA,
    model: manifest.name,
    version: manifest.version,
    digest: manifest.digest ?? null,
    key: r.key,
    savedAt: now.toISOString(),
    host,
    config: {
      device: r.device,
      provider: r.provider,
      threads: r.threads,
      graphOptimization: r.graphOptimization,
      batch: r.batch,
      inputs: r.inputs,
    },
    latencyMs: r.latencyMs,
    throughput: r.throughput,
    sessionCreateMs: r.sessionCreateMs,
  };
}

export async function saveBaseline(layout: Layout, baseline: Baseline): Promise<string> {
  const path = baselinePath(layout, { name: baseline.model, version: baseline.version }, baseline.key);
  try {
    await writeFileAtomic(path, `${JSON.stringify(baseline, null, 2)}\n`, { tmpDir: layout.tmpDir });
  } catch (err) {
    throw ioError(err, path);
  }
  return path;
}

/** The stored baseline of one configuration, or undefined when none was saved. */
export async function loadBaseline(layout: Layout, manifest: Manifest, key: string): Promise<Baseline | undefined> {
  const path = baselinePath(layout, manifest, key);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (isEnoent(err)) return undefined;
    throw ioError(err, path);
  }
  const hint = `save a new one: \`modelctl bench ${manifest.name}:${manifest.version} --save-baseline\` with the same flags`;
  let b: Baseline;
  try {
    b = JSON.parse(text) as Baseline;
  } catch {
    throw new ModelctlError('INTEGRITY', `the benchmark baseline ${path} is not valid JSON`, { hint });
  }
  if (b?.schema !== BASELINE_SCHEMA || b.key !== key || typeof b.latencyMs?.p50 !== 'number' || !(b.latencyMs.p50 > 0)) {
    throw new ModelctlError(
      'INTEGRITY',
      `the benchmark baseline ${path} is not one modelctl ${BASELINE_SCHEMA === b?.schema ? 'wrote for this configuration' : 'can read'}`,
      { hint },
    );
  }
  // A version removed and registered again under the same number is another model: its old figures do not apply.
  if (manifest.digest && b.digest && b.digest !== manifest.digest) return undefined;
  return b;
}

const HOST_FACTS: Array<keyof HostInfo> = ['cpu', 'cores', 'platform', 'arch', 'onnxruntime', 'node'];

/** Slower than the baseline by more than `tolerance` (a fraction) on the median latency is a regression. */
export function compareToBaseline(r: ConfigResult, b: Baseline, host: HostInfo, tolerance: number): GateVerdict {
  const ratio = r.latencyMs.p50 / b.latencyMs.p50;
  return {
    key: r.key,
    variant: r.variant,
    batch: r.batch,
    metric: 'p50',
    baselineMs: b.latencyMs.p50,
    currentMs: r.latencyMs.p50,
    ratio,
    tolerance,
    regressed: ratio > 1 + tolerance,
    savedAt: b.savedAt,
    hostChanges: HOST_FACTS.filter((k) => String(b.host?.[k]) !== String(host[k])).map(
      (k) => `${k}: ${String(b.host?.[k])} -> ${String(host[k])}`,
    ),
  };
}
