import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat } from 'node:fs/promises';

/** What a file's content must hash to: a sha256 (LFS files, registry blobs) or a git blob id (small Hub files). */
export interface ExpectedContent {
  size: number;
  sha256?: string;
  gitOid?: string;
}

/**
 * Whether the regular file at `path` holds exactly the expected content: the size first (a stat), then one read
 * hashing with what the expectation names. A missing path is `absent`; a folder, a symlink or other content is
 * `different`.
 */
export async function compareFile(path: string, expected: ExpectedContent): Promise<'absent' | 'same' | 'different'> {
  const st = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!st) return 'absent';
  if (!st.isFile() || st.size !== expected.size) return 'different';
  const sha256 = expected.sha256 ? createHash('sha256') : undefined;
  const sha1 = expected.gitOid ? createHash('sha1').update(`blob ${st.size}\0`) : undefined;
  if (!sha256 && !sha1) return 'different';
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    sha256?.update(chunk as Buffer);
    sha1?.update(chunk as Buffer);
  }
  const same = (!sha256 || sha256.digest('hex') === expected.sha256) && (!sha1 || sha1.digest('hex') === expected.gitOid);
  return same ? 'same' : 'different';
}

/** The expectation an HF cache blob name (etag) states: 64 hex digits are a sha256, 40 a git blob id. */
export function expectedFromEtag(etag: string, size: number): ExpectedContent {
  return etag.length === 64 ? { size, sha256: etag } : { size, gitOid: etag };
}
