import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';

/**
 * pull's one HTTP transport, node:http(s), in two shapes: `sendRequest` (one request, the response as node's
 * IncomingMessage: what file bytes are read through, download/http-get.ts) and a `fetch` built on it for the Hub
 * client's small JSON requests (listing, paths-info, the HEAD that learns the commit). Node's own fetch (undici)
 * costs a short command dearly: its first request loads undici and compiles its WebAssembly HTTP parser, about
 * 100 ms of wall time, and V8 then optimises that parser on the other core while the download runs
 * (bench/RESULTS.md, pull). Responses are real `Response` objects; what this cannot send itself (a `Request`
 * object, a streamed body) goes to the global fetch.
 */

const MAX_REDIRECTS = 20;
/** No byte for this long: the connection is dead (undici's default headers and body timeouts are 300 s too). */
export const IDLE_MS = 300_000;
const NULL_BODY = new Set([101, 103, 204, 205, 304]);
export const REDIRECT = new Set([301, 302, 303, 307, 308]);

type Body = string | Uint8Array | URLSearchParams | undefined;

export interface NodeHttpOptions {
  /**
   * The agent for https: URLs, e.g. one that trusts a private CA (`new https.Agent({ ca })`). Default: Node's
   * global agent, whose trusted certificates NODE_EXTRA_CA_CERTS extends.
   */
  httpsAgent?: HttpsAgent;
  /** No byte for this long and the request fails with ETIMEDOUT (default IDLE_MS). */
  idleMs?: number;
}

/** The transport settings of `o`, without anything else it carries. */
export function nodeHttpOptions(o: NodeHttpOptions): NodeHttpOptions {
  return { ...(o.httpsAgent ? { httpsAgent: o.httpsAgent } : {}), ...(o.idleMs !== undefined ? { idleMs: o.idleMs } : {}) };
}

function sendable(body: unknown): body is Body {
  return body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array || body instanceof URLSearchParams;
}

export interface SendOptions extends NodeHttpOptions {
  payload?: string | Uint8Array;
  signal?: AbortSignal;
}

/**
 * One request over node:http(s), without following redirects: resolves with the response once its headers are
 * in, rejects with the system error (ETIMEDOUT after `idleMs` without a byte).
 */
export function sendRequest(url: URL, method: string, headers: Record<string, string>, o: SendOptions = {}): Promise<IncomingMessage> {
  const tls = url.protocol === 'https:';
  const send = tls ? httpsRequest : httpRequest;
  const agent = tls && o.httpsAgent ? { agent: o.httpsAgent } : {};
  return new Promise((resolve, reject) => {
    let response: IncomingMessage | undefined;
    const req = send(url, { method, headers, ...agent, ...(o.signal ? { signal: o.signal } : {}) }, (res) => {
      response = res;
      resolve(res);
    });
    const idle = o.idleMs ?? IDLE_MS;
    req.setTimeout(idle, () => {
      // A stall mid-body fails the body's reader with this error too, not with the reset it causes.
      const stalled = Object.assign(new Error(`no data for ${idle / 1000} s`), { code: 'ETIMEDOUT' });
      response?.destroy(stalled);
      req.destroy(stalled);
    });
    req.on('error', reject);
    req.end(o.payload);
  });
}

function once(
  url: URL,
  method: string,
  headers: Headers,
  body: Body,
  signal: AbortSignal | undefined,
  options: NodeHttpOptions,
): Promise<IncomingMessage> {
  const flat: Record<string, string> = {};
  headers.forEach((value, name) => (flat[name] = value));
  const payload = body instanceof URLSearchParams ? body.toString() : body;
  if (body instanceof URLSearchParams && !headers.has('content-type'))
    flat['content-type'] = 'application/x-www-form-urlencoded;charset=UTF-8';
  if (payload !== undefined) flat['content-length'] = String(Buffer.byteLength(payload));
  // As fetch fails: with the signal's reason when aborted, else a TypeError whose cause holds the system error.
  return sendRequest(url, method, flat, { ...options, ...(payload !== undefined ? { payload } : {}), ...(signal ? { signal } : {}) }).catch(
    (err: unknown) => {
      throw signal?.aborted ? signal.reason : new TypeError('fetch failed', { cause: err });
    },
  );
}

/**
 * The body as a web stream that ends as fetch's does: with the signal's reason when aborted mid-body, with
 * TypeError('terminated') when the connection breaks.
 */
function bodyStream(res: IncomingMessage, signal: AbortSignal | undefined): ReadableStream<Uint8Array> {
  const onAbort = (): void => {
    res.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
  };
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  res.once('close', () => signal?.removeEventListener('abort', onAbort));
  return new ReadableStream<Uint8Array>({
    start(controller) {
      res.on('data', (chunk: Buffer) => {
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
        if ((controller.desiredSize ?? 1) <= 0) res.pause();
      });
      res.once('end', () => controller.close());
      res.once('error', (err) => controller.error(signal?.aborted ? signal.reason : new TypeError('terminated', { cause: err })));
    },
    pull() {
      res.resume();
    },
    cancel() {
      res.destroy();
    },
  });
}

function toResponse(res: IncomingMessage, method: string, url: URL, signal: AbortSignal | undefined): Response {
  const status = res.statusCode ?? 0;
  const headers = new Headers();
  const raw = res.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i] as string, raw[i + 1] as string);
  const empty = method === 'HEAD' || NULL_BODY.has(status);
  if (empty) res.resume();
  const body = empty ? null : bodyStream(res, signal);
  const response = new Response(body, { status, statusText: res.statusMessage ?? '', headers });
  Object.defineProperty(response, 'url', { value: url.href });
  return response;
}

/** `fetch(input, init)` over node:http(s): methods, headers, string/bytes/form bodies, redirects, abort signals. */
export function fetchOverNodeHttp(options: NodeHttpOptions = {}): typeof fetch {
  return ((input: string | URL | Request, init?: RequestInit) => fetchOnce(options, input, init)) as typeof fetch;
}

/** The fetch over node:http(s) with Node's global agents. */
export const nodeFetch = fetchOverNodeHttp();

async function fetchOnce(options: NodeHttpOptions, input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  if (typeof input !== 'string' && !(input instanceof URL)) return globalThis.fetch(input, init);
  if (!sendable(init.body)) return globalThis.fetch(input, init);
  let url = new URL(input);
  let method = (init.method ?? 'GET').toUpperCase();
  let body: Body = init.body ?? undefined;
  const headers = new Headers(init.headers);
  const signal = init.signal ?? undefined;
  for (let hops = 0; ; hops++) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new TypeError('fetch failed', { cause: new Error(`unsupported protocol ${url.protocol}`) });
    signal?.throwIfAborted();
    const res = await once(url, method, headers, body, signal, options);
    const location = res.headers.location;
    const follow = REDIRECT.has(res.statusCode ?? 0) && location !== undefined && (init.redirect ?? 'follow') !== 'manual';
    if (!follow) return toResponse(res, method, url, signal);
    res.resume();
    if (init.redirect === 'error') throw new TypeError('fetch failed', { cause: new Error(`redirect to ${location}`) });
    if (hops >= MAX_REDIRECTS) throw new TypeError('fetch failed', { cause: new Error('redirect count exceeded') });
    const next = new URL(location, url);
    // As fetch does: a 303 (and a 301/302 after a POST) becomes a GET without body; credentials stay on their origin.
    if (res.statusCode === 303 || ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST')) {
      method = method === 'HEAD' ? 'HEAD' : 'GET';
      body = undefined;
      headers.delete('content-type');
    }
    if (next.origin !== url.origin) {
      headers.delete('authorization');
      headers.delete('cookie');
    }
    url = next;
  }
}
