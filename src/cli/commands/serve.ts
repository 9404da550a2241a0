import { ModelctlError } from '../../errors.js';
import { cudaAvailability, cudaMissingError } from '../../runtime/cuda.js';
import { startServer, type ServeEvent } from '../../serve/index.js';
import { openRegistry, type CliContext } from '../context.js';
import type { ServeFlags } from '../specs/serve.js';
import { autoConvert } from './convert-progress.js';

/** Runs until SIGTERM or Ctrl-C, then finishes the requests in flight (up to --shutdown-timeout) and exits 0. */
export async function run(_args: string[], options: ServeFlags, ctx: CliContext): Promise<number> {
  const { out } = ctx;
  const { device, threads } = options;
  const token = options.token ?? ctx.env.MODELCTL_SERVE_TOKEN;
  if (token !== undefined && token.trim() === '')
    throw new ModelctlError('USAGE', '--token is empty', { hint: 'give a secret string, or leave --token out' });
  const log = (e: ServeEvent) => {
    if (e.type === 'error') out.warn(`${e.method} ${e.path}: unexpected failure: ${(e.error as Error)?.stack ?? String(e.error)}`);
    else if (e.type === 'request' && out.verbose)
      out.note(out.json ? JSON.stringify(e) : `${e.method} ${e.path} ${e.status} ${e.ms.toFixed(1)} ms`);
  };
  // A server that cannot run anything must not report itself ready: a missing CUDA provider stops it here (exit 6).
  if (device.kind === 'cuda' && options.fallback !== 'cpu') {
    const cuda = cudaAvailability();
    if (!cuda.available) throw cudaMissingError(device, cuda);
  }
  const server = await startServer({
    registry: openRegistry(ctx),
    host: options.host,
    port: options.port,
    maxModels: options.maxModelsInRam,
    maxMemory: options.maxMemory,
    maxBatch: options.maxBatch,
    maxWaitMs: options.maxWaitMs,
    ...(token !== undefined ? { token } : {}),
    maxBody: options.maxBody,
    maxUpload: options.maxUpload,
    maxJobs: options.maxJobs,
    // Pull and export jobs read the environment the command was given (HF_ENDPOINT, HF_TOKEN, MODELCTL_PYTHON...).
    env: ctx.env,
    session: {
      device,
      ...(threads !== undefined ? { threads } : {}),
      ...(options.fallback ? { fallback: options.fallback } : {}),
    },
    ...(options.verify === true ? { verify: true } : {}),
    // Conversions are said in the log, without a spinner (several requests may wait on one).
    autoConvert: autoConvert(options, ctx, { update() {}, bytes() {}, succeed() {}, stop() {} }).autoConvert,
    onEvent: log,
  });
  if (out.json) out.stdout.write(`${JSON.stringify({ url: server.url, host: server.host, port: server.port })}\n`);
  else
    out.note(
      `modelctl serve: listening on ${server.url} (OpenAPI: ${server.url}/openapi.json${token !== undefined ? '; bearer token required' : ''})`,
    );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    if (ctx.signal.aborted) resolve();
    ctx.signal.addEventListener('abort', stop, { once: true });
  });
  out.note('modelctl serve: shutting down, finishing the requests in flight');
  await server.close(options.shutdownTimeoutMs);
  out.note('modelctl serve: stopped');
  return 0;
}
