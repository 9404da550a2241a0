import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** What a download needs of a response: the status, headers, and the body as a stream of chunks. */
export interface BodyResponse {
  status: number;
  ok: boolean;
  headers: { get(name: string): string | null };
  body: AsyncIterable<Uint8Array> | null;
  /** Stops reading the body (a response that will not be used). */
  cancel(): Promise<void>;
}

/** A GET that follows redirects. */
export type Getter = (url: string, headers: Record<string, string>, signal?: AbortSignal) => Promise<BodyResponse>;

/** A Getter over a fetch (an injected one, in tests and library use): the body goes through web streams. */
export function fetchGetter(f: typeof fetch): Getter {
  return async (url, headers, signal) => {
    const res = await f(url, { headers, redirect: 'follow', ...(signal ? { signal } : {}) });
    return {
      status: res.status,
      ok: res.ok,
      headers: res.headers,
      body: res.body as unknown as AsyncIterable<Uint8Array> | null,
      cancel: async () => {
        await res.body?.cancel().catch(() => {});
      },
    };
  };
}

const MAX_REDIRECTS = 10;
/** No byte for this long: the connection is dead (what undici's fetch does, with its own 300 s). */
const IDLE_MS = 300_000;

function once(url: URL, headers: Record<string, string>, signal?: AbortSignal): Promise<IncomingMessage> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: 'GET', headers, ...(signal ? { signal } : {}) }, resolve);
    req.setTimeout(IDLE_MS, () => req.destroy(Object.assign(new Error('no data for 300 s'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end();
  });
}

/**
 * GET over node:http(s), for the file bytes: a socket read hands its chunk straight to the caller, without the
 * web-stream layers of fetch (about half a second per GiB on a loaded machine). Redirects are followed by hand so
 * that `authorization` goes only to `authOrigin` (the Hub), never to the CDN it redirects to.
 */
export function httpGetter(options: { authorization?: string; authOrigin?: string } = {}): Getter {
  return async (url, headers, signal) => {
    let target = new URL(url);
    for (let hop = 0; ; hop++) {
      if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new Error(`cannot follow a redirect to ${target.protocol}`);
      const auth: Record<string, string> = options.authorization && target.origin === options.authOrigin ? { authorization: options.authorization } : {};
      const res = await once(target, { ...headers, ...auth }, signal);
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if ([301, 302, 303, 307, 308].includes(status) && location && hop < MAX_REDIRECTS) {
        res.resume();
        target = new URL(location, target);
        continue;
      }
      return {
        status,
        ok: status >= 200 && status < 300,
        headers: {
          get: (name: string) => {
            const v = res.headers[name.toLowerCase()];
            return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
          },
        },
        body: res,
        cancel: async () => {
          res.destroy();
        },
      };
    }
  };
}
