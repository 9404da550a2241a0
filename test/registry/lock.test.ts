import { existsSync, lstatSync, mkdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { LOCK_HOST, LOCK_HOST_ID, acquireLock, withLock } from '../../src/registry/lock.js';
import { Layout } from '../../src/registry/layout.js';
import { ModelctlError } from '../../src/errors.js';
import { tempDir } from '../helpers.js';

function layout(): Layout {
  const l = new Layout(tempDir());
  mkdirSync(l.home, { recursive: true });
  return l;
}

async function deadPid(): Promise<number> {
  const child = await execa('node', ['-e', 'console.log(process.pid)']);
  return Number(child.stdout);
}

describe('inter-process lock', () => {
  it('serialises holders in one process', async () => {
    const l = layout();
    const order: string[] = [];
    await Promise.all(
      ['a', 'b', 'c'].map((id) =>
        withLock(l, async () => {
          order.push(`${id}+`);
          await new Promise((r) => setTimeout(r, 20));
          order.push(`${id}-`);
        }),
      ),
    );
    for (let i = 0; i < order.length; i += 2) expect(order[i]!.slice(0, 1)).toBe(order[i + 1]!.slice(0, 1));
    expect(existsSync(l.lockFile)).toBe(false);
  });

  it('breaks the lock of a process that died holding it', async () => {
    const l = layout();
    mkdirSync(l.tmpDir, { recursive: true });
    writeFileSync(
      l.lockFile,
      JSON.stringify({ pid: await deadPid(), host: LOCK_HOST, token: 'dead', since: new Date().toISOString(), purpose: 'register' }),
    );
    const handle = await acquireLock(l, { timeoutMs: 2000 });
    await handle.release();
    expect(existsSync(l.lockFile)).toBe(false);
  });

  it('never breaks a live lock, even when two waiters saw the same dead holder', async () => {
    const l = layout();
    mkdirSync(l.tmpDir, { recursive: true });
    writeFileSync(
      l.lockFile,
      JSON.stringify({ pid: await deadPid(), host: LOCK_HOST, token: 'dead', since: new Date().toISOString(), purpose: 'register' }),
    );
    let inside = 0;
    let overlap = false;
    await Promise.all(
      Array.from({ length: 6 }, () =>
        withLock(
          l,
          async () => {
            inside++;
            if (inside > 1) overlap = true;
            await new Promise((r) => setTimeout(r, 5));
            inside--;
          },
          { timeoutMs: 5000 },
        ),
      ),
    );
    expect(overlap).toBe(false);
  });

  it('stops waiting when its signal is aborted', async () => {
    const l = layout();
    const held = await acquireLock(l);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop')), 50);
    await expect(acquireLock(l, { signal: controller.signal })).rejects.toThrow('stop');
    await held.release();
  });

  it('waits for a live holder, then fails with a clear error naming it', async () => {
    const l = layout();
    const held = await acquireLock(l, { purpose: 'gc' });
    let waited = false;
    const err = await acquireLock(l, { timeoutMs: 300, onWait: () => (waited = true) }).catch((e: unknown) => e);
    expect(waited).toBe(true);
    expect(err).toBeInstanceOf(ModelctlError);
    expect((err as ModelctlError).code).toBe('LOCK_TIMEOUT');
    expect((err as ModelctlError).message).toContain(`process ${process.pid}`);
    expect((err as ModelctlError).message).toContain('(gc,');
    await held.release();
    const again = await acquireLock(l, { timeoutMs: 300 });
    await again.release();
  });
});

describe('the lock needs no free space', () => {
  it('is a symbolic link whose target fits in the inode (under 60 bytes), even with a long purpose', async () => {
    const l = layout();
    const held = await acquireLock(l, { purpose: `register ${'org/'.padEnd(90, 'x')}` });
    expect(lstatSync(l.lockFile).isSymbolicLink()).toBe(true);
    const target = readlinkSync(l.lockFile);
    expect(Buffer.byteLength(target)).toBeLessThan(60);
    expect(target).toMatch(new RegExp(`^m1:${process.pid}:${LOCK_HOST_ID}:[0-9a-f]+:register org/x+$`));
    expect(existsSync(l.tmpDir)).toBe(false); // nothing written anywhere else
    await held.release();
    expect(existsSync(l.lockFile)).toBe(false);
  });

  it('respects a live lock file written by an older modelctl (JSON, link(2)ed into place)', async () => {
    const l = layout();
    writeFileSync(
      l.lockFile,
      JSON.stringify({ pid: process.pid, host: LOCK_HOST, token: 'old', since: new Date().toISOString(), purpose: 'gc' }),
    );
    const err = await acquireLock(l, { timeoutMs: 200 }).catch((e: unknown) => e);
    expect((err as ModelctlError).code).toBe('LOCK_TIMEOUT');
    expect((err as ModelctlError).message).toContain(`process ${process.pid}`);
  });
});
