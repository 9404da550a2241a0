import { createHash, randomBytes } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { link, lstat, mkdir, readFile, readlink, symlink, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ModelctlError } from '../errors.js';
import { isEnoent } from './fsutil.js';
import type { Layout } from './layout.js';

/**
 * The inter-process lock that every mutation of the registry holds.
 *
 * The lock is a symbolic link created with symlink(2), whose target text records the holder: it appears atomically,
 * complete, or not at all, and it needs no free space. A short target (under 60 bytes) lives inside the inode on
 * ext4, xfs and tmpfs, so the lock can be taken on a 100 % full filesystem, where rm and gc must still run to free
 * it. (A file written and then linked into place, as before, needs a data block; so does mkdir on ext4.) Where
 * symbolic links cannot be made (Windows without the privilege, FAT), the same text is written to a temporary file
 * that is link(2)ed into place instead; both forms exclude each other, since either fails when the name exists.
 *
 * The text names the holder's pid and where that pid means something (a hash of the host name plus, on Linux, the
 * pid namespace, so containers sharing a home do not judge each other's pids). Node has no flock(2), so a holder
 * killed with SIGKILL leaves its lock behind: a waiter that finds the recorded pid dead breaks it. Breaking takes a
 * second, short-lived lock (`lock.break`, made the same way), re-reads the holder under it and removes the lock
 * only if it is still the dead holder's; so two waiters that both saw the same dead holder cannot remove a live
 * lock. Holders elsewhere (a shared filesystem) are presumed dead only after `foreignStaleMs`.
 */

export interface LockInfo {
  pid: number;
  /** Where the pid is meaningful: LOCK_HOST_ID (or LOCK_HOST, in a lock written by an older modelctl). */
  host: string;
  token: string;
  since: string;
  purpose: string;
}

export interface LockOptions {
  /** How long to wait for another process's lock before failing (LOCK_TIMEOUT). */
  timeoutMs?: number;
  /** A lock from another host older than this is presumed abandoned. */
  foreignStaleMs?: number;
  /** What the lock is taken for, recorded for the error a waiting process prints. */
  purpose?: string;
  /** Called once when the lock is busy and we start waiting. */
  onWait?: (holder: LockInfo | undefined) => void;
  /** Stops waiting (Ctrl-C). */
  signal?: AbortSignal;
}

const DEFAULT_TIMEOUT_MS = 120_000;
const DEFAULT_FOREIGN_STALE_MS = 3_600_000;
/** An unreadable lock file, or a break lock, older than this (as seen by one waiter) is debris of a crash. */
const DEBRIS_MS = 10_000;
/** ext4 keeps a symbolic link's target in the inode when it is shorter than 60 bytes. */
const INLINE_TARGET = 59;
const FORMAT = 'm1';

/** Where a pid is meaningful: the host, and on Linux the pid namespace. */
export const LOCK_HOST: string = (() => {
  try {
    return `${hostname()}/${readlinkSync('/proc/self/ns/pid')}`;
  } catch {
    return hostname();
  }
})();

/** LOCK_HOST, short enough for the lock's inline target. */
export const LOCK_HOST_ID = createHash('sha256').update(LOCK_HOST).digest('hex').slice(0, 8);

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The lock's text: `m1:pid:host-id:token:purpose`, the purpose cut so that the whole fits in the inode. */
function lockText(info: Pick<LockInfo, 'pid' | 'host' | 'token' | 'purpose'>): string {
  const head = `${FORMAT}:${info.pid}:${info.host}:${info.token}:`;
  return head + info.purpose.replace(/[^\x20-\x7e]/g, '?').slice(0, Math.max(0, INLINE_TARGET - head.length));
}

function parseLock(text: string, mtimeMs: number): LockInfo | undefined {
  const since = new Date(mtimeMs).toISOString();
  const m = /^m1:(\d+):([0-9a-f]+):([0-9a-f]+):(.*)$/s.exec(text);
  if (m) return { pid: Number(m[1]), host: m[2] as string, token: m[3] as string, since, purpose: m[4] as string };
  try {
    const info = JSON.parse(text) as LockInfo; // a lock file written by an older modelctl
    if (typeof info.pid === 'number' && typeof info.token === 'string') return { ...info, since: info.since ?? since };
  } catch {
    // unreadable: the caller treats it as debris once it has stayed so for a while
  }
  return undefined;
}

/** Codes with which symlink(2) says "not here" rather than "the name is taken". */
const NO_SYMLINKS = new Set(['EPERM', 'ENOSYS', 'ENOTSUP', 'EOPNOTSUPP']);

/** Creates `path` holding `text`, atomically; false when the name is taken. */
async function createMarker(layout: Layout, path: string, text: string): Promise<boolean> {
  try {
    await symlink(text, path, 'file');
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') return false;
    if (!NO_SYMLINKS.has(code)) throw err;
  }
  await mkdir(layout.tmpDir, { recursive: true });
  const staged = join(layout.tmpDir, `lock.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  await writeFile(staged, text);
  try {
    await link(staged, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(staged).catch(() => {});
  }
}

type HolderRead =
  | { state: 'missing' }
  | { state: 'unreadable'; ino: number }
  | { state: 'held'; info: LockInfo; ino: number; mtimeMs: number };

async function readHolder(path: string): Promise<HolderRead> {
  try {
    const st = await lstat(path);
    const text = st.isSymbolicLink() ? await readlink(path) : await readFile(path, 'utf8');
    const info = parseLock(text, st.mtimeMs);
    return info ? { state: 'held', info, ino: st.ino, mtimeMs: st.mtimeMs } : { state: 'unreadable', ino: st.ino };
  } catch (err) {
    if (isEnoent(err)) return { state: 'missing' };
    throw err;
  }
}

function isOurHost(host: string): boolean {
  return host === LOCK_HOST_ID || host === LOCK_HOST;
}

function isDead(holder: LockInfo, mtimeMs: number, foreignStaleMs: number): boolean {
  if (isOurHost(holder.host)) return !pidAlive(holder.pid);
  return Date.now() - mtimeMs > foreignStaleMs;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Takes `lock.break`, runs `fn`, lets go. Returns false when another breaker holds it. */
async function withBreakLock(layout: Layout, fn: () => Promise<void>): Promise<boolean> {
  const breakFile = `${layout.lockFile}.break`;
  const text = lockText({ pid: process.pid, host: LOCK_HOST_ID, token: randomBytes(5).toString('hex'), purpose: 'break' });
  if (!(await createMarker(layout, breakFile, text))) {
    // A breaker killed mid-break leaves its file; breaking takes microseconds, so an old one is debris.
    const st = await lstat(breakFile).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > DEBRIS_MS) await unlink(breakFile).catch(() => {});
    return false;
  }
  try {
    await fn();
  } finally {
    await unlink(breakFile).catch(() => {});
  }
  return true;
}

export class LockHandle {
  constructor(
    private readonly layout: Layout,
    readonly info: LockInfo,
  ) {}

  async release(): Promise<void> {
    // Nobody removes a live holder's lock, so the lock here is ours unless a foreign waiter judged us dead.
    const holder = await readHolder(this.layout.lockFile);
    if (holder.state === 'held' && holder.info.token === this.info.token) await unlink(this.layout.lockFile).catch(() => {});
  }
}

function describeHolder(h: LockInfo | undefined): string {
  if (!h) return 'another process';
  const host = h.host === LOCK_HOST_ID ? hostname() : h.host.includes('/') ? h.host.split('/')[0] : 'another host';
  return `process ${h.pid} on ${host} (${h.purpose}, since ${h.since})`;
}

export async function acquireLock(layout: Layout, options: LockOptions = {}): Promise<LockHandle> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const foreignStaleMs = options.foreignStaleMs ?? DEFAULT_FOREIGN_STALE_MS;
  const info: LockInfo = {
    pid: process.pid,
    host: LOCK_HOST_ID,
    token: randomBytes(5).toString('hex'),
    since: new Date().toISOString(),
    purpose: options.purpose ?? 'update',
  };
  const text = lockText(info);
  // An existing home costs mkdir nothing (EEXIST), so this works on a full disk too.
  await mkdir(layout.home, { recursive: true });
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  let waited = false;
  let unreadableSince: { ino: number; at: number } | undefined;
  for (;;) {
    options.signal?.throwIfAborted();
    if (await createMarker(layout, layout.lockFile, text)) return new LockHandle(layout, { ...info, since: new Date().toISOString() });
    const holder = await readHolder(layout.lockFile);
    if (holder.state === 'missing') continue; // released between our try and our read: try again at once
    if (holder.state === 'unreadable') {
      if (unreadableSince?.ino !== holder.ino) unreadableSince = { ino: holder.ino, at: Date.now() };
      else if (Date.now() - unreadableSince.at > DEBRIS_MS) {
        await withBreakLock(layout, async () => {
          const again = await readHolder(layout.lockFile);
          if (again.state === 'unreadable' && again.ino === holder.ino) await unlink(layout.lockFile).catch(() => {});
        });
        continue;
      }
    } else if (isDead(holder.info, holder.mtimeMs, foreignStaleMs)) {
      await withBreakLock(layout, async () => {
        const again = await readHolder(layout.lockFile);
        if (again.state === 'held' && again.info.token === holder.info.token) await unlink(layout.lockFile).catch(() => {});
      });
      continue;
    }
    if (!waited) {
      waited = true;
      options.onWait?.(holder.state === 'held' ? holder.info : undefined);
    }
    if (Date.now() >= deadline) {
      const who = describeHolder(holder.state === 'held' ? holder.info : undefined);
      throw new ModelctlError('LOCK_TIMEOUT', `the registry at ${layout.home} is locked by ${who}`, {
        hint: `wait for it to finish; if no modelctl process is running, remove ${layout.lockFile}`,
      });
    }
    await sleep(delay + Math.random() * delay);
    delay = Math.min(delay * 2, 100);
  }
}

export async function withLock<T>(layout: Layout, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const handle = await acquireLock(layout, options);
  try {
    return await fn();
  } finally {
    await handle.release();
  }
}
