import { randomBytes } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ModelctlError } from '../errors.js';
import { isEnoent } from './fsutil.js';
import type { Layout } from './layout.js';

/**
 * The inter-process lock that every mutation of the registry holds.
 *
 * A lock file is created with link(2) from a fully written temporary file, so it appears atomically and is never
 * seen half-written. It records the holder's pid and where that pid means something (host name plus, on Linux,
 * the pid namespace, so containers sharing a home do not judge each other's pids). Node has no flock(2), so a
 * holder killed with SIGKILL leaves its file behind: a waiter that finds the recorded pid dead breaks the lock.
 * Breaking takes a second, short-lived lock (`lock.break`), re-reads the holder under it and removes the file only
 * if it is still the dead holder's; so two waiters that both saw the same dead holder cannot remove a live lock.
 * Holders elsewhere (a shared filesystem) are presumed dead only after `foreignStaleMs`.
 */

export interface LockInfo {
  pid: number;
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

/** Where a pid is meaningful: the host, and on Linux the pid namespace. */
export const LOCK_HOST: string = (() => {
  try {
    return `${hostname()}/${readlinkSync('/proc/self/ns/pid')}`;
  } catch {
    return hostname();
  }
})();

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

type HolderRead = { state: 'missing' } | { state: 'unreadable'; ino: number } | { state: 'held'; info: LockInfo; ino: number; mtimeMs: number };

async function readHolder(path: string): Promise<HolderRead> {
  try {
    const st = await stat(path);
    const text = await readFile(path, 'utf8');
    const info = JSON.parse(text) as LockInfo;
    if (typeof info.pid === 'number' && typeof info.token === 'string') return { state: 'held', info, ino: st.ino, mtimeMs: st.mtimeMs };
    return { state: 'unreadable', ino: st.ino };
  } catch (err) {
    if (isEnoent(err)) return { state: 'missing' };
    if (err instanceof SyntaxError) {
      const st = await stat(path).catch(() => undefined);
      return st ? { state: 'unreadable', ino: st.ino } : { state: 'missing' };
    }
    throw err;
  }
}

function isDead(holder: LockInfo, mtimeMs: number, foreignStaleMs: number): boolean {
  if (holder.host === LOCK_HOST) return !pidAlive(holder.pid);
  return Date.now() - mtimeMs > foreignStaleMs;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Takes `lock.break` (itself link-created), runs `fn`, lets go. Returns false when another breaker holds it. */
async function withBreakLock(layout: Layout, fn: () => Promise<void>): Promise<boolean> {
  const breakFile = `${layout.lockFile}.break`;
  const staged = join(layout.tmpDir, `lock-break.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  await writeFile(staged, String(process.pid));
  try {
    await link(staged, breakFile);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // A breaker killed mid-break leaves its file; breaking takes microseconds, so an old one is debris.
    const st = await stat(breakFile).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > DEBRIS_MS) await unlink(breakFile).catch(() => {});
    return false;
  } finally {
    await unlink(staged).catch(() => {});
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
    // Nobody removes a live holder's file, so the file here is ours unless a foreign waiter judged us dead.
    const holder = await readHolder(this.layout.lockFile);
    if (holder.state === 'held' && holder.info.token === this.info.token) await unlink(this.layout.lockFile).catch(() => {});
  }
}

export async function acquireLock(layout: Layout, options: LockOptions = {}): Promise<LockHandle> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const foreignStaleMs = options.foreignStaleMs ?? DEFAULT_FOREIGN_STALE_MS;
  await mkdir(layout.tmpDir, { recursive: true });
  const info: LockInfo = {
    pid: process.pid,
    host: LOCK_HOST,
    token: randomBytes(12).toString('hex'),
    since: new Date().toISOString(),
    purpose: options.purpose ?? 'update',
  };
  const staged = join(layout.tmpDir, `lock.${info.token}.tmp`);
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  let waited = false;
  let unreadableSince: { ino: number; at: number } | undefined;
  try {
    for (;;) {
      options.signal?.throwIfAborted();
      // Written afresh for each try: the lock file's mtime then says when it was taken, and a gc that removed
      // our staged file (it sits in tmp/) cannot make the link fail.
      await writeFile(staged, JSON.stringify({ ...info, since: new Date().toISOString() }));
      try {
        await link(staged, layout.lockFile);
        return new LockHandle(layout, info);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = await readHolder(layout.lockFile);
      if (holder.state === 'missing') continue; // released between our link and our read: try again at once
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
        const h = holder.state === 'held' ? holder.info : undefined;
        const who = h ? `process ${h.pid} on ${h.host.split('/')[0]} (${h.purpose}, since ${h.since})` : 'another process';
        throw new ModelctlError('LOCK_TIMEOUT', `the registry at ${layout.home} is locked by ${who}`, {
          hint: `wait for it to finish; if no modelctl process is running, remove ${layout.lockFile}`,
        });
      }
      await sleep(delay + Math.random() * delay);
      delay = Math.min(delay * 2, 100);
    }
  } finally {
    await unlink(staged).catch(() => {});
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

