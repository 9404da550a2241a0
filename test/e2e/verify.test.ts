import { readFileSync, readdirSync, rmSync, statSync, unlinkSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES, cli, flipByte, spawnCli, tempDir } from '../helpers.js';

const IRIS = join(FIXTURES, 'iris-logreg', 'model.onnx');
/** A byte inside the first LinearClassifier coefficient of the iris fixture (test/registry/verify.test.ts checks it). */
const IRIS_COEFFICIENT_BYTE = 273;

async function irisHome(): Promise<{ home: string; blob: string; sha256: string }> {
  const home = tempDir();
  const r = await cli(['register', IRIS, '--name', 'iris', '--json'], { home });
  expect(r.exitCode, r.stderr).toBe(0);
  const sha256 = JSON.parse(r.stdout).manifest.files[0].sha256 as string;
  return { home, blob: join(home, 'blobs', 'sha256', sha256.slice(0, 2), sha256), sha256 };
}

/** A whole second, long enough ago that a fingerprint with it is not racy; utimes sets it exactly, so a file can be put back to it. */
const PINNED = Math.floor(Date.now() / 1000) - 100;

function pinMtime(path: string, when = PINNED): void {
  utimesSync(path, when, when);
}

describe('verify-on-use (spawned binary)', () => {
  it('predict exits 4 naming the version, file and blob of a tampered or deleted blob', async () => {
    const { home, blob, sha256 } = await irisHome();
    flipByte(blob, IRIS_COEFFICIENT_BYTE);
    const r = await cli(['predict', 'iris', '5.1,3.5,1.4,0.2', '--json'], { home });
    expect(r.exitCode).toBe(4);
    const lines = (await cli(['predict', 'iris', '5.1,3.5,1.4,0.2', '--table'], { home })).stderr.split('\n');
    const prefix = `error: blob ${sha256.slice(0, 12)} of iris:1.0.0 model.onnx has changed since it was stored`;
    expect(lines[0]).toMatch(new RegExp(`^${prefix} \\(its content hashes to [0-9a-f]{12}\\); run \`modelctl validate\`$`));
    expect(lines[1]).toMatch(/^hint: nothing was read from it; validate lists every damaged version/);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'INTEGRITY', exitCode: 4 });
    unlinkSync(blob);
    const gone = await cli(['predict', 'iris', '5.1,3.5,1.4,0.2', '--table'], { home });
    expect(gone.exitCode).toBe(4);
    expect(gone.stderr.split('\n')[0]).toBe(
      `error: blob ${sha256.slice(0, 12)} of iris:1.0.0 model.onnx is missing from the store; run \`modelctl validate\``,
    );
    expect(gone.stdout).toBe('');
  });

  it('--verify re-hashes what a fingerprint cannot see (a write that puts size, inode and mtime back)', async () => {
    const { home, blob } = await irisHome();
    pinMtime(blob);
    expect((await cli(['predict', 'iris', '5.1,3.5,1.4,0.2', '--json'], { home })).exitCode).toBe(0);
    flipByte(blob, IRIS_COEFFICIENT_BYTE);
    pinMtime(blob);
    expect((await cli(['predict', 'iris', '5.1,3.5,1.4,0.2', '--json'], { home })).exitCode).toBe(0);
    const strict = await cli(['predict', 'iris', '5.1,3.5,1.4,0.2', '--verify', '--table'], { home });
    expect(strict.exitCode).toBe(4);
    expect(strict.stderr).toMatch(/^error: blob [0-9a-f]{12} of iris:1\.0\.0 model\.onnx has changed since it was stored/);
    const validate = await cli(['validate'], { home });
    expect(validate.exitCode).toBe(1);
  });

  it('embed-metadata and export exit 4 on a tampered registry model and create nothing', async () => {
    const { home, blob } = await irisHome();
    flipByte(blob, IRIS_COEFFICIENT_BYTE);
    const embed = await cli(['embed-metadata', 'iris', '--task', 'tabular-classification'], { home });
    expect(embed.exitCode).toBe(4);
    expect(embed.stderr).toMatch(/^error: blob [0-9a-f]{12} of iris:1\.0\.0 model\.onnx has changed since it was stored/);
    const sk = await cli(['register', join(FIXTURES, 'sklearn-joblib'), '--name', 'sk', '--json'], { home });
    const file = JSON.parse(sk.stdout).manifest.files[0] as { path: string; sha256: string };
    flipByte(join(home, 'blobs', 'sha256', file.sha256.slice(0, 2), file.sha256), 40);
    const exported = await cli(['export', 'sk', '--no-validate', '--python', join(tempDir(), 'no-python')], { home });
    expect(exported.exitCode).toBe(4);
    expect(exported.stderr).toContain(`of sk:1.0.0 ${file.path} has changed since it was stored`);
    const list = JSON.parse((await cli(['list', '--json'], { home })).stdout);
    expect(list.models.map((m: { name: string; version: string }) => `${m.name}:${m.version}`).sort()).toEqual(['iris:1.0.0', 'sk:1.0.0']);
  });

  it('concurrent predicts of a blob stored before fingerprints all answer and leave one whole record', async () => {
    const { home, blob, sha256 } = await irisHome();
    rmSync(join(home, 'fingerprints'), { recursive: true });
    const runs = await Promise.all(Array.from({ length: 4 }, () => spawnCli(['predict', 'iris', '5.1,3.5,1.4,0.2', '--json'], home)));
    for (const r of runs) {
      expect(r.exitCode, String(r.stderr)).toBe(0);
      expect(JSON.parse(String(r.stdout)).predictions[0].label).toBe(0);
    }
    const record = JSON.parse(readFileSync(join(home, 'fingerprints', sha256.slice(0, 2), sha256), 'utf8'));
    expect(record).toMatchObject({ sha256, ino: String(statSync(blob).ino), size: String(statSync(blob).size) });
    expect(readdirSync(join(home, 'tmp'))).toEqual([]);
  });
});
