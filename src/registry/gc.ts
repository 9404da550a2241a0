import { readdir, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isEnoent } from './fsutil.js';
import { withLock, type LockOptions } from './lock.js';
import type { Manifest } from './manifest.js';
import { LATEST, decodeName } from './names.js';
import { dropVersions, referencedDigests, removeFile, sweepBlobs } from './mutate.js';
import type { Store } from './store.js';
import { sweepViews } from './views.js';

export interface GcOptions {
  /** Evict least-recently-used versions until the blobs they use fit in this many bytes. */
  maxSize?: number;
  /** Keep at most this many model versions. */
  maxModels?: number;
  /** Evict versions not used (or, never used, not created) for this long, in ms. */
  olderThanMs?: number;
  /** Never evict a version an alias other than `latest` points at (default true). */
  keepAliased?: boolean;
  dryRun?: boolean;
  /** Temporary files younger than this are left alone: another process may be writing them (default 1 h). */
  graceMs?: number;
  clock?: () => Date;
  lock?: LockOptions;
}

export interface EvictedVersion {
  name: string;
  version: string;
  size: number;
  lastUsed: string | null;
  reason: 'older-than' | 'max-models' | 'max-size';
}

export interface GcResult {
  dryRun: boolean;
  evicted: EvictedVersion[];
  blobsRemoved: number;
  blobBytes: number;
  tmpRemoved: number;
  tmpBytes: number;
  /** Bytes freed in all (blobs and temporary files). */
  bytesFreed: number;
  /** Versions and bytes left after gc. */
  versionsLeft: number;
  bytesLeft: number;
  /** Manifests gc could not read; their blobs were kept. */
  unreadable: string[];
}

export const DEFAULT_GRACE_MS = 60 * 60 * 1000;

interface Candidate {
  manifest: Manifest;
  lastUse: number;
  protected: boolean;
}

/** Picks versions to evict: older-than first, then LRU until the count and size limits hold. */
function chooseEvictions(candidates: Candidate[], options: GcOptions, now: number): EvictedVersion[] {
  const lru = [...candidates].sort((a, b) => a.lastUse - b.lastUse);
  const refCount = new Map<string, number>();
  const sizes = new Map<string, number>();
  for (const c of candidates) for (const f of c.manifest.files) {
    refCount.set(f.sha256, (refCount.get(f.sha256) ?? 0) + 1);
    sizes.set(f.sha256, f.size);
  }
  let bytes = [...sizes.values()].reduce((a, b) => a + b, 0);
  let count = candidates.length;
  const evicted: EvictedVersion[] = [];
  const evict = (c: Candidate, reason: EvictedVersion['reason']): void => {
    for (const f of c.manifest.files) {
      const left = (refCount.get(f.sha256) ?? 1) - 1;
      refCount.set(f.sha256, left);
      if (left === 0) bytes -= f.size; // shared blobs are only freed with their last user
    }
    count--;
    evicted.push({
      name: c.manifest.name,
      version: c.manifest.version,
      size: c.manifest.size,
      lastUsed: Number.isFinite(c.lastUse) ? new Date(c.lastUse).toISOString() : null,
      reason,
    });
  };
  const rest: Candidate[] = [];
  for (const c of lru) {
    if (!c.protected && options.olderThanMs !== undefined && now - c.lastUse > options.olderThanMs) evict(c, 'older-than');
    else rest.push(c);
  }
  for (const c of rest) {
    if (c.protected) continue;
    if (options.maxModels !== undefined && count > options.maxModels) evict(c, 'max-models');
    else if (options.maxSize !== undefined && bytes > options.maxSize) evict(c, 'max-size');
  }
  return evicted;
}

export interface TmpScan {
  /** Files older than the grace period: what a crash left behind. */
  stale: Array<{ path: string; size: number }>;
  /** Files younger than it: another process may be writing them. */
  active: number;
}

/** Sorts the tmp folder into stale and active files by the grace period (gc deletes the first, validate counts). */
export async function scanTmp(store: Store, graceMs: number, now: number): Promise<TmpScan> {
  const out: TmpScan = { stale: [], active: 0 };
  let names: string[];
  try {
    names = await readdir(store.layout.tmpDir);
  } catch (err) {
    if (isEnoent(err)) return out;
    throw err;
  }
  for (const n of names) {
    const path = join(store.layout.tmpDir, n);
    try {
      const st = await stat(path);
      if (!st.isFile()) continue;
      if (now - st.mtimeMs < graceMs) out.active++;
      else out.stale.push({ path, size: st.size });
    } catch (err) {
      if (!isEnoent(err)) throw err;
    }
  }
  return out;
}

/** Removes temporary files older than the grace period; returns how many and their bytes. */
async function sweepTmp(store: Store, graceMs: number, now: number, dryRun: boolean): Promise<{ files: number; bytes: number }> {
  const { stale } = await scanTmp(store, graceMs, now);
  if (!dryRun) for (const f of stale) await removeFile(f.path);
  return { files: stale.length, bytes: stale.reduce((n, f) => n + f.size, 0) };
}

/**
 * Usage records and benchmark baselines of versions that no longer exist (a predict or bench that raced an rm)
 * are dropped. Both are kept per model folder, one entry per version.
 */
async function sweepPerVersion(store: Store, dir: string, live: Set<string>, dryRun: boolean): Promise<void> {
  let folders: string[];
  try {
    folders = await readdir(dir);
  } catch (err) {
    if (isEnoent(err)) return;
    throw err;
  }
  for (const folder of folders) {
    const name = decodeName(folder);
    const versions = await readdir(join(dir, folder)).catch(() => [] as string[]);
    const stale = versions.filter((v) => !live.has(`${name}:${v}`));
    if (dryRun) continue;
    for (const v of stale) await rm(join(dir, folder, v), { recursive: true, force: true });
    if (stale.length === versions.length) await rmdir(join(dir, folder)).catch(() => {});
  }
}

/**
 * Mark and sweep under the registry lock. Marks every blob any manifest references (including, conservatively,
 * any digest an unreadable manifest mentions), evicts versions by the limits given, then sweeps unmarked blobs,
 * temporary files past the grace period, and stale usage records. Safe beside running modelctl processes: writers
 * place blobs and manifests only under the same lock, and their temporary files are younger than the grace period.
 */
export async function collectGarbage(store: Store, options: GcOptions = {}): Promise<GcResult> {
  const clock = options.clock ?? (() => new Date());
  const dryRun = options.dryRun ?? false;
  return withLock(
    store.layout,
    async () => {
      const now = clock().getTime();
      const { manifests, failures } = await store.manifests();
      const raw = failures.map((f) => f.text);
      const candidates: Candidate[] = [];
      const aliasCache = new Map<string, Set<string>>();
      const usage = store.lastUsedByModel(new Set(manifests.map((m) => m.name)));
      for (const m of manifests) {
        if (!aliasCache.has(m.name)) {
          const aliases = await store.aliases(m.name).catch(() => ({}) as Record<string, string>);
          aliasCache.set(m.name, new Set(Object.entries(aliases).filter(([a]) => a !== LATEST).map(([, v]) => v)));
        }
        const used = usage.get(m.name)?.get(m.version);
        candidates.push({
          manifest: m,
          lastUse: used ?? Date.parse(m.createdAt),
          protected: (options.keepAliased ?? true) && (aliasCache.get(m.name)?.has(m.version) ?? false),
        });
      }
      const evicted = chooseEvictions(candidates, options, now);
      const gone = new Set(evicted.map((e) => `${e.name}:${e.version}`));
      const kept = manifests.filter((m) => !gone.has(`${m.name}:${m.version}`));
      if (!dryRun) {
        const byName = new Map<string, string[]>();
        for (const e of evicted) byName.set(e.name, [...(byName.get(e.name) ?? []), e.version]);
        for (const [name, versions] of byName) await dropVersions(store, name, versions);
      }
      const blobs = await sweepBlobs(store, referencedDigests(kept, raw), dryRun);
      const tmp = await sweepTmp(store, options.graceMs ?? DEFAULT_GRACE_MS, now, dryRun);
      const live = new Set(kept.map((m) => `${m.name}:${m.version}`));
      await sweepPerVersion(store, store.layout.usageDir, live, dryRun);
      // A version whose manifest cannot be read still exists (the user may repair it): its baselines stay.
      await sweepPerVersion(store, store.layout.benchDir, new Set([...live, ...failures.map((f) => `${f.name}:${f.version}`)]), dryRun);
      await sweepViews(store, [...kept], dryRun);
      const liveBlobs = new Map<string, number>();
      for (const m of kept) for (const f of m.files) liveBlobs.set(f.sha256, f.size);
      return {
        dryRun,
        evicted,
        blobsRemoved: blobs.blobs,
        blobBytes: blobs.bytes,
        tmpRemoved: tmp.files,
        tmpBytes: tmp.bytes,
        bytesFreed: blobs.bytes + tmp.bytes,
        versionsLeft: kept.length + failures.length,
        bytesLeft: [...liveBlobs.values()].reduce((a, b) => a + b, 0),
        unreadable: failures.map((f) => `${f.name}:${f.version}`),
      };
    },
    { purpose: 'gc', ...options.lock },
  );
}
