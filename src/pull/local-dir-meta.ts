import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fsError } from '../errors.js';

/**
 * The bookkeeping `hf download --local-dir` leaves in the folder, so that huggingface_hub (and the `hf` command)
 * finds the files modelctl wrote there up to date instead of downloading or hashing them again:
 * `.cache/huggingface/download/PATH.metadata` holding the commit, the file's etag (the sha256 of an LFS file, the git
 * blob id of another) and the time it was written (a file changed after that time is hashed again), plus the
 * folder's `.gitignore` (`*`) and `CACHEDIR.TAG` (backup tools skip the folder).
 */

const CACHEDIR_TAG =
  'Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by modelctl (as huggingface_hub does).\n';

export async function writeLocalDirMetadata(
  dir: string,
  commit: string,
  files: ReadonlyArray<{ path: string; etag: string }>,
): Promise<void> {
  const root = join(dir, '.cache', 'huggingface');
  try {
    await mkdir(root, { recursive: true });
    await writeFile(join(root, '.gitignore'), '*');
    await writeFile(join(root, 'CACHEDIR.TAG'), CACHEDIR_TAG);
    for (const f of files) {
      const meta = join(root, 'download', ...`${f.path}.metadata`.split('/'));
      await mkdir(dirname(meta), { recursive: true });
      // Written after the file itself, so its modification time is not later than this timestamp.
      await writeFile(meta, `${commit}\n${f.etag}\n${Date.now() / 1000}\n`);
    }
  } catch (err) {
    throw fsError(err, root, 'write');
  }
}
