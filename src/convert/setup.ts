import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ModelctlError } from '../errors.js';
import { FAMILIES, FAMILY_ENV, pythonDir, type Family } from './families.js';

export interface SetupPythonOptions {
  /** Where the managed environments live: <registry home>/python. */
  root: string;
  families: Family[];
  /** The interpreter that creates the environments (default: python3 on PATH). */
  python?: string;
  /** Reinstall even when the stamp says the environment is up to date. */
  force?: boolean;
  onProgress?: (event: SetupEvent) => void;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
}

export type SetupEvent =
  | { type: 'up-to-date'; family: Family; env: string }
  | { type: 'create-venv'; env: string; path: string; python: string }
  | { type: 'install'; family: Family; env: string; requirements: string }
  | { type: 'pip'; family: Family; line: string }
  | { type: 'ready'; family: Family; env: string; seconds: number };

export interface SetupResult {
  families: Array<{ family: Family; env: string; python: string; installed: boolean; seconds: number }>;
}

const WIN = process.platform === 'win32';

export function venvPython(venv: string): string {
  return WIN ? join(venv, 'Scripts', 'python.exe') : join(venv, 'bin', 'python');
}

export function envDir(root: string, family: Family): string {
  return join(root, FAMILY_ENV[family]);
}

function stampPath(root: string, family: Family): string {
  return join(envDir(root, family), `.modelctl-${family}.sha256`);
}

function requirementsFile(family: Family, kind: 'txt' | 'nodeps.txt'): string {
  return join(pythonDir(), 'requirements', `${family}.${kind}`);
}

/** The text of a requirements file with its -r includes inlined: the stamp changes when any of them does. */
async function expand(file: string, seen = new Set<string>()): Promise<string> {
  if (seen.has(file) || !existsSync(file)) return '';
  seen.add(file);
  const text = await readFile(file, 'utf8');
  const parts = [text];
  for (const m of text.matchAll(/^\s*-r\s+(\S+)/gm)) parts.push(await expand(join(dirname(file), m[1] as string), seen));
  return parts.join('\n');
}

/** The sha256 of everything a family's install reads, plus the script version: a changed pin means a reinstall. */
export async function familyDigest(family: Family): Promise<string> {
  const text = `${await expand(requirementsFile(family, 'nodeps.txt'))}\n--\n${await expand(requirementsFile(family, 'txt'))}`;
  return createHash('sha256').update(text).digest('hex');
}

/** Every requirements file a family's install reads, its own and those it includes with -r. */
async function requirementFiles(family: Family): Promise<Set<string>> {
  const seen = new Set<string>();
  await expand(requirementsFile(family, 'nodeps.txt'), seen);
  await expand(requirementsFile(family, 'txt'), seen);
  return seen;
}

/**
 * The families whose install puts `family`'s packages into the same environment: itself, and those whose
 * requirement files include all of its own (hf's include torch's, so `--with hf` makes the torch converter usable).
 */
async function installedBy(family: Family): Promise<Family[]> {
  const own = await requirementFiles(family);
  const out: Family[] = [family];
  for (const other of FAMILIES) {
    if (other === family || FAMILY_ENV[other] !== FAMILY_ENV[family]) continue;
    const theirs = await requirementFiles(other);
    if ([...own].every((f) => theirs.has(f))) out.push(other);
  }
  return out;
}

/** True when the managed environment holding `family` was installed from today's requirement files. */
export async function isInstalled(root: string, family: Family): Promise<boolean> {
  if (!existsSync(venvPython(envDir(root, family)))) return false;
  for (const by of await installedBy(family)) {
    const stamp = await readFile(stampPath(root, by), 'utf8').catch(() => '');
    if (stamp.trim() === (await familyDigest(by))) return true;
  }
  return false;
}

async function pip(python: string, args: string[], family: Family, options: SetupPythonOptions): Promise<void> {
  const child = execa(
    python,
    ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--progress-bar', 'off', '--only-binary=:all:', ...args],
    {
      reject: false,
      stdin: 'ignore',
      all: true,
      buffer: { all: true },
      env: { ...(options.env ?? process.env), PYTHONUNBUFFERED: '1' },
      ...(options.signal ? { cancelSignal: options.signal, forceKillAfterDelay: 5000 } : {}),
    },
  );
  child.all?.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      const t = line.trim();
      if (t) options.onProgress?.({ type: 'pip', family, line: t });
    }
  });
  const r = await child;
  if (options.signal?.aborted) throw new ModelctlError('INTERRUPTED', 'interrupted during pip install');
  if (r.failed) {
    const tail = String(r.all ?? '')
      .trim()
      .split('\n')
      .slice(-8)
      .join('\n');
    throw new ModelctlError('MISSING_DEPENDENCY', `pip could not install the ${family} converters: ${r.shortMessage}\n${tail}`, {
      hint: 'check that PyPI is reachable (proxy, PIP_INDEX_URL) and that the interpreter is Python 3.10 to 3.13; then run the command again',
    });
  }
}

async function runs(python: string): Promise<boolean> {
  if (!existsSync(python)) return false;
  const r = await execa(python, ['-c', 'import sys'], { reject: false, stdin: 'ignore', timeout: 60_000 });
  return r.exitCode === 0;
}

async function createVenv(base: string, dir: string, options: SetupPythonOptions): Promise<void> {
  options.onProgress?.({ type: 'create-venv', env: dir, path: dir, python: base });
  await rm(dir, { recursive: true, force: true });
  await mkdir(dirname(dir), { recursive: true });
  const r = await execa(base, ['-m', 'venv', dir], {
    reject: false,
    stdin: 'ignore',
    all: true,
    ...(options.signal ? { cancelSignal: options.signal } : {}),
  });
  if (r.failed) {
    await rm(dir, { recursive: true, force: true });
    const notFound = (r as { code?: string }).code === 'ENOENT';
    throw new ModelctlError(
      'MISSING_DEPENDENCY',
      notFound
        ? `no Python interpreter at ${base}`
        : `could not create a virtual environment with ${base}: ${String(r.all ?? r.shortMessage)
            .trim()
            .split('\n')
            .at(-1)}`,
      {
        hint: notFound
          ? 'install Python 3.10 or newer, or pass --python PATH'
          : 'install the venv module (Debian: apt-get install python3-venv), or pass --python PATH',
      },
    );
  }
}

/** A dead holder's lock (its pid is gone, or it never wrote one a minute ago) may be broken. */
async function holderDead(lock: string): Promise<boolean> {
  const pid = Number(await readFile(join(lock, 'pid'), 'utf8').catch(() => ''));
  if (!pid)
    return stat(lock).then(
      (st) => Date.now() - st.mtimeMs > 60_000,
      () => false,
    );
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * One installer at a time per root (two `setup python` runs, or a test run beside one): the lock is a folder
 * (mkdir is atomic) holding the owner's pid. pip takes minutes, so this is not the registry's lock, which would
 * hold up every register and gc meanwhile.
 */
async function withSetupLock<T>(root: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  await mkdir(root, { recursive: true });
  const lock = join(root, '.setup.lock');
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (await holderDead(lock)) {
        await rm(lock, { recursive: true, force: true });
        continue;
      }
      if (signal?.aborted) throw new ModelctlError('INTERRUPTED', 'interrupted while waiting for another `modelctl setup python`');
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/**
 * Creates or updates the managed environments under `root` from the pinned requirement files in python/: one
 * virtual environment per FAMILY_ENV entry, a stamp per family holding the digest of what was installed, so that
 * a second run with the same files does nothing. An install cut short leaves no stamp and is redone next time.
 * Concurrent runs on one root wait for each other.
 */
export async function setupPython(options: SetupPythonOptions): Promise<SetupResult> {
  return withSetupLock(options.root, options.signal, () => setupLocked(options));
}

async function setupLocked(options: SetupPythonOptions): Promise<SetupResult> {
  const base = options.python ?? (WIN ? 'python' : 'python3');
  const out: SetupResult['families'] = [];
  for (const family of options.families) {
    const dir = envDir(options.root, family);
    const python = venvPython(dir);
    if (!options.force && (await isInstalled(options.root, family))) {
      options.onProgress?.({ type: 'up-to-date', family, env: dir });
      out.push({ family, env: dir, python, installed: false, seconds: 0 });
      continue;
    }
    const started = Date.now();
    if (!(await runs(python))) await createVenv(base, dir, options);
    await rm(stampPath(options.root, family), { force: true });
    const nodeps = requirementsFile(family, 'nodeps.txt');
    if (existsSync(nodeps)) {
      options.onProgress?.({ type: 'install', family, env: dir, requirements: nodeps });
      await pip(python, ['--no-deps', '-r', nodeps], family, options);
    }
    const reqs = requirementsFile(family, 'txt');
    options.onProgress?.({ type: 'install', family, env: dir, requirements: reqs });
    // With a .nodeps.txt the family's .txt is a complete lock, installed as it is: resolving it would pull in
    // what the no-deps packages declare (torch's CUDA libraries) after all.
    await pip(python, [...(existsSync(nodeps) ? ['--no-deps'] : []), '-r', reqs], family, options);
    await writeFile(stampPath(options.root, family), `${await familyDigest(family)}\n`);
    const seconds = (Date.now() - started) / 1000;
    options.onProgress?.({ type: 'ready', family, env: dir, seconds });
    out.push({ family, env: dir, python, installed: true, seconds });
  }
  return { families: out };
}
