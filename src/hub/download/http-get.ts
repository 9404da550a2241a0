import type { IncomingMessage } from 'node:http';
import { REDIRECT, nodeHttpOptions, sendRequest, type NodeHttpOptions } from '../fetch-over-node-http.js';

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

function fromNode(res: IncomingMessage): BodyResponse {
  const status = res.statusCode ?? 0;
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

export interface HttpGetterOptions extends NodeHttpOptions {
  authorization?: string;
  /** The only origin `authorization` is sent to (the Hub's, never the CDN it redirects to). */
  authOrigin?: string;
}

/**
 * GET for the file bytes, plain HTTP and HTTPS alike, over node:http(s): its chunks go straight to the caller,
 * without fetch's web-stream layers. Redirects are followed by hand so that `authorization` goes only to
 * `authOrigin` (the Hub), never to the CDN it redirects to.
 */
export function httpGetter(options: HttpGetterOptions = {}): Getter {
  const transport: NodeHttpOptions = nodeHttpOptions(options);
  return async (url, headers, signal) => {
    let target = new URL(url);
    for (let n = 0; ; n++) {
      if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new Error(`cannot follow a redirect to ${target.protocol}`);
      const auth: Record<string, string> =
        options.authorization && target.origin === options.authOrigin ? { authorization: options.authorization } : {};
      const res = await sendRequest(target, 'GET', { ...headers, ...auth }, { ...transport, ...(signal ? { signal } : {}) });
      const location = res.headers.location;
      if (REDIRECT.has(res.statusCode ?? 0) && location && n < MAX_REDIRECTS) {
        // Drained, not destroyed: its keep-alive socket may serve the next hop.
        res.resume();
        target = new URL(location, target);
        continue;
      }
      return fromNode(res);
    }
  };
}
