/**
 * Vitest globalSetup: a Python interpreter with test/py/requirements.txt installed, for the tests that run
 * the real onnx checker (test/python.ts) on files modelctl writes.
 *
 * The venv lives in <repo>/.venv-test and is (re)installed by this file alone, so a fresh clone needs nothing
 * but `python3` (or MODELCTL_TEST_PYTHON) and PyPI. A stamp inside the venv holds the sha256 of the requirements
 * file it was installed from; a changed file means a reinstall. The interpreter's path reaches the test workers
 * through vitest's provide/inject (`inject('testPython')`).
 *
 * When the venv cannot be made: with CI=true the run fails here; elsewhere a loud warning is printed and every
 * test that needs Python says so itself (see pythonAvailable() in test/python.ts).
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
  }
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const VENV = join(ROOT, '.venv-test');
const REQUIREMENTS = join(ROOT, 'test', 'py', 'requirements.txt');
const STAMP = join(VENV, '.requirements.sha256');
const LOCK = `${VENV}.lock`;
const WIN = process.platform === 'win32';
const MINUTE = 60_000;

function venvPython(venv: string): string {
  return WIN ? join(venv, 'Scripts', 'python.exe') : join(venv, 'bin', 'python');
}

function log(line: string): void {
  process.stderr.write(`[python-env] ${line}\n`);
}

function fileSha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function readStamp(): string | null {
  try {
    return readFileSync(STAMP, 'utf8').trim();
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
async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 15 * MINUTE;
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(join(LOCK, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (lockOwnerDead()) {
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

function lockOwnerDead(): boolean {
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

/** Makes sure .venv-test exists and matches the requirements file; returns its interpreter. */
export async function ensureTestPython(): Promise<string> {
  const want = fileSha256(REQUIREMENTS);
  const python = venvPython(VENV);
  if (readStamp() === want && (await runs(python))) return python;

  return withLock(async () => {
    // Another run may have finished the job while this one waited for the lock.
    if (readStamp() === want && (await runs(python))) return python;
    const started = Date.now();
    if (!(await runs(python))) {
      // Missing, half-made, or its base interpreter is gone: start over.
      const base = process.env.MODELCTL_TEST_PYTHON || (WIN ? 'python' : 'python3');
      log(`creating ${VENV} with ${base}`);
      rmSync(VENV, { recursive: true, force: true });
      try {
        await run(base, ['-m', 'venv', VENV], 'creating the test venv', 5 * MINUTE);
      } catch (e) {
        rmSync(VENV, { recursive: true, force: true }); // e.g. made without pip (no ensurepip): not worth keeping
        throw e;
      }
    }
    rmSync(STAMP, { force: true }); // an install cut short must not look complete
    log(`installing ${REQUIREMENTS} into ${VENV}`);
    await run(
      python,
      // Wheels only: a missing wheel must fail fast, not start a long source build of onnx.
      ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--only-binary=:all:', '-q', '-r', REQUIREMENTS],
      'pip install',
      15 * MINUTE,
    );
    await run(python, ['-c', 'import onnx, onnx.checker, numpy'], 'importing onnx in the test venv', MINUTE);
    writeFileSync(STAMP, `${want}\n`);
    log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${python}`);
    return python;
  });
}

export default async function setup(project: TestProject): Promise<void> {
  try {
    project.provide('testPython', { python: await ensureTestPython(), error: null });
  } catch (e) {
    const message = (e as Error).message;
    if (process.env.CI === 'true') {
      throw new Error(`The Python test environment (.venv-test) could not be set up, and CI needs it:\n${message}`);
    }
    const bar = '!'.repeat(100);
    process.stderr.write(
      `\n${bar}\n!!! WARNING: no Python test environment (.venv-test). Tests that run the onnx checker will not check anything.\n` +
        `!!! ${message.split('\n').join('\n!!! ')}\n` +
        `!!! Fix: install python3 with venv and pip (or set MODELCTL_TEST_PYTHON), make PyPI reachable, run the tests again.\n${bar}\n\n`,
    );
    project.provide('testPython', { python: null, error: message });
  }
}
