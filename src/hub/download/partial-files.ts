import { randomBytes } from 'node:crypto';
import { readdir, readFile, rename, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LOCK_HOST, pidAlive } from '../../registry/lock.js';

/**
 * Partial downloads that survive the process. A Hub file is downloaded into the registry's tmp folder under a name
 * derived from the checksum it must have (`pull-KIND-DIGEST.PID.RAND.part`); beside it, a small JSON sidecar says
 * how many leading bytes are on disk for sure (written, then fdatasync'ed, then recorded). A later pull that needs
 * the same content and finds such a file whose writer is dead takes it over with a rename (atomic: of two pulls
 * racing for it, one wins, the other starts afresh), hashes the recorded prefix from disk, and asks the server for
 * the rest with a Range request. The whole file is verified at the end as always. gc removes both files once they
 * are older than its grace period, like any temporary file.
 */

export interface PartialKey {
  kind: 'sha256' | 'git';
  digest: string;
  size: number;
  /** For people reading the sidecar; the content is identified by kind, digest and size. */
  repo: string;
  commit: string;
  path: string;
}

interface Sidecar {
  version: 1;
  host: string;
  pid: number;
  kind: string;
  digest: string;
  size: number;
  /** Leading bytes written and flushed to disk. */
  bytes: number;
  repo: string;
  commit: string;
  path: string;
}

export interface PartialFile {
  dataPath: string;
  sidecarPath: string;
  /** Bytes of the file that can be trusted to be there (0 for a new file). */
  bytes: number;
  key: PartialKey;
}

function base(key: PartialKey): string {
  return `pull-${key.kind}-${key.digest}`;
}

function ownPaths(tmpDir: string, key: PartialKey): { dataPath: string; sidecarPath: string } {
  const stem = join(tmpDir, `${base(key)}.${process.pid}.${randomBytes(6).toString('hex')}`);
  return { dataPath: `${stem}.part`, sidecarPath: `${stem}.json` };
}

/** A new partial file's names (nothing is created). */
export function newPartial(tmpDir: string, key: PartialKey): PartialFile {
  return { ...ownPaths(tmpDir, key), bytes: 0, key };
}

function usable(s: Partial<Sidecar>, key: PartialKey, pid: number): boolean {
  return (
    s.version === 1 &&
    s.host === LOCK_HOST &&
    s.pid === pid &&
    s.kind === key.kind &&
    s.digest === key.digest &&
    s.size === key.size &&
    Number.isSafeInteger(s.bytes) &&
    (s.bytes as number) >= 0 &&
    (s.bytes as number) <= key.size
  );
}

/** Takes over a partial file a dead process left for this content, if there is one. */
export async function claimPartial(tmpDir: string, key: PartialKey): Promise<PartialFile | undefined> {
  let names: string[];
  try {
    names = await readdir(tmpDir);
  } catch {
    return undefined;
  }
  const prefix = `${base(key)}.`;
  for (const name of names) {
    const m = /\.(\d+)\.[0-9a-f]+\.part$/.exec(name);
    if (!name.startsWith(prefix) || !m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    const sidecar = join(tmpDir, name.replace(/\.part$/, '.json'));
    let s: Partial<Sidecar>;
    try {
      s = JSON.parse(await readFile(sidecar, 'utf8')) as Partial<Sidecar>;
    } catch {
      continue;
    }
    if (!usable(s, key, pid)) continue;
    const own = ownPaths(tmpDir, key);
    try {
      await rename(join(tmpDir, name), own.dataPath);
    } catch {
      continue; // another pull took it first
    }
    const now = new Date();
    await utimes(own.dataPath, now, now).catch(() => {});
    try {
      await rename(sidecar, own.sidecarPath);
    } catch {
      return { ...own, bytes: 0, key };
    }
    return { ...own, bytes: s.bytes as number, key };
  }
  return undefined;
}

/** Records that `bytes` leading bytes are on disk (call only after they were fdatasync'ed). */
export async function recordPartial(p: PartialFile, bytes: number): Promise<void> {
  const s: Sidecar = {
    version: 1,
    host: LOCK_HOST,
    pid: process.pid,
    kind: p.key.kind,
    digest: p.key.digest,
    size: p.key.size,
    bytes,
    repo: p.key.repo,
    commit: p.key.commit,
    path: p.key.path,
  };
  const staged = `${p.sidecarPath}.w`;
  await writeFile(staged, JSON.stringify(s));
  await rename(staged, p.sidecarPath);
}
