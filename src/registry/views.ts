import { statSync } from 'node:fs';
import { link, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { kernelCopy } from '../util/fs.js';
import { hashFile } from './blobs.js';
import { isEnoent, tempName } from './fsutil.js';
import type { Manifest } from './manifest.js';
import type { Store } from './store.js';

/**
 * A version's files under their own names, for tools that look for companions beside a model (ONNX Runtime
 * loads external data relative to the model's path; blobs are named by hash). Views are derived and disposable:
 * hard links to the read-only blobs, built in tmp/ and renamed into views/<id> whole, swept by gc when their
 * version is gone.
 */

export function viewId(m: Manifest): string {
  return m.digest.replace(/^sha256:/, '').slice(0, 32);
}

/**
 * Whether every file of a view is its blob (a hard link, which the blob's own check covers) or, where the
 * filesystem could not link, a copy that still hashes right. A file replaced inside a view would otherwise be read
 * by ONNX Runtime unseen, and a blob repaired since (a new inode) would leave the view on the damaged one.
 */
async function intact(store: Store, m: Manifest, dir: string): Promise<boolean> {
  for (const f of m.files) {
    const entry = statSync(join(dir, f.path), { bigint: true, throwIfNoEntry: false });
    if (!entry?.isFile() || entry.size !== BigInt(f.size)) return false;
    const blob = statSync(store.layout.blob(f.sha256), { bigint: true, throwIfNoEntry: false });
    if (blob && blob.ino === entry.ino && blob.dev === entry.dev) continue;
    if ((await hashFile(join(dir, f.path))).sha256 !== f.sha256) return false;
  }
  return true;
}

/** The folder holding `m`'s files by path (made on first use, rebuilt when it no longer holds them); returns it. */
export async function materialize(store: Store, m: Manifest): Promise<string> {
  const dir = join(store.layout.viewsDir, viewId(m));
  if (
    await stat(dir).then(
      (s) => s.isDirectory(),
      () => false,
    )
  ) {
    if (await intact(store, m, dir)) return dir;
    // Views are derived: a damaged one is moved out of the way whole (a reader sees it or none) and built again.
    const stale = join(store.layout.tmpDir, tempName('view'));
    await mkdir(store.layout.tmpDir, { recursive: true });
    if (
      await rename(dir, stale).then(
        () => true,
        () => false,
      )
    )
      await rm(stale, { recursive: true, force: true });
  }
  const building = join(store.layout.tmpDir, tempName('view'));
  try {
    for (const f of m.files) {
      const target = join(building, f.path);
      await mkdir(dirname(target), { recursive: true });
      try {
        await link(store.layout.blob(f.sha256), target);
      } catch (err) {
        if (isEnoent(err)) throw err;
        await kernelCopy(store.layout.blob(f.sha256), target); // no hard links here (another device, some Windows setups)
      }
    }
    await mkdir(store.layout.viewsDir, { recursive: true });
    try {
      await rename(building, dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'EPERM') throw err; // another process made it first
    }
    return dir;
  } finally {
    await rm(building, { recursive: true, force: true });
  }
}

/** Removes views whose version no longer exists (caller holds the lock); returns how many. */
export async function sweepViews(store: Store, live: Manifest[], dryRun: boolean): Promise<number> {
  const keep = new Set(live.map(viewId));
  let names: string[];
  try {
    names = await readdir(store.layout.viewsDir);
  } catch (err) {
    if (isEnoent(err)) return 0;
    throw err;
  }
  const stale = names.filter((n) => !keep.has(n));
  if (!dryRun) for (const n of stale) await rm(join(store.layout.viewsDir, n), { recursive: true, force: true });
  return stale.length;
}
