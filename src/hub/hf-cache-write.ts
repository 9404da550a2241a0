import { chmod, lstat, mkdir, readdir, readlink, rename, stat, symlink, unlink } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { tempName, writeFileAtomic } from '../registry/fsutil.js';
import { kernelCopy } from '../util/fs.js';
import { compareFile, expectedFromEtag } from './local-digest.js';
import { isCommitId } from './pull-source.js';

/**
 * Write-through into the Hugging Face cache (`pull --hf-cache`, MODELCTL_HF_CACHE_WRITE=1), in the layout
 * huggingface_hub reads (hf-cache.ts): blobs/ETAG (the LFS sha256, else the git blob id), snapshots/COMMIT/PATH as
 * a relative symlink to ../../blobs/ETAG, refs/REVISION holding the commit. Every name appears whole or not at all
 * (a temporary name, then rename); a blob already there is kept only if its size and digest are right, otherwise
 * it is replaced. A temporary blob a killed write left behind (ours only: ETAG.modelctl.PID.HEX.tmp.incomplete) is
 * removed by the next write into the repo's folder once it is an hour old and its process is gone, or a day old.
 */

export interface CacheFile {
  path: string;
  etag: string;
  size: number;
  /** Where the bytes are now (a registry blob): copied (a reflink where the filesystem has them), never linked. */
  source: string;
}

export interface CacheWriteReport {
  /** Blobs written (new or replacing a damaged one), and the damaged ones among them. */
  written: string[];
  replaced: string[];
}

async function placeBlob(blob: string, f: CacheFile): Promise<'kept' | 'written' | 'replaced'> {
  const state = await compareFile(blob, expectedFromEtag(f.etag, f.size));
  if (state === 'same') return 'kept';
  const tmp = `${blob}.${tempName('modelctl')}.incomplete`;
  await mkdir(dirname(blob), { recursive: true });
  try {
    await kernelCopy(f.source, tmp);
    await chmod(tmp, 0o644);
    await rename(tmp, blob);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  return state === 'absent' ? 'written' : 'replaced';
}

async function placeLink(link: string, blob: string): Promise<void> {
  const target = relative(dirname(link), blob);
  const current = await lstat(link).catch(() => undefined);
  if (current?.isSymbolicLink() && (await readlink(link)) === target) return;
  await mkdir(dirname(link), { recursive: true });
  const tmp = join(dirname(link), `.${tempName('modelctl-link')}`);
  await symlink(target, tmp);
  try {
    await rename(tmp, link);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

const OURS = /\.modelctl\.(\d+)\.[0-9a-f]{12}\.tmp\.incomplete$/;
const HOUR_MS = 3600 * 1000;
const DAY_MS = 24 * HOUR_MS;

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the temporary blobs killed writes left in `blobs/` (see above); the names removed. */
export async function sweepIncomplete(blobs: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(blobs).catch(() => [] as string[])) {
    const m = OURS.exec(name);
    if (!m) continue;
    const st = await stat(join(blobs, name)).catch(() => undefined);
    // A pid means something only on this host and in this pid namespace (a cache shared by containers or over NFS):
    // a file is never taken younger than an hour, and a day old it is taken whoever wrote it.
    if (!st) continue;
    const age = Date.now() - st.mtimeMs;
    if (age < HOUR_MS || (running(Number(m[1])) && age < DAY_MS)) continue;
    await unlink(join(blobs, name)).then(
      () => removed.push(name),
      () => {},
    );
  }
  return removed;
}

/** Writes `files` of `commit` into the repo's cache folder (repoCacheDir), and refs/REVISION when it is a name. */
export async function writeHfCache(repoDir: string, commit: string, revision: string, files: CacheFile[]): Promise<CacheWriteReport> {
  const report: CacheWriteReport = { written: [], replaced: [] };
  await sweepIncomplete(join(repoDir, 'blobs'));
  for (const f of files) {
    const blob = join(repoDir, 'blobs', f.etag);
    const placed = await placeBlob(blob, f);
    if (placed !== 'kept') report.written.push(f.path);
    if (placed === 'replaced') report.replaced.push(f.path);
    await placeLink(join(repoDir, 'snapshots', commit, ...f.path.split('/')), blob);
  }
  if (!isCommitId(revision)) await writeFileAtomic(join(repoDir, 'refs', ...revision.split('/')), commit);
  return report;
}
