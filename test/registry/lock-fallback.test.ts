import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { Layout } from '../../src/registry/layout.js';
import { acquireLock, withLock } from '../../src/registry/lock.js';
import { tempDir } from '../helpers.js';

// Where symbolic links cannot be made (Windows without the privilege, FAT), symlink(2) fails with EPERM: Node's
// own symlink is made to fail so, as it would there.
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const symlink = async (): Promise<void> => {
    throw Object.assign(new Error('EPERM: operation not permitted, symlink'), { code: 'EPERM' });
  };
  return { ...real, symlink, default: { ...real, symlink } };
});

describe('the lock without symbolic links', () => {
  it('falls back to a file link(2)ed into place, with the same text, and still excludes', async () => {
    const l = new Layout(tempDir());
    mkdirSync(l.home, { recursive: true });
    const held = await acquireLock(l, { purpose: 'gc' });
    expect(lstatSync(l.lockFile).isFile()).toBe(true);
    expect(readFileSync(l.lockFile, 'utf8')).toMatch(new RegExp(`^m1:${process.pid}:[0-9a-f]+:[0-9a-f]+:gc$`));
    const err = await acquireLock(l, { timeoutMs: 200 }).catch((e: unknown) => e);
    expect((err as { code: string }).code).toBe('LOCK_TIMEOUT');
    await held.release();
    expect(existsSync(l.lockFile)).toBe(false);
    expect(readdirSync(l.tmpDir)).toEqual([]); // the staged file is gone
    let inside = 0;
    let overlap = false;
    await Promise.all(
      Array.from({ length: 4 }, () =>
        withLock(l, async () => {
          inside++;
          overlap ||= inside > 1;
          await new Promise((r) => setTimeout(r, 5));
          inside--;
        }),
      ),
    );
    expect(overlap).toBe(false);
  });
});
