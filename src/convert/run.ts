import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ModelctlError } from '../errors.js';
import { FAMILIES, pythonDir, type Family } from './families.js';
import { envDir, isInstalled, venvPython } from './setup.js';

/** One JSON Lines event of python/export.py. */
export type ConverterEvent =
  | { event: 'progress'; stage: string; message: string }
  | { event: 'warning'; message: string }
  | { event: 'result'; [key: string]: unknown }
  | { event: 'error'; kind: string; message: string; [key: string]: unknown }
  | {
      event: 'check';
      family: string;
      usable: boolean;
      versions: Record<string, string>;
      error: string | null;
      python: string;
      python_version: string;
    };

export interface Interpreter {
  python: string;
  /** Where it came from, in discovery order. */
  source: '--python' | 'MODELCTL_PYTHON' | 'managed' | 'PATH';
}

/** --python, then MODELCTL_PYTHON, then the managed environment of the family, then python3 on PATH. */
export async function findPython(options: { family: Family; python?: string; env: NodeJS.ProcessEnv; root: string }): Promise<Interpreter> {
  if (options.python) return { python: options.python, source: '--python' };
  if (options.env.MODELCTL_PYTHON) return { python: options.env.MODELCTL_PYTHON, source: 'MODELCTL_PYTHON' };
  const managed = venvPython(envDir(options.root, options.family));
  if (existsSync(managed) && (await isInstalled(options.root, options.family))) return { python: managed, source: 'managed' };
  return { python: process.platform === 'win32' ? 'python' : 'python3', source: 'PATH' };
}

export interface RunConverterOptions {
  python: string;
  args: string[];
  family: Family;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  onEvent?: (event: ConverterEvent) => void;
  /** Each line the converter writes on stderr (its logs), for --verbose. */
  onStderr?: (line: string) => void;
}

function setupHint(family: Family): string {
  return `run \`modelctl setup python --with ${family}\` (or point --python / MODELCTL_PYTHON at an interpreter that has it)`;
}

/**
 * Runs python/export.py in a child process and returns its result event. Its exit code says what failed:
 * 2 usage, 3 a converter module is missing, 4 the conversion, 5 the validation. Aborting the signal (Ctrl-C) kills
 * the child: SIGTERM, then SIGKILL after 5 s.
 */
export async function runConverter(options: RunConverterOptions): Promise<Record<string, unknown>> {
  const script = join(pythonDir(), 'export.py');
  const child = execa(options.python, [script, ...options.args], {
    reject: false,
    stdin: 'ignore',
    buffer: false,
    // ORT_DISABLE_TELEMETRY: as for the Node binding (runtime/ort.ts), whose Linux build collects usage events by
    // default; the validation step's Python onnxruntime gets the same switch.
    env: {
      ...(options.env ?? process.env),
      PYTHONUNBUFFERED: '1',
      PYTHONDONTWRITEBYTECODE: '1',
      TF_CPP_MIN_LOG_LEVEL: '3',
      ORT_DISABLE_TELEMETRY: '1',
    },
    ...(options.signal ? { cancelSignal: options.signal, forceKillAfterDelay: 5000 } : {}),
  });
  let result: Record<string, unknown> | undefined;
  let error: Extract<ConverterEvent, { event: 'error' }> | undefined;
  const stderrTail: string[] = [];
  const stdoutDone = new Promise<void>((done) => {
    if (!child.stdout) return done();
    const rl = createInterface({ input: child.stdout });
    rl.on('line', (line) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        parsed = undefined;
      }
      if (parsed === null || typeof parsed !== 'object' || typeof (parsed as { event?: unknown }).event !== 'string') {
        options.onStderr?.(line); // not an event: something in the converter printed past our redirect
        return;
      }
      const ev = parsed as ConverterEvent;
      if (ev.event === 'result') result = ev;
      else if (ev.event === 'error') error = ev;
      options.onEvent?.(ev);
    });
    rl.on('close', done);
  });
  const stderrDone = new Promise<void>((done) => {
    if (!child.stderr) return done();
    const rl = createInterface({ input: child.stderr });
    rl.on('line', (line) => {
      stderrTail.push(line);
      if (stderrTail.length > 40) stderrTail.shift();
      options.onStderr?.(line);
    });
    rl.on('close', done);
  });
  const r = await child;
  await Promise.all([stdoutDone, stderrDone]);
  if (options.signal?.aborted) throw new ModelctlError('INTERRUPTED', 'interrupted: the converter was stopped');
  if ((r as { code?: string }).code === 'ENOENT' || (r.failed && r.exitCode === undefined && !r.isTerminated)) {
    throw new ModelctlError('MISSING_DEPENDENCY', `no Python interpreter at ${options.python}`, { hint: setupHint(options.family) });
  }
  if (r.exitCode === 0 && result) return result;
  const lastLog = stderrTail.filter((l) => l.trim()).at(-1);
  const message = error?.message ?? (lastLog ? `the converter failed: ${lastLog}` : `the converter exited with ${r.exitCode ?? r.signal}`);
  const details = { converterExitCode: r.exitCode, ...(error?.result ? { result: error.result } : {}) };
  switch (r.exitCode) {
    case 3:
      throw new ModelctlError('MISSING_DEPENDENCY', `the ${options.family} converter is not installed for ${options.python}: ${message}`, {
        hint: setupHint(options.family),
        details,
      });
    case 2:
      throw new ModelctlError('USAGE', message, { hint: 'see `modelctl export --help`', details });
    case 5:
      throw new ModelctlError('CONVERSION_FAILED', message, {
        hint: 'the ONNX model does not reproduce the source: raise --atol if the difference is acceptable, or --no-validate',
        details,
      });
    default:
      throw new ModelctlError('CONVERSION_FAILED', message, { hint: "run again with --verbose to see the converter's log", details });
  }
}

export interface FamilyCheck {
  family: Family;
  usable: boolean;
  python: string;
  source: Interpreter['source'];
  pythonVersion?: string;
  versions: Record<string, string>;
  error?: string;
}

/** `setup python --check`: for each family, whether its converter imports in the interpreter export would use. */
export async function checkFamilies(options: {
  root: string;
  env: NodeJS.ProcessEnv;
  python?: string;
  families?: Family[];
  signal?: AbortSignal;
}): Promise<FamilyCheck[]> {
  const out: FamilyCheck[] = [];
  for (const family of options.families ?? FAMILIES) {
    const interp = await findPython({
      family,
      env: options.env,
      root: options.root,
      ...(options.python ? { python: options.python } : {}),
    });
    const r = await execa(interp.python, [join(pythonDir(), 'export.py'), '--check', family], {
      reject: false,
      stdin: 'ignore',
      env: { ...options.env, TF_CPP_MIN_LOG_LEVEL: '3' },
      timeout: 5 * 60_000,
      ...(options.signal ? { cancelSignal: options.signal } : {}),
    });
    const line = String(r.stdout ?? '')
      .split('\n')
      .find((l) => l.includes('"check"'));
    if (!line) {
      const why =
        (r as { code?: string }).code === 'ENOENT'
          ? `no Python interpreter at ${interp.python}`
          : (String(r.stderr ?? '')
              .trim()
              .split('\n')
              .at(-1) ?? r.shortMessage);
      out.push({ family, usable: false, python: interp.python, source: interp.source, versions: {}, error: why });
      continue;
    }
    const ev = JSON.parse(line) as Extract<ConverterEvent, { event: 'check' }>;
    out.push({
      family,
      usable: ev.usable,
      python: ev.python,
      source: interp.source,
      pythonVersion: ev.python_version,
      versions: ev.versions,
      ...(ev.error ? { error: ev.error } : {}),
    });
  }
  return out;
}
