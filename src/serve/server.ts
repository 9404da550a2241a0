import { timingSafeEqual, createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ModelctlError } from '../errors.js';
import type { Registry } from '../registry/index.js';
import { checkSessionOptions, type SessionOptions } from '../runtime/index.js';
import { VERSION } from '../version.js';
import type { Route, ServeContext } from './context.js';
import { HttpError, errorReply, pathSegments, sendJson, sendText } from './http.js';
import { Jobs } from './jobs.js';
import { Metrics } from './metrics.js';
import { ModelManager } from './models.js';
import { openApiDocument } from './openapi.js';
import { openAiReply, speaksOpenAi } from './openai.js';
import { registryRoute } from './routes-registry.js';
import { v1Route } from './routes-v1.js';
import { v2Route } from './routes-v2.js';
import type { AutoConvert } from '../predict/types.js';

/**
 * `modelctl serve` as a library: an HTTP server (node:http, no framework: the routes are few and the protocol's
 * binary extension needs the raw body) over a registry. It never prints; it reports through `onEvent`.
 */

export interface ServeOptions {
  registry: Registry;
  host?: string;
  /** 0 picks a free port (tests, benchmarks). */
  port?: number;
  /** Sessions kept in memory (default 4). */
  maxModels?: number;
  /** Model bytes kept in memory, the cache's stand-in for RAM (default: no limit). */
  maxMemory?: number;
  /** Rows per ONNX Runtime run (default 32; 1 turns batching off). */
  maxBatch?: number;
  /** How long the first request of a batch waits for others (default 5 ms). */
  maxWaitMs?: number;
  /** Bearer token every request but the health checks must carry. */
  token?: string;
  /** Bytes of a JSON or inference request (default 64 MiB). */
  maxBody?: number;
  /** Bytes of an uploaded model (default 16 GiB). */
  maxUpload?: number;
  session?: SessionOptions;
  /** How long a name or alias stays resolved to one version before the registry is read again (default 1 s). */
  resolveTtlMs?: number;
  /** Re-hash a version's files each time it is loaded, and each file before it is downloaded (not only on a changed fingerprint). */
  verify?: boolean;
  /** Pull and export jobs run at once; more wait in order (default 2). */
  maxJobs?: number;
  /** The environment pull and export jobs read (HF_ENDPOINT, HF_TOKEN, HF_HOME, MODELCTL_PYTHON...); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** A registered model that is not ONNX: its ONNX export is served, made on first use when there is none. */
  autoConvert?: AutoConvert;
  onEvent?: (event: ServeEvent) => void;
}

export type ServeEvent =
  | { type: 'request'; method: string; path: string; status: number; ms: number }
  | { type: 'error'; method: string; path: string; error: unknown }
  | { type: 'shutdown'; inflight: number };

export interface RunningServer {
  url: string;
  host: string;
  port: number;
  manager: ModelManager;
  metrics: Metrics;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`, default 30 s), interrupts the jobs and waits for them to stop, then frees every session. */
  close(graceMs?: number): Promise<void>;
}

const METHODS = ['GET', 'POST', 'DELETE', 'PUT'];

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const maxBatch = options.maxBatch ?? 32;
  const maxWaitMs = options.maxWaitMs ?? 5;
  const maxModels = options.maxModels ?? 4;
  for (const [flag, v, min] of [
    ['--max-batch', maxBatch, 1],
    ['--max-wait-ms', maxWaitMs, 0],
    ['--max-models-in-ram', maxModels, 1],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < min)
      throw new ModelctlError('USAGE', `${flag} takes a whole number of at least ${min}, got ${String(v)}`);
  }
  // Sessions open on the first request: options no session could take fail the start, not every request.
  checkSessionOptions(options.session ?? {});
  let inflight = 0;
  let accepting = true;
  const stopping = new AbortController();
  let manager: ModelManager | undefined;
  const metrics = new Metrics(() => {
    const s = manager?.cache.stats();
    return { modelsLoaded: s?.sessions ?? 0, cacheBytes: s?.bytes ?? 0, evictions: s?.evictions ?? 0, inflight };
  });
  manager = new ModelManager({
    registry: options.registry,
    maxModels,
    ...(options.maxMemory !== undefined ? { maxBytes: options.maxMemory } : {}),
    maxBatch,
    maxWaitMs,
    metrics,
    ...(options.session ? { session: options.session } : {}),
    ...(options.resolveTtlMs !== undefined ? { resolveTtlMs: options.resolveTtlMs } : {}),
    verify: options.verify === true,
    ...(options.autoConvert ? { autoConvert: options.autoConvert } : {}),
  });
  const ctx: ServeContext = {
    registry: options.registry,
    manager,
    metrics,
    maxBody: options.maxBody ?? 64 * 1024 * 1024,
    maxUpload: options.maxUpload ?? 16 * 1024 ** 3,
    maxBatch,
    verify: options.verify === true,
    ready: () => accepting,
    signal: stopping.signal,
    jobs: new Jobs(options.maxJobs ?? 2, stopping.signal),
    ...(options.env ? { jobEnv: options.env } : {}),
    ...(options.autoConvert?.python ? { python: options.autoConvert.python } : {}),
  };
  const tokenDigest = options.token ? digest(options.token) : undefined;
  const emit = options.onEvent ?? (() => undefined);
  let drained: (() => void) | undefined;

  const route = (method: string, segs: string[]): Route | undefined => {
    const [head, ...rest] = segs;
    if (head === 'v2') return v2Route(ctx, method, rest);
    if (head === 'v1') return v1Route(ctx, method, rest);
    if (head === 'model-registry') return registryRoute(ctx, method, rest);
    if (method !== 'GET') return undefined;
    if (segs.length === 0)
      return {
        label: '/',
        handle: async (_q, res) => sendJson(res, 200, { name: 'modelctl', version: VERSION, openapi: '/openapi.json' }),
      };
    if (segs.length === 1 && head === 'metrics')
      return {
        label: '/metrics',
        handle: async (_q, res) => sendText(res, 200, metrics.render(), 'text/plain; version=0.0.4; charset=utf-8'),
      };
    if (segs.length === 1 && head === 'openapi.json')
      return { label: '/openapi.json', handle: async (_q, res) => sendJson(res, 200, openApiDocument()) };
    return undefined;
  };

  const authorized = (req: IncomingMessage): boolean => {
    if (!tokenDigest) return true;
    const header = String(req.headers.authorization ?? '');
    const m = /^Bearer\s+(.+)$/i.exec(header);
    // Comparing digests keeps the comparison constant-time whatever the length of the guess.
    return m !== null && timingSafeEqual(digest((m[1] as string).trim()), tokenDigest);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    let label = 'unmatched';
    let path = '/';
    let segs: string[] = [];
    try {
      let url: URL;
      try {
        url = new URL(`http://server${(req.url ?? '/').startsWith('/') ? req.url : `/${req.url}`}`);
      } catch {
        throw new HttpError(400, 'the request target is not a valid URL');
      }
      path = url.pathname;
      segs = pathSegments(url.pathname);
      const health = segs[0] === 'v2' && segs[1] === 'health';
      if (!health && !authorized(req)) {
        throw new HttpError(401, 'a bearer token is required', {
          hint: 'send Authorization: Bearer TOKEN (the --token the server was started with)',
          headers: { 'www-authenticate': 'Bearer' },
        });
      }
      const r = route(method, segs);
      if (!r) {
        const allowed = METHODS.filter((m) => m !== method && route(m, segs));
        if (allowed.length > 0)
          throw new HttpError(405, `${method} is not allowed here`, {
            code: 'METHOD_NOT_ALLOWED',
            hint: `use ${allowed.join(' or ')}`,
            headers: { allow: allowed.join(', ') },
          });
        throw new HttpError(404, `no endpoint at ${method} ${url.pathname}`, { hint: 'GET /openapi.json lists every endpoint' });
      }
      label = r.label;
      if (!accepting) res.setHeader('connection', 'close');
      await r.handle(req, res, url);
    } catch (err) {
      const reply = speaksOpenAi(req.headers, method, segs) ? openAiReply(err) : errorReply(err);
      if (reply.internal) emit({ type: 'error', method, path, error: err });
      if (res.headersSent) res.destroy();
      else {
        // An unread body would otherwise be parsed as the next request on a keep-alive connection.
        if (!req.complete) res.setHeader('connection', 'close');
        sendJson(res, reply.status, reply.body, reply.headers);
      }
    } finally {
      const ms = performance.now() - started;
      metrics.requests.inc({ method, route: label, status: String(res.statusCode) });
      metrics.latency.observe(ms / 1000, { route: label });
      emit({ type: 'request', method, path, status: res.statusCode, ms });
    }
  };

  const server: Server = createServer((req, res) => {
    inflight++;
    res.on('close', () => {
      inflight--;
      if (inflight === 0) drained?.();
    });
    void handle(req, res);
  });
  server.on('clientError', (_err, socket) => {
    const body = '{"error":"malformed HTTP request","code":"BAD_REQUEST"}';
    if (socket.writable)
      socket.end(
        `HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE')
        reject(
          new ModelctlError('USAGE', `${options.host ?? '127.0.0.1'}:${options.port ?? 8080} is already in use`, {
            hint: 'stop the other server, or pick another --port (0 picks a free one)',
          }),
        );
      else if (err.code === 'EACCES')
        reject(
          new ModelctlError('USAGE', `not allowed to listen on port ${options.port ?? 8080}`, {
            hint: 'ports below 1024 need privileges: pick another --port',
          }),
        );
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND')
        reject(
          new ModelctlError('USAGE', `cannot listen on ${options.host}: no such address on this machine`, {
            hint: 'use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)',
          }),
        );
      else reject(err);
    });
    server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.address.includes(':') ? `[${address.address}]` : address.address;

  let closing: Promise<void> | undefined;
  const close = (graceMs = 30_000): Promise<void> => {
    closing ??= (async () => {
      accepting = false;
      emit({ type: 'shutdown', inflight });
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inflight > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((resolve) => {
            drained = resolve;
          }),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, graceMs);
          }),
        ]);
        clearTimeout(timer);
      }
      stopping.abort(new ModelctlError('INTERRUPTED', 'the server is shutting down'));
      server.closeAllConnections();
      await stopped;
      // Pull and export jobs were cut by the signal: they finish cleaning up before the server says it stopped.
      await ctx.jobs.settled();
      await ctx.manager.cache.clear();
    })();
    return closing;
  };

  return { url: `http://${host}:${address.port}`, host: address.address, port: address.port, manager, metrics, close };
}
