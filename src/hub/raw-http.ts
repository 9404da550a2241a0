import { connect, type Socket } from 'node:net';

/**
 * Where a body's bytes go, read by the kernel straight into the target's own memory: no per-read allocation, no
 * copy in JavaScript, no HTTP parser per chunk (node:http costs about 1.5 s of CPU per GiB in garbage collection,
 * `socketOnData` and the copy into our buffers; this path about 0.1 s).
 */
export interface BodyTarget {
  /** Memory the next socket read may fill (at least one byte). Valid until `commit`. */
  space(): Uint8Array;
  /** `n` bytes were read into the last `space()`. False: stop reading until `ready()` settles. Throws to abort. */
  commit(n: number): boolean;
  ready(): Promise<void>;
}

export interface RawResponse {
  status: number;
  headers: Map<string, string>;
  /** The body is delimited by Content-Length (no Transfer-Encoding): `pump` can read it. */
  plain: boolean;
  /** Reads the whole (plain) body into the target; rejects if the connection ends early. */
  pump(target: BodyTarget): Promise<void>;
  cancel(): void;
}

const HEAD_MAX = 64 * 1024;
/** A read between two phases (after the head, while the target is not there yet) lands here and is copied. */
const BRIDGE = 64 * 1024;

function requestHead(url: URL, headers: Record<string, string>): string {
  const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`, 'Connection: close'];
  for (const [name, value] of Object.entries(headers)) {
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) throw new Error(`invalid header ${name}`);
    lines.push(`${name}: ${value}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}

function parseHead(text: string): { status: number; headers: Map<string, string> } {
  const [statusLine = '', ...rest] = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!m) throw Object.assign(new Error(`not an HTTP/1.1 response: ${statusLine.slice(0, 40)}`), { code: 'EPROTO' });
  const headers = new Map<string, string>();
  for (const line of rest) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const had = headers.get(name);
    headers.set(name, had === undefined ? value : `${had}, ${value}`);
  }
  return { status: Number(m[1]), headers };
}

/**
 * One GET over a plain-HTTP connection of its own (`Connection: close`), its socket read with `onread` into
 * memory we hand out. Resolves once the response head has arrived; the body waits, paused, for `pump`.
 */
export function rawGet(url: URL, headers: Record<string, string>, options: { signal?: AbortSignal; idleMs: number }): Promise<RawResponse> {
  const head = Buffer.allocUnsafe(HEAD_MAX);
  const bridge = Buffer.allocUnsafe(BRIDGE);
  let headLen = 0;
  let phase: 'head' | 'wait' | 'body' | 'done' = 'head';
  let target: BodyTarget | undefined;
  let remaining = 0;
  let received = 0;
  let expected = 0;
  let pending: Buffer | undefined; // bytes read before `pump` (after the head, or into the bridge)
  let settleHead: { resolve: (r: RawResponse) => void; reject: (e: unknown) => void } | undefined;
  let settleBody: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  let socket: Socket;

  const fail = (err: unknown): void => {
    if (phase === 'done') return;
    phase = 'done';
    socket.destroy();
    settleHead?.reject(err);
    settleBody?.reject(err);
  };
  const finishBody = (): void => {
    phase = 'done';
    socket.destroy();
    settleBody?.resolve();
  };
  /** Hands `bytes` (already in our memory) to the target, a copy each. */
  const deliver = (bytes: Uint8Array): boolean => {
    let off = 0;
    let go = true;
    while (off < bytes.length) {
      const space = (target as BodyTarget).space();
      const n = Math.min(space.length, bytes.length - off);
      space.set(bytes.subarray(off, off + n));
      off += n;
      go = (target as BodyTarget).commit(n);
    }
    return go;
  };
  const nextBuffer = (): Uint8Array => {
    if (phase === 'head') return head.subarray(headLen);
    if (phase !== 'body' || !target || remaining === 0) return bridge;
    try {
      const space = target.space();
      return space.length > remaining ? space.subarray(0, remaining) : space;
    } catch (err) {
      // Called by Node between reads, outside our callback: a failed sink must not become an uncaught exception.
      fail(err);
      return bridge;
    }
  };
  const resumeWhenReady = (): void => {
    (target as BodyTarget).ready().then(() => {
      if (phase === 'body') socket.resume();
    }, fail);
  };

  const onHead = (): boolean => {
    const end = head.subarray(0, headLen).indexOf('\r\n\r\n');
    if (end < 0) {
      if (headLen === HEAD_MAX) throw Object.assign(new Error('response head larger than 64 KiB'), { code: 'EPROTO' });
      return true;
    }
    const parsed = parseHead(head.toString('latin1', 0, end));
    const rest = head.subarray(end + 4, headLen);
    if (parsed.status >= 100 && parsed.status < 200) {
      // An interim response (100 Continue): the real head follows.
      head.copy(head, 0, end + 4, headLen);
      headLen = rest.length;
      return onHead();
    }
    const length = parsed.headers.get('content-length');
    const plain = !parsed.headers.has('transfer-encoding') && length !== undefined && /^\d+$/.test(length);
    expected = remaining = plain ? Number(length) : 0;
    const taken = rest.subarray(0, remaining);
    pending = Buffer.from(taken);
    remaining -= taken.length;
    received = taken.length;
    phase = 'wait';
    const response: RawResponse = {
      status: parsed.status,
      headers: parsed.headers,
      plain,
      pump: (t) => new Promise<void>((resolve, reject) => {
        if (!plain || phase !== 'wait') return reject(new Error('this response has no body to pump'));
        settleBody = { resolve, reject };
        target = t;
        phase = 'body';
        try {
          const go = pending && pending.length > 0 ? deliver(pending) : true;
          pending = undefined;
          if (remaining === 0) return finishBody();
          if (go) socket.resume();
          else resumeWhenReady();
        } catch (err) {
          fail(err);
        }
      }),
      cancel: () => fail(Object.assign(new Error('cancelled'), { name: 'AbortError' })),
    };
    settleHead?.resolve(response);
    settleHead = undefined;
    return false;
  };

  const onRead = (n: number, buf: Uint8Array): boolean => {
    try {
      if (phase === 'head') {
        headLen += n;
        return onHead();
      }
      if (phase === 'wait') {
        // Read before pump was called (the socket pauses, but one read may be in flight): kept for pump.
        const extra = Buffer.from(buf.subarray(0, Math.min(n, remaining)));
        pending = pending ? Buffer.concat([pending, extra]) : extra;
        remaining -= extra.length;
        received += extra.length;
        return false;
      }
      if (phase !== 'body') return false;
      const t = target as BodyTarget;
      let go: boolean;
      if (buf === bridge) {
        const take = buf.subarray(0, Math.min(n, remaining));
        remaining -= take.length;
        received += take.length;
        go = deliver(take);
      } else {
        remaining -= n;
        received += n;
        go = t.commit(n);
      }
      if (remaining <= 0) {
        finishBody();
        return false;
      }
      if (!go) resumeWhenReady();
      return go;
    } catch (err) {
      fail(err);
      return false;
    }
  };

  return new Promise<RawResponse>((resolve, reject) => {
    settleHead = { resolve, reject };
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    socket = connect({ host, port: Number(url.port || 80), onread: { buffer: nextBuffer, callback: onRead } });
    socket.setNoDelay(true);
    socket.setTimeout(options.idleMs, () => fail(Object.assign(new Error(`no data for ${options.idleMs / 1000} s`), { code: 'ETIMEDOUT' })));
    socket.on('error', fail);
    socket.on('close', () => {
      if (phase === 'done') return;
      if (phase === 'body' || phase === 'wait') {
        fail(Object.assign(new Error(`the connection closed after ${received} of ${expected} bytes`), { code: 'ECONNRESET' }));
      } else {
        fail(Object.assign(new Error('the connection closed before a response'), { code: 'ECONNRESET' }));
      }
    });
    const signal = options.signal;
    if (signal) {
      if (signal.aborted) return fail(signal.reason);
      const onAbort = (): void => fail(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      socket.on('close', () => signal.removeEventListener('abort', onAbort));
    }
    try {
      socket.write(requestHead(url, headers));
    } catch (err) {
      fail(err);
    }
  });
}
