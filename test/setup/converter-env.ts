/**
 * Vitest globalSetup: the converter environments for the export tests, made by the product's own setup code
 * (setupPython, what `modelctl setup python --with all` runs) into <repo>/.venv-convert/. setupPython stamps each
 * family with the digest of its requirement files, so a second run with unchanged files installs nothing, and
 * concurrent runs (two vitest processes) wait for each other on its lock.
 *
 * With CI=true a failure fails the run; elsewhere a loud warning is printed and every test that needs a converter
 * says so itself (test/convert/env.ts).
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { FAMILIES } from '../../src/convert/families.js';
import { setupPython } from '../../src/convert/setup.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `root`: the folder holding the managed environments (what <home>/python is for the product), or null. */
    converterEnv: { root: string | null; error: string | null };
  }
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ENVS = join(ROOT, '.venv-convert');

function log(line: string): void {
  process.stderr.write(`[converter-env] ${line}\n`);
}

export default async function setup(project: TestProject): Promise<void> {
  try {
    const started = Date.now();
    await setupPython({
      root: ENVS,
      families: [...FAMILIES],
      ...(process.env.MODELCTL_TEST_PYTHON ? { python: process.env.MODELCTL_TEST_PYTHON } : {}),
      onProgress: (e) => {
        if (e.type === 'install') log(`installing ${e.family}: ${e.requirements}`);
        else if (e.type === 'ready') log(`${e.family} ready in ${e.seconds.toFixed(1)} s`);
        else if (e.type === 'create-venv') log(`creating ${e.path}`);
      },
    });
    log(`converter environments ready (${((Date.now() - started) / 1000).toFixed(1)} s): ${ENVS}`);
    project.provide('converterEnv', { root: ENVS, error: null });
  } catch (e) {
    const message = (e as Error).message;
    if (process.env.CI === 'true')
      throw new Error(`The converter environments (.venv-convert) could not be set up, and CI needs them:\n${message}`);
    const bar = '!'.repeat(100);
    process.stderr.write(
      `\n${bar}\n!!! WARNING: no converter environments (.venv-convert): the export tests will not check anything.\n!!! ${message.split('\n').join('\n!!! ')}\n${bar}\n\n`,
    );
    project.provide('converterEnv', { root: null, error: message });
  }
}
