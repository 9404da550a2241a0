import { lstat, readFile, readdir, readlink, stat } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import { isCommitId } from './pull-source.js';

/**
 * The Hugging Face cache as huggingface_hub lays it out (read here; hf-cache-write.ts writes it):
 *   $HF_HUB_CACHE (default $HF_HOME/hub, default ~/.cache/huggingface/hub)/models--ORG--NAME/ (datasets--, spaces--)
 *     refs/REV                 the commit a branch or tag pointed at when last downloaded
 *     snapshots/COMMIT/PATH -> ../../blobs/ETAG   (ETAG: the sha256 for LFS files, the git blob id otherwise)
 * Because blobs are named by content, a file is found for any commit that holds the same content.
 */

export type RepoType = 'model' | 'dataset' | 'space';
export const REPO_TYPES: readonly RepoType[] = ['model', 'dataset', 'space'];

/** The repo's folder in the cache: models--ORG--NAME (datasets--, spaces--). */
export function repoCacheDir(cacheDir: string, repo: string, type: RepoType = 'model'): string {
  return join(cacheDir, `${type}s--${repo.split('/').join('--')}`);
}

/** The commit a revision means according to the cache (a commit id means itself), or undefined. */
export async function cachedCommit(repoDir: string, revision: string): Promise<string | undefined> {
  if (isCommitId(revision)) return revision;
  try {
    const text = (await readFile(join(repoDir, 'refs', revision), 'utf8')).trim();
    return isCommitId(text) ? text : undefined;
  } catch {
    return undefined;
  }
}

/** The cached blob with this etag, if it is a regular file of the expected size. */
export async function cachedBlob(repoDir: string, etag: string, size?: number): Promise<string | undefined> {
  if (!/^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(etag)) return undefined;
  const path = join(repoDir, 'blobs', etag);
  try {
    const st = await stat(path);
    return st.isFile() && (size === undefined || st.size === size) ? path : undefined;
  } catch {
    return undefined;
  }
}

export interface SnapshotFile {
  path: string;
  abs: string;
  /** The blob's name: what the file's content must hash to (sha256 or git blob id, by length). */
  etag: string;
  size: number;
}

/** The files of a cached snapshot (offline mode), with the etag each one links to. */
export async function snapshotFiles(repoDir: string, commit: string): Promise<SnapshotFile[] | undefined> {
  const root = join(repoDir, 'snapshots', commit);
  const out: SnapshotFile[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const abs = join(dir, entry.name);
      const path = rel ? posix.join(rel, entry.name) : entry.name;
      if (entry.isDirectory()) await walk(abs, path);
      else if (entry.isSymbolicLink()) {
        const target = await readlink(abs);
        const st = await stat(abs).catch(() => undefined);
        if (st?.isFile()) out.push({ path, abs, etag: basename(target), size: st.size });
      } else if (entry.isFile()) {
        // Windows without symlinks: huggingface_hub copies the file; there is no etag to check it against.
        out.push({ path, abs, etag: '', size: (await lstat(abs)).size });
      }
    }
  };
  try {
    await walk(root, '');
  } catch {
    return undefined;
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
