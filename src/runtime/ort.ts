import { ModelctlError } from '../errors.js';
import { ortFirstLine } from './ort-errors.js';

export type Ort = typeof import('onnxruntime-node');

let loading: Promise<Ort> | undefined;

/**
 * onnxruntime-node, imported on first use: its native binding costs tens of milliseconds and a few dozen MB, which
 * commands that never run a model should not pay.
 *
 * Its native log level drops to `fatal` unless someone chose a level before: every failure it logs also comes back
 * as an exception that modelctl turns into a one-line error with a hint, so the raw log lines on stderr would only
 * repeat it in a form the CLI cannot style. The level is read when the first session is created; a caller that
 * wants ORT's own logs (e.g. `--verbose`) sets `(await loadOrt()).env.logLevel` before opening a session.
 */
export function loadOrt(): Promise<Ort> {
  loading ??= importOrt().catch((err: unknown) => {
    loading = undefined; // a later call may succeed once the dependency is installed
    throw err;
  });
  return loading;
}

async function importOrt(): Promise<Ort> {
  let ort: Ort;
  try {
    ort = await import('onnxruntime-node');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    const missing = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
    const first = ortFirstLine(err instanceof Error ? err.message : String(err));
    throw new ModelctlError(
      'MISSING_DEPENDENCY',
      missing ? 'onnxruntime-node is not installed' : `onnxruntime-node could not be loaded: ${first}`,
      {
        hint: missing
          ? 'install it with `npm install onnxruntime-node` next to modelctl'
          : `reinstall onnxruntime-node (npm ci): its native binding must match ${process.platform}/${process.arch} and this Node.js`,
        cause: err,
      },
    );
  }
  if (ort.env.logLevel === undefined || ort.env.logLevel === 'warning') ort.env.logLevel = 'fatal';
  return ort;
}
