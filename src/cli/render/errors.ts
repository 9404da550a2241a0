import { ModelctlError } from '../../errors.js';
import type { Output } from './output.js';

/** One line for an expected error (plus its hint); a stack only for --verbose or for an unexpected error (a bug). */
export function renderError(out: Output, err: unknown): void {
  const c = out.ce;
  if (err instanceof ModelctlError) {
    out.stderr.write(`${c.red('error:')} ${err.message}\n`);
    if (err.hint) out.stderr.write(`${c.dim('hint:')} ${err.hint}\n`);
    if (out.verbose && err.stack) out.stderr.write(`${c.dim(err.stack)}\n`);
    if (out.verbose && err.cause instanceof Error) out.stderr.write(`${c.dim(`caused by: ${err.cause.stack ?? err.cause.message}`)}\n`);
    if (out.json) out.stdout.write(`${JSON.stringify({ error: err.toJSON() }, null, 2)}\n`);
    return;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  out.stderr.write(`${c.red('error:')} unexpected failure: ${e.message}\n`);
  out.stderr.write(`${c.dim(e.stack ?? '')}\n`);
  out.stderr.write(`${c.dim('hint:')} this is a bug in modelctl; please report it with the command you ran and the output above\n`);
  if (out.json) out.stdout.write(`${JSON.stringify({ error: { code: 'INTERNAL', message: e.message, exitCode: 70 } }, null, 2)}\n`);
}
