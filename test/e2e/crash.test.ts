import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, spawnCli, tempDir, writeSafetensors } from '../helpers.js';

/** A small deterministic generator, so that a failing run can be replayed with the same kill times. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('crash safety', () => {
  it('survives SIGKILL of register at random moments: validate is clean and earlier versions intact', { timeout: 600_000 }, async () => {
    const home = tempDir();
    const dir = tempDir();
    const small = join(dir, 'small.safetensors');
    writeSafetensors(small, 64 * 1024);
    const big = join(dir, 'big.safetensors');
    writeSafetensors(big, 256 * 1024 * 1024);
    expect((await cli(['register', small, '--name', 'keep', '--alias', 'production'], { home })).exitCode).toBe(0);

    // How long a whole register of the big file takes here (median of three), so that kills spread over its life.
    const durations: number[] = [];
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      const full = await cli(['register', big, '--name', 'big', '--tag', `timing=${i}`], { home }); // a tag each: same bytes, new version
      expect(full.exitCode, full.stderr).toBe(0);
      durations.push(Date.now() - started);
    }
    const duration = durations.sort((a, b) => a - b)[1] as number;
    const copying = async (): Promise<void> => {
      // The copy has begun once a blob temporary file exists in tmp/.
      for (let t = 0; t < 2000; t++) {
        if (readdirSync(join(home, 'tmp')).some((f) => f.startsWith('blob.'))) return;
        await new Promise((r) => setTimeout(r, 2));
      }
    };

    const random = lcg(20261122);
    let committed = 3;
    let killedMidway = 0;
    for (let i = 0; i < 20; i++) {
      const child = spawnCli(['register', big, '--name', 'big', '--tag', `run=${i}`], home);
      // Three kills in four land during the copy (the long part); the rest anywhere in the process's life.
      const duringCopy = i % 4 !== 3;
      if (duringCopy) await copying();
      const at = Math.floor(duration * (duringCopy ? 0.6 : 1.1) * random());
      await new Promise((r) => setTimeout(r, at));
      child.kill('SIGKILL');
      const result = await child;
      if (result.exitCode === 0) committed++;
      else killedMidway++;

      const v = await cli(['validate', '--json'], { home });
      const report = JSON.parse(v.stdout);
      expect(report.problems, `kill ${i} at ${at} ms`).toEqual([]);
      expect(v.exitCode, `kill ${i} at ${at} ms`).toBe(0);
      const list = JSON.parse((await cli(['list', '--json'], { home })).stdout);
      expect(list.models.filter((m: { name: string }) => m.name === 'big')).toHaveLength(committed);
      const info = await cli(['info', 'keep@production', '--json'], { home });
      expect(info.exitCode, `kill ${i} at ${at} ms: ${info.stderr}`).toBe(0);
    }
    // Most kills must land mid-copy for this test to mean anything.
    expect(killedMidway).toBeGreaterThanOrEqual(12);

    // What the kills left behind is garbage that gc removes (grace 0: nothing else is running now).
    const gc = await cli(['gc', '--grace', '0s', '--json'], { home });
    expect(gc.exitCode).toBe(0);
    const strict = await cli(['validate', '--strict', '--json'], { home });
    expect(JSON.parse(strict.stdout)).toMatchObject({ ok: true, garbage: { orphanBlobs: 0, staleTmpFiles: 0 } });
  });
});
