import { ModelctlError } from '../../errors.js';
import { USER_AGENT } from '../../version.js';
import { connectionError, failureError, httpFailure, isAbort, type FailureContext } from '../http-errors.js';
import type { HashingSink } from './hashing-sink.js';
import type { BodyResponse, Getter } from './http-get.js';

export interface DownloadRequest {
  url: string;
  /** Authorization and the like; never logged. */
  headers: Record<string, string>;
  /** The size the listing announced, when there is one. */
  size?: number;
  sink: HashingSink;
  get: Getter;
  ctx: FailureContext;
  signal?: AbortSignal;
  onBytes?: (delta: number) => void;
  /** Sees every successful response (pull checks X-Repo-Commit there). */
  onResponse?: (res: BodyResponse) => void;
  /** Consecutive attempts without progress before giving up (default 5). */
  retries?: number;
  /** Milliseconds to wait before attempt `n` (1-based) of a retry. */
  backoff?: (n: number) => number;
}

export interface DownloadStats {
  /** Requests made, and the ones that resumed a partial file with a Range request. */
  requests: number;
  resumed: number;
  /** Bytes the server sent, counting those thrown away when a server ignored a Range request. */
  received: number;
}

const defaultBackoff = (n: number): number => Math.min(200 * 2 ** (n - 1), 5000);

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

function rangeStart(res: BodyResponse): number | undefined {
  const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
  return m ? Number(m[1]) : undefined;
}

function totalOf(res: BodyResponse, from: number): number | undefined {
  const range = /\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
  if (range) return Number(range[1]);
  const len = res.headers.get('content-length');
  return len !== null && res.status === 200 ? Number(len) : from > 0 || len === null ? undefined : Number(len);
}

function tooLarge(req: DownloadRequest, total: number): ModelctlError {
  return new ModelctlError('INTEGRITY', `${req.ctx.file ?? req.ctx.what} is larger than the ${total} bytes announced`, {
    hint: 'the server sent other content than it listed; nothing was registered. Try again later',
  });
}

/**
 * Downloads into `sink`. A connection cut mid-body (or a server error) is retried with `Range: bytes=N-` from the
 * bytes already written and hashed, so a resumed file costs only what was missing. A server that ignores the
 * range and sends 200 is followed from the start again.
 */
export async function getWithResume(req: DownloadRequest): Promise<DownloadStats> {
  const { sink, signal } = req;
  const retries = req.retries ?? 5;
  const backoff = req.backoff ?? defaultBackoff;
  const stats: DownloadStats = { requests: 0, resumed: 0, received: 0 };
  let total = req.size;
  let failures = 0;
  let lastError: ModelctlError | undefined;
  const retry = async (err: ModelctlError): Promise<void> => {
    failures++;
    lastError = err;
    if (failures > retries) throw err;
    await sleep(backoff(failures), signal);
  };
  for (;;) {
    signal?.throwIfAborted();
    if (total !== undefined && sink.size === total && stats.requests > 0) break;
    const from = sink.size;
    const headers: Record<string, string> = {
      'user-agent': USER_AGENT,
      ...req.headers,
      ...(from > 0 ? { Range: `bytes=${from}-` } : {}),
    };
    let res: BodyResponse;
    stats.requests++;
    if (from > 0) stats.resumed++;
    try {
      res = await req.get(req.url, headers, signal);
    } catch (err) {
      if (signal?.aborted) throw signal.reason ?? err;
      if (isAbort(err)) throw err;
      await retry(connectionError(err, req.ctx));
      continue;
    }
    if (res.status === 416 && from > 0 && total !== undefined && from >= total) {
      await res.cancel();
      break;
    }
    if (!res.ok) {
      await res.cancel();
      const err = failureError(httpFailure(res), req.ctx);
      if (res.status >= 500 || res.status === 429 || res.status === 408) {
        await retry(err);
        continue;
      }
      throw err;
    }
    if (from > 0 && (res.status !== 206 || rangeStart(res) !== from)) await sink.reset();
    total ??= totalOf(res, sink.size);
    try {
      req.onResponse?.(res);
    } catch (err) {
      await res.cancel();
      throw err;
    }
    const before = sink.size;
    try {
      if (!res.body) throw new Error('empty body');
      for await (const chunk of res.body) {
        stats.received += chunk.length;
        const pending = sink.write(chunk);
        if (pending) await pending;
        req.onBytes?.(chunk.length);
        if (total !== undefined && sink.size > total) throw tooLarge(req, total);
      }
    } catch (err) {
      await res.cancel();
      // An interrupt surfaces as the signal's reason, not as the reset it causes on the socket.
      if (signal?.aborted && !(err instanceof ModelctlError)) throw signal.reason ?? err;
      if (err instanceof ModelctlError || isAbort(err)) throw err;
      if (sink.size > before) failures = 0;
      await retry(connectionError(err, req.ctx));
      continue;
    }
    if (total === undefined || sink.size === total) break;
    // The body ended early without an error (a proxy closed it cleanly): resume from where it stopped.
    if (sink.size > before) failures = 0;
    await retry(
      new ModelctlError('NETWORK', `${req.ctx.file ?? req.ctx.what}: the connection closed after ${sink.size} of ${total} bytes`, {
        hint: 'the server or a proxy kept cutting the download; try again later',
      }),
    );
  }
  if (lastError && total !== undefined && sink.size !== total) throw lastError;
  return stats;
}
