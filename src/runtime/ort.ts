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

/**
 * ONNX Runtime 1.29+ POSIX builds (measured on Linux x64, 1.30) start Microsoft's telemetry when the first session creates its
 * environment, unless ORT_DISABLE_TELEMETRY is set (or CI, or ORT_RUNNING_UNIT_TESTS): it writes a device id and an
 * event database under ~/.cache/Microsoft/DeveloperTools and uploads model facts. modelctl sends nothing anywhere
 * unasked, so it is switched off for this process, whatever the caller's environment says. It is also what made a
 * long command line crash: that telemetry reads /proc/self/cmdline and matches it with std::regex, whose recursion
 * overflows the main thread's 8 MB stack at about 30,000 characters (issue 14: a long --context argument, exit 139).
 * The variable is read when the environment is created, so it is set before the module loads; a host process that
 * already created its own ONNX Runtime environment keeps what it chose.
 */
const ORT_TELEMETRY_VARIABLE = 'ORT_DISABLE_TELEMETRY';

async function importOrt(): Promise<Ort> {
  process.env[ORT_TELEMETRY_VARIABLE] = '1';
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
