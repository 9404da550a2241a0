import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspectModel } from '../../src/formats/index.js';
import { expectModelctlError, fixturePath, tempDir } from './helpers.js';

/** Deterministic noise: the same "random" bytes on every run. */
function noise(length: number, seed: number): Buffer {
  let x = seed;
  return Buffer.from(Array.from({ length }, () => (x = (x * 1103515245 + 12345) % 2 ** 31) & 0xff));
}

describe('errors are one line with a stable code', () => {
  it('a missing path is PATH_NOT_FOUND with exit code 3', async () => {
    const err = await expectModelctlError(
      inspectModel('definitely/not/here.onnx'),
      'PATH_NOT_FOUND',
      /no such file or folder: definitely\/not\/here\.onnx/,
    );
    expect(err.exitCode).toBe(3);
  });

  it('random bytes never crash: every seed and name gives a ModelctlError', async () => {
    const t = await tempDir();
    try {
      for (const name of [
        'model.onnx',
        'model.pt',
        'model.pkl',
        'model.h5',
        'model.keras',
        'model.ubj',
        'model.joblib',
        'blob',
        'model.safetensors',
      ]) {
        for (const seed of [1, 2, 3]) {
          const path = join(t.dir, name);
          await writeFile(path, noise(2048, seed));
          const err = await expectModelctlError(inspectModel(path), name === 'blob' ? 'UNKNOWN_FORMAT' : 'CORRUPT_MODEL');
          expect(err.message.startsWith(path), err.message).toBe(true);
        }
      }
    } finally {
      await t.cleanup();
    }
  });

  it('truncating any fixture at any of several points gives a ModelctlError or a partial result, never a crash', async () => {
    const { readFile } = await import('node:fs/promises');
    const t = await tempDir();
    try {
      const files = [
        'torch-statedict/model.pt',
        'torch-legacy/model.pth',
        'sklearn-joblib/model.joblib',
        'keras-h5/model.h5',
        'xgboost-ubj/model.ubj',
        'safetensors/model.safetensors',
      ];
      for (const rel of files) {
        const bytes = await readFile(fixturePath(...rel.split('/')));
        for (const fraction of [0.1, 0.5, 0.9]) {
          const path = join(t.dir, rel.split('/')[1]!);
          await writeFile(path, bytes.subarray(0, Math.floor(bytes.length * fraction)));
          const outcome = await inspectModel(path).then(
            (r) => ({ ok: true as const, r }),
            (e: unknown) => ({ ok: false as const, e }),
          );
          if (outcome.ok) {
            // Only formats whose header sits up front may still read: then the loss must be reported.
            expect(outcome.r.warnings.length + (outcome.r.metadata.scanComplete === false ? 1 : 0), rel).toBeGreaterThan(0);
          } else {
            expect((outcome.e as { code?: string }).code, `${rel} at ${fraction}`).toBe('CORRUPT_MODEL');
          }
        }
      }
    } finally {
      await t.cleanup();
    }
  });

  it('an aborted signal stops the inspection with INTERRUPTED', async () => {
    const controller = new AbortController();
    controller.abort();
    const err = await expectModelctlError(inspectModel(fixturePath('hf-bert-tiny'), { signal: controller.signal }), 'INTERRUPTED');
    expect(err.exitCode).toBe(130);
  });
});
