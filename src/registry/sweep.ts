import { lstat, readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isEnoent } from './fsutil.js';
import { pidAlive } from './lock.js';
import { decodeName } from './names.js';
import type { Store } from './store.js';

/**
 * What a killed process can leave outside the manifests, found the same way by gc (which removes it, under the
 * lock) and by validate (which counts it, with dryRun): temporary files and folders, usage records and benchmark
 * baselines of versions that are gone, and model folders that hold no version. Orphan blobs and views are swept
 * beside these (mutate.ts, views.ts).
 */

export interface TmpEntry {
  path: string;
  /** Bytes removing it frees: a folder's files that have no other link (a pull's staging folder links blobs). */
  size: number;
}

export interface TmpScan {
  /** Entries older than the grace period whose writer is not running: what a crash left behind. */
  stale: TmpEntry[];
  /** Entries another process may still be writing or using. */
  active: number;
}

/**
 * The writer's pid in a temporary name: `tempName` gives `prefix.PID.RANDOM.tmp`, a partial download
 * `….PID.RANDOM.part` and `.json`. The pid is a liveness mark: a live writer's entry is kept whatever its age (a
 * pull that waits for the lock, a view being built, an upload being received), so even `gc --grace 0` leaves it.
 * It never makes an entry go sooner: a pid that looks dead here may be alive in another pid namespace.
 */
export function writerPid(name: string): number | undefined {
  const m = /\.(\d{1,10})\.[0-9a-f]{6,}(?:\.[A-Za-z]+)?$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/**
 * The newest mtime in a tree and the bytes its removal frees. A file with another link (a staging folder's link to
 * a blob or to a download) is dated by the folder it was linked into: its own mtime is its content's.
 */
async function measure(path: string): Promise<{ mtimeMs: number; size: number }> {
  const st = await lstat(path);
  if (!st.isDirectory()) return st.nlink <= 1 ? { mtimeMs: st.mtimeMs, size: st.size } : { mtimeMs: 0, size: 0 };
  let mtimeMs = st.mtimeMs;
  let size = 0;
  for (const n of await readdir(path).catch(() => [] as string[])) {
    const inner = await measure(join(path, n)).catch((err: unknown) => {
      if (isEnoent(err)) return { mtimeMs: 0, size: 0 };
      throw err;
    });
    mtimeMs = Math.max(mtimeMs, inner.mtimeMs);
    size += inner.size;
  }
  return { mtimeMs, size };
}

/** Sorts tmp/'s entries (files and folders) into stale and active by the grace period and the writer's pid. */
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
      const top = await lstat(path);
      // A file here is dated by its own mtime even when linked elsewhere (a download a pull is committing).
      const { mtimeMs, size } = top.isDirectory() ? await measure(path) : { mtimeMs: top.mtimeMs, size: top.size };
      const pid = writerPid(n);
      if (now - mtimeMs < graceMs || (pid !== undefined && pidAlive(pid))) out.active++;
      else out.stale.push({ path, size });
    } catch (err) {
      if (!isEnoent(err)) throw err;
    }
  }
  return out;
}

/** Removes stale temporary entries; returns how many and the bytes freed. */
export async function sweepTmp(store: Store, graceMs: number, now: number, dryRun: boolean): Promise<{ entries: number; bytes: number }> {
  const { stale } = await scanTmp(store, graceMs, now);
  if (!dryRun) for (const e of stale) await rm(e.path, { recursive: true, force: true });
  return { entries: stale.length, bytes: stale.reduce((n, e) => n + e.size, 0) };
}

/**
 * Usage records and benchmark baselines of versions that do not exist (a predict or bench that raced an rm, a kill
 * in the middle of one) are dropped. Both are kept per model folder, one entry per version. Returns how many.
 */
export async function sweepPerVersion(dir: string, exists: Set<string>, dryRun: boolean): Promise<number> {
  let folders: string[];
  try {
    folders = await readdir(dir);
  } catch (err) {
    if (isEnoent(err)) return 0;
    throw err;
  }
  let count = 0;
  for (const folder of folders) {
    const name = decodeName(folder);
    const versions = await readdir(join(dir, folder)).catch(() => [] as string[]);
    const stale = versions.filter((v) => !exists.has(`${name}:${v}`));
    count += stale.length;
    if (dryRun) continue;
    for (const v of stale) await rm(join(dir, folder, v), { recursive: true, force: true });
    if (stale.length === versions.length) await rmdir(join(dir, folder)).catch(() => {});
  }
  return count;
}

/**
 * Model folders without a single version: what a kill leaves between removing the last manifest and the folder
 * (or between making the folder and linking the first manifest). list and rm cannot see them, yet they stand in
 * the way of a name differing only in case. Removed under the lock, where no commit is half done.
 */
export async function sweepEmptyModels(store: Store, dryRun: boolean): Promise<string[]> {
  const empty: string[] = [];
  for (const name of await store.names()) {
    if ((await store.versions(name)).length > 0) continue;
    empty.push(name);
    if (!dryRun) await rm(store.layout.modelDir(name), { recursive: true, force: true });
  }
  return empty;
}
