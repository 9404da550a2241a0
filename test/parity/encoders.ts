/**
 * The encoder parity tests' models: fixtures/export/build.py hf-encoders builds tiny random PyTorch models (a BERT
 * and a RoBERTa masked LM, an NLI classifier, a Wav2Vec2 audio classifier, and WAV files) in the hf converter
 * environment, and `modelctl export` (the spawned binary, the real optimum) exports the ones a test asks for into a
 * fresh registry. The reference pipelines then run on the PyTorch folders, modelctl on the exported versions.
 */
import { join } from 'node:path';
import { expect } from 'vitest';
import { Registry } from '../../src/registry/index.js';
import { buildSources, familyPython, type Case } from '../convert/env.js';
import { cli, fileDir } from '../helpers.js';

export interface Exported {
  /** Where build.py wrote the PyTorch folders and the audio/ files. */
  src: string;
  cases: Record<string, Case>;
  home: string;
  registry: Registry;
}

const made = new Map<string, Promise<Exported>>();

/**
 * Builds the sources and exports `folders` (registered under their folder names); the exports must validate. Made
 * once per test file (a worker) and set of folders: the tests of a file share it.
 */
export function exportEncoders(root: string, folders: string[]): Promise<Exported> {
  const key = folders.join(',');
  let p = made.get(key);
  if (!p) {
    p = make(root, folders);
    made.set(key, p);
  }
  return p;
}

async function make(root: string, folders: string[]): Promise<Exported> {
  const src = fileDir('modelctl-src-encoders-');
  const cases = await buildSources(root, 'hf', src, 'hf-encoders');
  const home = fileDir('modelctl-encoders-home-');
  for (const folder of folders) {
    const r = await cli(['export', join(src, folder), '--name', folder, '--python', familyPython(root, 'hf'), '--json'], { home });
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.validation).toMatchObject({ passed: true });
    expect(doc.validation.max_abs_diff).toBeLessThanOrEqual(1e-4);
  }
  return { src, cases, home, registry: new Registry({ home }) };
}

/** The largest absolute difference of two equally long lists of numbers. */
export function maxDiff(a: readonly number[], b: readonly number[]): number {
  expect(a).toHaveLength(b.length);
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - (b[i] as number))), 0);
}
