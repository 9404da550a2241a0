/**
 * The converter environments test/setup/converter-env.ts prepared (.venv-convert), for the export tests.
 * A test that needs them starts with `const root = converterRoot(); if (!root) return;`: under CI=true a missing
 * environment throws (the test fails with the reason); elsewhere it warns loudly and the test returns.
 */
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, inject } from 'vitest';
import { FAMILY_ENV, type Family } from '../../src/convert/families.js';
import { venvPython } from '../../src/convert/setup.js';
import { ROOT } from '../helpers.js';

export function converterRoot(): string | null {
  const { root, error } = inject('converterEnv') ?? { root: null, error: 'the globalSetup test/setup/converter-env.ts did not run' };
  if (root) return root;
  const message = `converter environments (.venv-convert) unavailable: ${error ?? 'unknown reason'}`;
  if (process.env.CI === 'true') throw new Error(message);
  console.warn(`\n!!! NOT CHECKED: "${expect.getState().currentTestName ?? 'a test'}" needs the Python converters.\n!!! ${message}\n`);
  return null;
}

export function familyPython(root: string, family: Family): string {
  return venvPython(join(root, FAMILY_ENV[family]));
}

export interface Case {
  file: string;
  inputs: unknown[];
  expected: unknown[];
  model_class?: string;
}

/**
 * Builds seeded source models into `dir` with fixtures/export/build.py, in FAMILY's environment: FAMILY's own
 * builder, or `builder` (hf-media: tiny ViT, Wav2Vec2 and GPT-2 for the hf family).
 */
export async function buildSources(root: string, family: Family, dir: string, builder: string = family): Promise<Record<string, Case>> {
  const r = await execa(familyPython(root, family), [join(ROOT, 'fixtures', 'export', 'build.py'), builder, dir], {
    reject: false,
    stdin: 'ignore',
    all: true,
    env: { TF_CPP_MIN_LOG_LEVEL: '3', PYTHONHASHSEED: '0' },
  });
  if (r.exitCode !== 0) throw new Error(`build.py ${builder} failed:\n${String(r.all).slice(-3000)}`);
  return JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Record<string, Case>;
}
