import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ModelctlError } from '../errors.js';
import { isEnoent } from './fsutil.js';
import type { Layout } from './layout.js';

/**
 * The inter-process lock that every mutation of the registry holds.
 *
 * A lock file is created with link(2) from a fully written temporary file, so it appears atomically and is never
 * seen half-written. It records the holder's pid and host. Node has no flock(2), so a holder killed with SIGKILL
 * leaves its file behind; a waiter on the same host that finds the recorded pid dead breaks the lock at once,
 * by renaming the file away and checking it renamed the stale one (same token) before deleting it. Holders on
 * another host (a shared filesystem) are only presumed dead after `foreignStaleMs`.
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
}

const DEFAULT_TIMEOUT_MS = 120_000;
const DEFAULT_FOREIGN_STALE_MS = 3_600_000;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readHolder(path: string): Promise<LockInfo | undefined> {
  try {
    const info = JSON.parse(await readFile(path, 'utf8')) as LockInfo;
    return typeof info.pid === 'number' && typeof info.token === 'string' ? info : undefined;
  } catch {
    return undefined;
  }
}

async function isStale(path: string, holder: LockInfo | undefined, foreignStaleMs: number): Promise<boolean> {
  if (holder && holder.host === hostname()) return !pidAlive(holder.pid);
  // Unreadable lock files cannot come from our own writers (they link a complete file); treat them, and
  // locks of other hosts, by age.
  try {
    const st = await stat(path);
    return Date.now() - st.mtimeMs > (holder ? foreignStaleMs : 10_000);
  } catch (err) {
    if (isEnoent(err)) return false;
    throw err;
  }
}

async function breakStale(layout: Layout, stale: LockInfo | undefined): Promise<void> {
  const moved = join(layout.tmpDir, `lock-stale.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await rename(layout.lockFile, moved);
  } catch (err) {
    if (isEnoent(err)) return; // someone else broke it first
    throw err;
  }
  const got = await readHolder(moved);
  if (stale && got && got.token !== stale.token) {
    // Between our read and our rename the stale lock was broken and taken by a live process: give it back.
    await link(moved, layout.lockFile).catch(() => {});
  }
  await unlink(moved).catch(() => {});
}

export class LockHandle {
  constructor(
    private readonly layout: Layout,
    readonly info: LockInfo,
  ) {}

  async release(): Promise<void> {
    const holder = await readHolder(this.layout.lockFile);
    if (holder?.token === this.info.token) await unlink(this.layout.lockFile).catch(() => {});
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function acquireLock(layout: Layout, options: LockOptions = {}): Promise<LockHandle> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const foreignStaleMs = options.foreignStaleMs ?? DEFAULT_FOREIGN_STALE_MS;
  await mkdir(layout.tmpDir, { recursive: true });
  const info: LockInfo = {
    pid: process.pid,
    host: hostname(),
    token: randomBytes(12).toString('hex'),
    since: new Date().toISOString(),
    purpose: options.purpose ?? 'update',
  };
  const staged = join(layout.tmpDir, `lock.${info.token}.tmp`);
  await writeFile(staged, JSON.stringify(info));
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  let waited = false;
  try {
    for (;;) {
      try {
        await link(staged, layout.lockFile);
        return new LockHandle(layout, info);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = await readHolder(layout.lockFile);
      if (await isStale(layout.lockFile, holder, foreignStaleMs)) {
        await breakStale(layout, holder);
        continue;
      }
      if (!waited) {
        waited = true;
        options.onWait?.(holder);
      }
      if (Date.now() >= deadline) {
        const who = holder ? `process ${holder.pid} on ${holder.host} (${holder.purpose}, since ${holder.since})` : 'another process';
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
