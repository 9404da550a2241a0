import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { httpGetter } from '../../src/hub/http-get.js';
import { rawGet, type BodyTarget } from '../../src/hub/raw-http.js';

const servers: Array<Server | NetServer> = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function listen<T extends Server | NetServer>(s: T): Promise<string> {
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

/** A target that hands out small pieces of memory and asks the reader to wait now and then. */
function collector(piece = 1000): BodyTarget & { bytes(): Buffer } {
  const parts: Buffer[] = [];
  let last = Buffer.alloc(0);
  let commits = 0;
  return {
    space: () => (last = Buffer.alloc(piece)),
    commit: (n) => {
      parts.push(Buffer.from(last.subarray(0, n)));
      return ++commits % 5 !== 0;
    },
    ready: () => new Promise((r) => setTimeout(r, 1)),
    bytes: () => Buffer.concat(parts),
  };
}

describe('rawGet', () => {
  it('reads a Content-Length body into the memory the target hands out, pausing when it asks', async () => {
    const body = randomBytes(3 * 1024 * 1024 + 17);
    const url = await listen(createServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(body.length), 'x-repo-commit': 'abc' });
      res.write(body.subarray(0, 100));
      setTimeout(() => res.end(body.subarray(100)), 20);
    }));
    const res = await rawGet(new URL(`${url}/f`), { Range: 'bytes=0-' }, { idleMs: 5000 });
    expect(res.status).toBe(200);
    expect(res.plain).toBe(true);
    expect(res.headers.get('x-repo-commit')).toBe('abc');
    const target = collector(70_000);
    await res.pump(target);
    expect(target.bytes().equals(body)).toBe(true);
  });

  it('skips an interim 100 response and keeps body bytes that came with the head', async () => {
    const url = await listen(createNetServer((socket) => {
      socket.once('data', () => {
        socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-A: 1\r\nX-A: 2\r\n\r\nhel');
        setTimeout(() => socket.end('lo world'), 30);
      });
    }));
    const res = await rawGet(new URL(url), {}, { idleMs: 5000 });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-a')).toBe('1, 2');
    await new Promise((r) => setTimeout(r, 60)); // the rest arrives before anyone pumps
    const target = collector(4);
    await res.pump(target);
    expect(target.bytes().toString()).toBe('hello world');
  });

  it('rejects with a connection error when the body stops short', async () => {
    const url = await listen(createServer((_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write(Buffer.alloc(400), () => setTimeout(() => res.socket?.destroy(), 10));
    }));
    const res = await rawGet(new URL(url), {}, { idleMs: 5000 });
    const err = await res.pump(collector()).then(() => undefined, (e: unknown) => e);
    expect((err as { code?: string }).code).toBe('ECONNRESET');
    expect(String(err)).toContain('400 of 1000');
  });
});

describe('httpGetter', () => {
  it('follows a redirect, sends authorization only to its origin, and reads a chunked body through node:http', async () => {
    const body = randomBytes(200_000);
    const seen: Array<string | undefined> = [];
    const cdn = await listen(createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(200); // no Content-Length: chunked
      res.end(body);
    }));
    const hub = await listen(createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(302, { location: `${cdn}/blob` }).end();
    }));
    const get = httpGetter({ authorization: 'Bearer secret', authOrigin: new URL(hub).origin });
    const res = await get(`${hub}/resolve/x`, {});
    expect(res.status).toBe(200);
    expect(res.pump).toBeUndefined();
    const parts: Uint8Array[] = [];
    for await (const c of res.body as AsyncIterable<Uint8Array>) parts.push(c);
    expect(Buffer.concat(parts).equals(body)).toBe(true);
    // The hub once; the CDN twice (our reader saw a chunked body and left it to node:http), never with the token.
    expect(seen).toEqual(['Bearer secret', undefined, undefined]);
  });
});

describe('rawGet, a target that fails', () => {
  it('rejects pump (no uncaught exception) when the target cannot give memory between reads', async () => {
    const url = await listen(createServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(1 << 20) });
      res.write(Buffer.alloc(1000));
      setTimeout(() => res.end(Buffer.alloc((1 << 20) - 1000)), 20);
    }));
    const res = await rawGet(new URL(url), {}, { idleMs: 5000 });
    let calls = 0;
    const target: BodyTarget = {
      space: () => {
        if (++calls > 1) throw new Error('disk full');
        return Buffer.alloc(500);
      },
      commit: () => true,
      ready: async () => {},
    };
    const err = await res.pump(target).then(() => undefined, (e: unknown) => e);
    expect(String(err)).toContain('disk full');
  });
});
