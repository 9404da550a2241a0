/**
 * A loopback proxy in front of the real registry, for what the registry itself never does: ask for a bearer token
 * (the Docker token protocol, with its own token endpoint), or change bytes on the way (a manifest or a blob that
 * no longer matches its digest).
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface ProxyOptions {
  upstream: string;
  /** Requests need `Bearer <token>`; the token endpoint /token takes these Basic credentials. */
  bearer?: { user: string; password: string; token: string };
  corrupt?: 'manifest' | 'blob';
  /** The first blob GET sends half its body, then the connection is cut. */
  cut?: boolean;
  /** Manifest GETs are answered with this status and a registry-style error body. */
  manifestStatus?: number;
}

export interface Proxy {
  host: string;
  /** The scope parameters the token endpoint was asked for. */
  scopes: string[];
  /** Authorization headers the proxy saw on registry requests. */
  authorizations: string[];
  /** "METHOD /path" of every registry request, in order. */
  requests: string[];
  /** The Range headers of blob requests. */
  ranges: string[];
  close(): Promise<void>;
}

function body(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startProxy(o: ProxyOptions): Promise<Proxy> {
  const scopes: string[] = [];
  const authorizations: string[] = [];
  const requests: string[] = [];
  const ranges: string[] = [];
  let cutDone = false;
  let host = '';
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', `http://${host}`);
    if (o.bearer && url.pathname === '/token') {
      scopes.push(...url.searchParams.getAll('scope'));
      const basic = `Basic ${Buffer.from(`${o.bearer.user}:${o.bearer.password}`).toString('base64')}`;
      if (req.headers.authorization !== basic) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: o.bearer.token, expires_in: 300 }));
      return;
    }
    requests.push(`${req.method} ${url.pathname}`);
    if (req.headers.range) ranges.push(req.headers.range);
    if (req.headers.authorization) authorizations.push(req.headers.authorization);
    if (o.bearer && req.headers.authorization !== `Bearer ${o.bearer.token}`) {
      const repo = /^\/v2\/(.+?)\/(?:blobs|manifests|tags)\//.exec(url.pathname)?.[1] ?? '';
      res
        .writeHead(401, {
          'content-type': 'application/json',
          'www-authenticate': `Bearer realm="http://${host}/token",service="modelctl-test",scope="repository:${repo}:pull"`,
        })
        .end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    if (o.manifestStatus && /\/manifests\//.test(url.pathname) && req.method === 'GET') {
      res
        .writeHead(o.manifestStatus, { 'content-type': 'application/json' })
        .end('{"errors":[{"code":"UNKNOWN","message":"storage backend unavailable"}]}');
      return;
    }
    const payload = await body(req);
    const headers = { ...req.headers, host: o.upstream };
    delete headers.authorization;
    const up = await new Promise<IncomingMessage>((resolve, reject) => {
      const r = request(`http://${o.upstream}${req.url ?? '/'}`, { method: req.method ?? 'GET', headers }, resolve);
      r.on('error', reject);
      r.end(payload);
    });
    let data = await body(up);
    const isManifest = /\/manifests\//.test(url.pathname) && req.method === 'GET';
    const isBlob = /\/blobs\/sha256:/.test(url.pathname) && req.method === 'GET';
    if ((o.corrupt === 'manifest' && isManifest) || (o.corrupt === 'blob' && isBlob && data.length > 0)) {
      data = Buffer.from(data);
      // Same length, one byte different: only a digest check can tell.
      const at = isManifest ? data.indexOf('"schemaVersion"') + 1 : data.length - 1;
      data[at] = isManifest ? 'S'.charCodeAt(0) : (data[at] as number) ^ 0xff;
    }
    const out = { ...up.headers };
    if (o.cut && isBlob && !cutDone && up.statusCode === 200 && data.length > 1) {
      cutDone = true;
      res.writeHead(200, out);
      res.write(data.subarray(0, data.length >> 1), () => res.socket?.destroy());
      return;
    }
    if (out.location) out.location = out.location.replace(`//${o.upstream}`, `//${host}`);
    res.writeHead(up.statusCode ?? 502, out).end(data);
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.writeHead(502).end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    host,
    scopes,
    authorizations,
    requests,
    ranges,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
