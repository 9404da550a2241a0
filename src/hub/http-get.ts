import type { IncomingMessage } from 'node:http';
import { IDLE_MS, REDIRECT, sendRequest } from './node-fetch.js';
import { rawGet, type BodyTarget, type RawResponse } from './raw-http.js';

/** What a download needs of a response: the status, headers, and the body as a stream of chunks. */
export interface BodyResponse {
  status: number;
  ok: boolean;
  headers: { get(name: string): string | null };
  body: AsyncIterable<Uint8Array> | null;
  /** When there is no `body`: reads the whole body straight into the target's memory. */
  pump?: (target: BodyTarget) => Promise<void>;
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

function fromRaw(res: RawResponse): BodyResponse {
  return {
    status: res.status,
    ok: res.status >= 200 && res.status < 300,
    headers: { get: (name: string) => res.headers.get(name.toLowerCase()) ?? null },
    body: null,
    pump: res.pump,
    cancel: async () => res.cancel(),
  };
}

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

/** One hop: plain HTTP through our own socket reader when the body is length-delimited, else node:http(s). */
async function hop(target: URL, headers: Record<string, string>, signal?: AbortSignal): Promise<BodyResponse> {
  if (target.protocol === 'http:') {
    const raw = await rawGet(target, headers, { idleMs: IDLE_MS, ...(signal ? { signal } : {}) });
    const redirect = REDIRECT.has(raw.status);
    if (raw.plain || redirect || raw.status >= 300) return fromRaw(raw);
    // A chunked (or close-delimited) success: asked again through node:http, which decodes those.
    raw.cancel();
  }
  return fromNode(await sendRequest(target, 'GET', headers, undefined, signal));
}

/**
 * GET for the file bytes. Plain HTTP goes through `rawGet` (the kernel reads into the sink's own slots); HTTPS and
 * unusual bodies through node:http(s), whose chunks go straight to the caller without fetch's web-stream layers.
 * Redirects are followed by hand so that `authorization` goes only to `authOrigin` (the Hub), never to the CDN it
 * redirects to.
 */
export function httpGetter(options: { authorization?: string; authOrigin?: string } = {}): Getter {
  return async (url, headers, signal) => {
    let target = new URL(url);
    for (let n = 0; ; n++) {
      if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new Error(`cannot follow a redirect to ${target.protocol}`);
      const auth: Record<string, string> = options.authorization && target.origin === options.authOrigin ? { authorization: options.authorization } : {};
      const res = await hop(target, { ...headers, ...auth }, signal);
      const location = res.headers.get('location');
      if (REDIRECT.has(res.status) && location && n < MAX_REDIRECTS) {
        // A node:http redirect is drained (its socket may serve the next hop); ours closes.
        if (res.body) (res.body as IncomingMessage).resume();
        else await res.cancel();
        target = new URL(location, target);
        continue;
      }
      return res;
    }
  };
}
