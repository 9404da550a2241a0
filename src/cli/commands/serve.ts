import { ModelctlError } from '../../errors.js';
import { parseDevice } from '../../runtime/index.js';
import { cudaAvailability, cudaMissingError } from '../../runtime/cuda.js';
import { startServer, type ServeEvent } from '../../serve/index.js';
import { parseDuration, parseSize } from '../../util/units.js';
import { integer, openRegistry, type CliContext } from '../context.js';

function required(flag: string, value: number | undefined): number {
  if (value === undefined) throw new ModelctlError('USAGE', `${flag} is missing`);
  return value;
}

/** Runs until SIGTERM or Ctrl-C, then finishes the requests in flight (up to --shutdown-timeout) and exits 0. */
export async function run(_args: string[], options: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const { out } = ctx;
  const port = required('--port', integer('--port', options.port ?? '8080', 0));
  if (port > 65535) throw new ModelctlError('USAGE', `--port takes 0 to 65535, got ${port}`);
  if (options.fallback !== undefined && options.fallback !== 'cpu') throw new ModelctlError('USAGE', `--fallback takes cpu, got "${String(options.fallback)}"`);
  const threads = integer('--threads', options.threads, 0);
  const token = options.token !== undefined ? String(options.token) : ctx.env.MODELCTL_SERVE_TOKEN;
  if (token !== undefined && token.trim() === '') throw new ModelctlError('USAGE', '--token is empty', { hint: 'give a secret string, or leave --token out' });
  const graceMs = parseDuration(String(options.shutdownTimeout ?? '30s'));
  const log = (e: ServeEvent) => {
    if (e.type === 'error') out.warn(`${e.method} ${e.path}: unexpected failure: ${(e.error as Error)?.stack ?? String(e.error)}`);
    else if (e.type === 'request' && out.verbose) out.note(out.json ? JSON.stringify(e) : `${e.method} ${e.path} ${e.status} ${e.ms.toFixed(1)} ms`);
  };
  const device = parseDevice(String(options.device ?? 'cpu'));
  // A server that cannot run anything must not report itself ready: a missing CUDA provider stops it here (exit 6).
  if (device.kind === 'cuda' && options.fallback !== 'cpu') {
    const cuda = cudaAvailability();
    if (!cuda.available) throw cudaMissingError(device, cuda);
  }
  const server = await startServer({
    registry: openRegistry(ctx),
    host: String(options.host ?? '127.0.0.1'),
    port,
    maxModels: required('--max-models-in-ram', integer('--max-models-in-ram', options.maxModelsInRam ?? '4', 1)),
    ...(options.maxMemory !== undefined ? { maxMemory: parseSize(String(options.maxMemory)) } : {}),
    maxBatch: required('--max-batch', integer('--max-batch', options.maxBatch ?? '32', 1)),
    maxWaitMs: required('--max-wait-ms', integer('--max-wait-ms', options.maxWaitMs ?? '5', 0)),
    ...(token !== undefined ? { token } : {}),
    maxBody: parseSize(String(options.maxBody ?? '64MB')),
    maxUpload: parseSize(String(options.maxUpload ?? '16GB')),
    session: {
      device,
      ...(threads !== undefined ? { threads } : {}),
      ...(options.fallback === 'cpu' ? { fallback: 'cpu' as const } : {}),
    },
    ...(options.verify === true ? { verify: true } : {}),
    onEvent: log,
  });
  if (out.json) out.stdout.write(`${JSON.stringify({ url: server.url, host: server.host, port: server.port })}\n`);
  else out.note(`modelctl serve: listening on ${server.url} (OpenAPI: ${server.url}/openapi.json${token !== undefined ? '; bearer token required' : ''})`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    if (ctx.signal.aborted) resolve();
    ctx.signal.addEventListener('abort', stop, { once: true });
  });
  out.note('modelctl serve: shutting down, finishing the requests in flight');
  await server.close(graceMs);
  out.note('modelctl serve: stopped');
  return 0;
}
