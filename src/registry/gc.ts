import { withLock, type LockOptions } from './lock.js';
import type { Manifest } from './manifest.js';
import { LATEST } from './names.js';
import { dropVersions, referencedDigests, sweepBlobs, tidyModel } from './mutate.js';
import type { Store } from './store.js';
import { sweepEmptyModels, sweepPerVersion, sweepTmp } from './sweep.js';
import { sweepViews } from './views.js';

export { scanTmp, type TmpScan } from './sweep.js';

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
  /**
   * Temporary files and folders younger than this are left alone: another process may be writing them (default
   * 1 h). Those whose writer is still running (their name carries its pid) are left alone whatever their age.
   */
  graceMs?: number;
  clock?: () => Date;
  lock?: LockOptions;
}

export interface EvictedVersion {
  name: string;
  version: string;
  size: number;
  /** When it was last used (predict, serve, bench), as list shows it; null when never. */
  lastUsed: string | null;
  /** When it was registered: what ranks a never-used version in the least-recently-used order. */
  createdAt: string;
  reason: 'older-than' | 'max-models' | 'max-size';
}

export interface GcResult {
  dryRun: boolean;
  evicted: EvictedVersion[];
  blobsRemoved: number;
  blobBytes: number;
  /** Temporary files and folders (a killed pull's staging folder, a view being built, an upload). */
  tmpRemoved: number;
  tmpBytes: number;
  /** Views of versions that are gone. */
  viewsRemoved: number;
  /** Usage records and benchmark baselines of versions that are gone. */
  recordsRemoved: number;
  /** Model folders that held no version (what a kill in the middle of a removal leaves). */
  emptyModelsRemoved: string[];
  /** Aliases that named a missing version, as name@alias: dropped (latest: moved to the newest version). */
  aliasesFixed: string[];
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
  /** The last use, or the creation time of a version never used: the LRU order. */
  lastUse: number;
  used: number | undefined;
  protected: boolean;
}

/** Picks versions to evict: older-than first, then LRU until the count and size limits hold. */
function chooseEvictions(candidates: Candidate[], options: GcOptions, now: number): EvictedVersion[] {
  const lru = [...candidates].sort((a, b) => a.lastUse - b.lastUse);
  const refCount = new Map<string, number>();
  const sizes = new Map<string, number>();
  for (const c of candidates)
    for (const f of c.manifest.files) {
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
      lastUsed: c.used === undefined ? null : new Date(c.used).toISOString(),
      createdAt: c.manifest.createdAt,
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

/**
 * Mark and sweep under the registry lock. Marks every blob any manifest references (including, conservatively,
 * any digest an unreadable manifest mentions), evicts versions by the limits given, then sweeps every leftover a
 * killed process can leave: unmarked blobs, temporary files and folders past the grace period, views, usage
 * records and baselines of versions that are gone, empty model folders, aliases naming a missing version. Safe
 * beside running modelctl processes: writers place blobs and manifests only under the same lock, and their
 * temporary files are younger than the grace period or carry a live pid. Needs no free space (see lock.ts and
 * dropVersions), so it can run on a full disk.
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
          aliasCache.set(
            m.name,
            new Set(
              Object.entries(aliases)
                .filter(([a]) => a !== LATEST)
                .map(([, v]) => v),
            ),
          );
        }
        const used = usage.get(m.name)?.get(m.version);
        candidates.push({
          manifest: m,
          lastUse: used ?? Date.parse(m.createdAt),
          used,
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
      // A version whose manifest cannot be read still exists (the user may repair it): its records stay.
      const exists = new Set([...kept, ...failures].map((m) => `${m.name}:${m.version}`));
      const records =
        (await sweepPerVersion(store.layout.usageDir, exists, dryRun)) + (await sweepPerVersion(store.layout.benchDir, exists, dryRun));
      const views = await sweepViews(store, [...kept], dryRun);
      const emptyModels = await sweepEmptyModels(store, dryRun);
      // Last, when the sweeps above have freed space: the only writes gc makes.
      const aliasesFixed: string[] = [];
      if (!dryRun) for (const name of await store.names()) aliasesFixed.push(...(await tidyModel(store, name)));
      const liveBlobs = new Map<string, number>();
      for (const m of kept) for (const f of m.files) liveBlobs.set(f.sha256, f.size);
      return {
        dryRun,
        evicted,
        blobsRemoved: blobs.blobs,
        blobBytes: blobs.bytes,
        tmpRemoved: tmp.entries,
        tmpBytes: tmp.bytes,
        viewsRemoved: views,
        recordsRemoved: records,
        emptyModelsRemoved: emptyModels,
        aliasesFixed,
        bytesFreed: blobs.bytes + tmp.bytes,
        versionsLeft: kept.length + failures.length,
        bytesLeft: [...liveBlobs.values()].reduce((a, b) => a + b, 0),
        unreadable: failures.map((f) => `${f.name}:${f.version}`),
      };
    },
    { purpose: 'gc', ...options.lock },
  );
}
