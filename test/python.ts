/**
 * The real onnx checker, for tests: runs test/py/check_onnx.py with the interpreter that test/setup/python-env.ts
 * prepared (.venv-test).
 *
 * Tests that need it start with `if (!pythonAvailable()) return;`: under CI a missing interpreter throws (the
 * test fails with the reason); elsewhere the test prints a loud warning and passes without checking.
 */
import { execa } from 'execa';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, inject } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CHECK_SCRIPT = join(ROOT, 'test', 'py', 'check_onnx.py');

/** One line of check_onnx.py's output. Everything but path/ok/error is null when the file does not parse. */
export interface OnnxCheck {
  path: string;
  ok: boolean;
  /** `ExceptionClass: message` from onnx.load or onnx.checker.check_model. */
  error: string | null;
  ir_version: number | null;
  /** domain ("" is the default domain) -> version */
  opset: Record<string, number> | null;
  metadata_props: Record<string, string> | null;
  /** sha256 of the serialized GraphProto (external data not loaded: references, not bytes). */
  graph_sha256: string | null;
}

function provided(): { python: string | null; error: string | null } {
  return inject('testPython') ?? { python: null, error: 'the globalSetup test/setup/python-env.ts did not run (see vitest.config.ts)' };
}

/** The test interpreter's path, or null. */
export function testPython(): string | null {
  return provided().python;
}

/**
 * True when the Python test environment is there. Otherwise: throws under CI=true, and elsewhere warns loudly
 * (naming the test) and returns false so the test can return early.
 */
export function pythonAvailable(): boolean {
  const { python, error } = provided();
  if (python) return true;
  const message = `Python test environment (.venv-test) unavailable: ${error ?? 'unknown reason'}`;
  if (process.env.CI === 'true') throw new Error(message);
  const name = expect.getState().currentTestName ?? 'a test';
  console.warn(`\n!!! NOT CHECKED: "${name}" needs Python and did not run its checks.\n!!! ${message.split('\n').join('\n!!! ')}\n`);
  return false;
}

/** onnx.checker.check_model (full_check=False) and a few facts for each file, in order. */
export async function checkOnnx(paths: string[]): Promise<OnnxCheck[]> {
  const { python, error } = provided();
  if (!python) throw new Error(`checkOnnx needs the Python test environment (.venv-test): ${error ?? 'unknown reason'}`);
  if (paths.length === 0) return [];
  // "--": a path that starts with "-" is still a path.
  const r = await execa(python, [CHECK_SCRIPT, '--', ...paths], {
    reject: false,
    stdin: 'ignore',
    env: { PYTHONIOENCODING: 'utf-8', PYTHONDONTWRITEBYTECODE: '1' },
  });
  if (r.exitCode !== 0) {
    throw new Error(`check_onnx.py exited with ${r.exitCode ?? r.shortMessage}:\n${r.stderr}`);
  }
  const results = r.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as OnnxCheck);
  if (results.length !== paths.length) {
    throw new Error(`check_onnx.py gave ${results.length} results for ${paths.length} files:\n${r.stdout}\n${r.stderr}`);
  }
  return results;
}
