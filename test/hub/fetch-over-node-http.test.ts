import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { listFiles, pathsInfo } from '@huggingface/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeFetch } from '../../src/hub/fetch-over-node-http.js';
import { HubServer } from './server.js';
import { bertRepo } from './fixtures.js';

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

/** Two origins: `a` answers and redirects, `b` is "another host" that records what reached it. */
function origin(
  handler: (req: IncomingMessage, res: ServerResponse, body: string) => void,
  seen: Seen[],
): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        body,
      });
      handler(req, res, body);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })),
  );
}

const seenA: Seen[] = [];
const seenB: Seen[] = [];
let a: { server: Server; url: string };
let b: { server: Server; url: string };

beforeAll(async () => {
  b = await origin((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'x-where': 'b' }).end(JSON.stringify({ method: req.method }));
  }, seenB);
  a = await origin((req, res, body) => {
    const path = req.url ?? '';
    if (path === '/json') return res.writeHead(200, { 'content-type': 'application/json', 'x-repo-commit': 'c0ffee' }).end('{"ok":true}');
    if (path === '/echo') return res.writeHead(201, { 'content-type': 'text/plain' }).end(`${req.method} ${body}`);
    if (path === '/same') return res.writeHead(302, { location: '/json' }).end();
    if (path === '/away') return res.writeHead(307, { location: `${b.url}/landed` }).end();
    if (path === '/see-other') return res.writeHead(303, { location: `${b.url}/other` }).end();
    if (path === '/loop') return res.writeHead(302, { location: '/loop' }).end();
    if (path === '/empty') return res.writeHead(204).end();
    if (path === '/stall') return; // never answers
    if (path.startsWith('/half')) {
      // Headers and part of the body, then nothing (or, with ?cut, a broken connection).
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"partial": ');
      if (req.url?.includes('cut')) setTimeout(() => res.destroy(), 30);
      return;
    }
    res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end('{"error":"nope"}');
  }, seenA);
});
afterAll(async () => {
  await Promise.all([a, b].map((o) => new Promise((r) => o.server.close(r))));
});

describe('nodeFetch (fetch over node:http for the Hub client)', () => {
  it('returns real Responses: status, headers, JSON and text bodies, its URL', async () => {
    const res = await nodeFetch(`${a.url}/json`);
    expect(res).toBeInstanceOf(Response);
    expect(res.ok).toBe(true);
    expect(res.headers.get('X-Repo-Commit')).toBe('c0ffee');
    expect(res.url).toBe(`${a.url}/json`);
    expect(await res.json()).toEqual({ ok: true });

    const missing = await nodeFetch(new URL('/missing', a.url));
    expect([missing.status, missing.ok, missing.headers.get('x-error-code')]).toEqual([404, false, 'EntryNotFound']);
    expect(await missing.text()).toBe('{"error":"nope"}');

    const empty = await nodeFetch(`${a.url}/empty`);
    expect([empty.status, empty.body]).toEqual([204, null]);
  });

  it('sends methods and bodies (strings, bytes, forms with their content type)', async () => {
    const text = await nodeFetch(`${a.url}/echo`, {
      method: 'POST',
      body: '{"paths":["x"]}',
      headers: { 'content-type': 'application/json' },
    });
    expect([text.status, await text.text()]).toEqual([201, 'POST {"paths":["x"]}']);
    const bytes = await nodeFetch(`${a.url}/echo`, { method: 'put', body: new TextEncoder().encode('héllo') });
    expect(await bytes.text()).toBe('PUT héllo');
    await nodeFetch(`${a.url}/echo`, { method: 'POST', body: new URLSearchParams({ paths: 'a b', expand: 'true' }) }).then((r) => r.text());
    const form = seenA.at(-1) as Seen;
    expect(form.body).toBe('paths=a+b&expand=true');
    expect(form.contentType).toMatch(/^application\/x-www-form-urlencoded/);
    const head = await nodeFetch(`${a.url}/json`, { method: 'HEAD' });
    expect([head.status, head.body, head.headers.get('x-repo-commit')]).toEqual([200, null, 'c0ffee']);
  });

  it('follows redirects, drops credentials at another origin, and keeps a manual redirect as it came', async () => {
    const same = await nodeFetch(`${a.url}/same`, { headers: { authorization: 'Bearer secret' } });
    expect(await same.json()).toEqual({ ok: true });
    expect(same.url).toBe(`${a.url}/json`);
    expect((seenA.at(-1) as Seen).authorization).toBe('Bearer secret'); // same origin: kept

    const away = await nodeFetch(`${a.url}/away`, { method: 'POST', body: 'x', headers: { authorization: 'Bearer secret' } });
    expect(await away.json()).toEqual({ method: 'POST' }); // 307 keeps the method
    expect((seenB.at(-1) as Seen).authorization).toBeUndefined();

    const other = await nodeFetch(`${a.url}/see-other`, { method: 'POST', body: 'x' });
    expect(await other.json()).toEqual({ method: 'GET' }); // 303 becomes a GET without body
    expect((seenB.at(-1) as Seen).body).toBe('');

    const manual = await nodeFetch(`${a.url}/away`, { method: 'HEAD', redirect: 'manual' });
    expect([manual.status, manual.headers.get('location')]).toEqual([307, `${b.url}/landed`]);

    await expect(nodeFetch(`${a.url}/loop`)).rejects.toThrow(TypeError);
    await expect(nodeFetch(`${a.url}/away`, { redirect: 'error' })).rejects.toThrow(TypeError);
  });

  it('fails as fetch does: TypeError with the system error as cause; AbortError on abort', async () => {
    const closed = await origin(() => {}, []);
    await new Promise((r) => closed.server.close(r));
    const err = await nodeFetch(`${closed.url}/x`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TypeError);
    expect((err as { cause?: { code?: string } }).cause?.code).toBe('ECONNREFUSED');

    const ac = new AbortController();
    const stalled = nodeFetch(`${a.url}/stall`, { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await expect(stalled).rejects.toMatchObject({ name: 'AbortError' });
    await expect(nodeFetch(`${a.url}/json`, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it("an abort while the body arrives rejects with the signal's reason; a cut connection with TypeError", async () => {
    const ac = new AbortController();
    const res = await nodeFetch(`${a.url}/half`, { signal: ac.signal });
    setTimeout(() => ac.abort(), 30);
    await expect(res.json()).rejects.toMatchObject({ name: 'AbortError' });

    const custom = new AbortController();
    const reason = new Error('stop here');
    const res2 = await nodeFetch(`${a.url}/half`, { signal: custom.signal });
    setTimeout(() => custom.abort(reason), 30);
    await expect(res2.text()).rejects.toBe(reason);
    const early = new AbortController();
    early.abort(reason);
    await expect(nodeFetch(`${a.url}/json`, { signal: early.signal })).rejects.toBe(reason);

    const cut = await nodeFetch(`${a.url}/half?cut`);
    const err = await cut.text().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toBe('terminated');
  });

  it('is what @huggingface/hub lists and asks paths-info through, against the loopback Hub', async () => {
    const { repo, commit } = bertRepo('acme/nf-bert', 1 << 16);
    const hub = await new HubServer([repo]).start();
    try {
      const listed: string[] = [];
      for await (const f of listFiles({
        repo: { type: 'model', name: repo.id },
        revision: commit,
        recursive: true,
        hubUrl: hub.url,
        fetch: nodeFetch,
      }))
        listed.push(f.path);
      expect(listed.sort()).toEqual(repo.commits[commit]?.map((f) => f.path).sort());
      const infos = await pathsInfo({
        repo: { type: 'model', name: repo.id },
        paths: ['model.safetensors'],
        revision: commit,
        hubUrl: hub.url,
        fetch: nodeFetch,
      });
      const weights = repo.commits[commit]?.find((f) => f.path === 'model.safetensors');
      expect(infos.map((i) => [i.path, i.size])).toEqual([['model.safetensors', weights?.content.length]]);
    } finally {
      await hub.close();
    }
  });
});
