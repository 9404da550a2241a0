import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, spawnCli, tempDir, writeSafetensors } from '../helpers.js';

describe('concurrency', () => {
  it('8 registers and a gc at the same time: every version present and valid', { timeout: 300_000 }, async () => {
    const home = tempDir();
    const dir = tempDir();
    const files: string[] = [];
    for (let i = 0; i < 4; i++) {
      const f = join(dir, `w${i}.safetensors`);
      writeSafetensors(f, 16 * 1024 * 1024);
      files.push(f);
    }
    // Half the processes register the same bytes under one name (dedup and version numbering race), half differ.
    const jobs = [
      ...files.map((f) => spawnCli(['register', f, '--name', 'shared'], home)),
      ...files.map((f, i) => spawnCli(['register', f, '--name', `own-${i}`], home)),
      spawnCli(['gc'], home),
      spawnCli(['gc', '--older-than', '3650d'], home),
    ];
    const results = await Promise.all(jobs);
    for (const r of results) expect(r.exitCode, String(r.stderr)).toBe(0);

    const list = JSON.parse((await cli(['list', '--json'], { home })).stdout);
    const refs = list.models.map((m: { name: string; version: string }) => `${m.name}:${m.version}`);
    expect(refs).toEqual([
      'own-0:1.0.0',
      'own-1:1.0.0',
      'own-2:1.0.0',
      'own-3:1.0.0',
      'shared:1.0.0',
      'shared:1.0.1',
      'shared:1.0.2',
      'shared:1.0.3',
    ]);
    const v = await cli(['validate', '--strict', '--json'], { home });
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, versions: 8, blobs: 4, problems: [] });
  });
});
