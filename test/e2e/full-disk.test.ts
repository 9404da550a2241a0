import { execa } from 'execa';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, FIXTURES, ROOT, tempDir } from '../helpers.js';

/**
 * rm and gc on a 100 % full filesystem: a 2 MiB tmpfs, mounted directly when we are root, else inside
 * `unshare -rm` (a user and mount namespace of our own). The scenario itself is full-disk-driver.mjs.
 */

const DRIVER = join(ROOT, 'test', 'e2e', 'full-disk-driver.mjs');

interface Step {
  name: string;
  exitCode?: number;
  stdout?: string;
  stderr?: string;
  free: number;
  entries?: string[];
}

type Runner = (dir: string) => Promise<{ exitCode: number; stdout: string; stderr: string }>;

const driverArgs = (dir: string): string[] => [DRIVER, dir, BIN, FIXTURES];

async function findRunner(): Promise<{ runner?: Runner; why: string[] }> {
  const why: string[] = [];
  if (process.getuid?.() === 0) {
    const probe = tempDir('modelctl-tmpfs-');
    const mounted = await execa('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', probe], { reject: false });
    if (mounted.exitCode === 0) {
      await execa('umount', [probe]);
      return {
        why,
        runner: async (dir) => {
          await execa('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir]);
          try {
            const r = await execa('node', driverArgs(dir), { reject: false });
            return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
          } finally {
            await execa('umount', [dir]);
          }
        },
      };
    }
    why.push(`mount -t tmpfs: ${mounted.stderr || `exit ${mounted.exitCode}`}`);
  }
  const unshared = await execa('unshare', ['-rm', 'true'], { reject: false });
  if (unshared.exitCode === 0) {
    return {
      why,
      runner: async (dir) => {
        const script = 'mount -t tmpfs -o size=2m tmpfs "$1" && shift && exec node "$@"';
        const r = await execa('unshare', ['-rm', 'sh', '-c', script, 'sh', dir, ...driverArgs(dir)], { reject: false });
        return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
      },
    };
  }
  why.push(`unshare -rm: ${unshared.stderr || `exit ${unshared.exitCode}`}`);
  return { why };
}

describe('a 100 % full filesystem', () => {
  it('rm and gc still run and free space; a register fails with exit 10 and leaves nothing', { timeout: 120_000 }, async (ctx) => {
    const { runner, why } = await findRunner();
    if (!runner) {
      const message = `cannot mount a small tmpfs here (${why.join('; ')}): the full-disk test did not run`;
      // In CI this must not pass silently.
      if (process.env.CI === 'true') throw new Error(message);
      console.warn(`SKIPPED: ${message}`);
      ctx.skip();
      return;
    }
    const run = await runner(tempDir('modelctl-full-'));
    expect(run.exitCode, run.stderr).toBe(0);
    const steps = new Map((JSON.parse(run.stdout) as Step[]).map((s) => [s.name, s]));
    const step = (name: string): Step => {
      const s = steps.get(name);
      if (!s) throw new Error(`no step ${name}`);
      return s;
    };
    for (const name of ['register keep', 'register ext:1.0.0', 'register ext:1.0.1', 'register ext:1.0.2', 'register copy']) {
      expect(step(name).exitCode, step(name).stderr).toBe(0);
    }
    for (const fill of ['fill 1', 'fill 2', 'fill 3']) expect(step(fill).free).toBe(0);

    const refused = step('register on a full disk');
    expect(refused.exitCode).toBe(10);
    expect(JSON.parse(refused.stdout ?? '')).toMatchObject({ error: { code: 'IO', message: expect.stringContaining('ENOSPC') } });
    expect(step('tmp after the refused register').entries).toEqual([]);

    // No block is freed (its blobs are shared), yet its aliases are rewritten.
    const shared = step('rm ext:1.0.0');
    expect(shared.exitCode, shared.stderr).toBe(0);
    expect(JSON.parse(shared.stdout ?? '')).toMatchObject({
      removed: [{ name: 'ext', version: '1.0.0' }],
      aliasesRemoved: ['prod'],
      blobsRemoved: 0,
    });

    const latest = step('rm ext:1.0.2 (latest, no index)');
    expect(latest.exitCode, latest.stderr).toBe(0);
    expect(JSON.parse(latest.stdout ?? '')).toMatchObject({
      removed: [{ name: 'ext', version: '1.0.2' }],
      aliasesRemoved: ['latest'],
      blobsRemoved: 1,
    });
    expect(latest.free).toBeGreaterThan(0);
    const models = JSON.parse(step('list after rm').stdout ?? '').models as Array<{ name: string; version: string; aliases: string[] }>;
    const listed = models.map((m) => [`${m.name}:${m.version}`, m.aliases]);
    expect(listed).toEqual([
      ['copy:1.0.0', ['latest']],
      ['ext:1.0.1', ['latest']],
      ['keep:1.0.0', ['latest', 'production']],
    ]);

    const gc = step('gc');
    expect(gc.exitCode, gc.stderr).toBe(0);
    const gcResult = JSON.parse(gc.stdout ?? '');
    expect(gcResult.evicted.map((e: { name: string; version: string }) => `${e.name}:${e.version}`).sort()).toEqual([
      'copy:1.0.0',
      'ext:1.0.1',
    ]);
    expect(gcResult.bytesFreed).toBeGreaterThan(0);
    expect(gc.free).toBeGreaterThan(0);

    const validate = step('validate --strict');
    expect(validate.exitCode, validate.stdout).toBe(0);
    expect(JSON.parse(validate.stdout ?? '')).toMatchObject({ ok: true, versions: 1, problems: [] });
  });
});
