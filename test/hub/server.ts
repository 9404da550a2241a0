import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

/**
 * A loopback Hugging Face Hub: the endpoints @huggingface/hub and huggingface_hub use to download a model, with
 * the Hub's headers and error codes, serving fixture repos from memory.
 *
 *   GET  /api/models/ORG/NAME/tree/REV[/PATH]?recursive=&expand=   listing (files and folders, LFS facts);
 *        /api/datasets/... and /api/spaces/... for repos of those types (resolve: /datasets/ORG/NAME/resolve/...)
 *   POST /api/models/ORG/NAME/paths-info/REV   {"paths": [...]}       the same facts for given paths
 *   HEAD|GET /ORG/NAME/resolve/REV/PATH         small files: 200/206 with ETag = git blob id and X-Repo-Commit;
 *                                               LFS files: 302 to the CDN with X-Linked-Etag / X-Linked-Size
 *   GET  (CDN, another origin) /lfs/SHA256, /files/NAME   the bytes, with Range
 *   errors: 401/403/404 with X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo) and
 *   X-Error-Message, JSON bodies {"error": ...}
 *
 * The CDN is a second server (another origin), as on the real Hub, so that tests can see where a token goes.
 * Given a key and certificate, both speak HTTPS, as the real ones do.
 */

export interface FixtureFile {
  path: string;
  content: Buffer;
  lfs?: boolean;
}

export interface FixtureRepo {
  id: string;
  /** branch/tag -> commit */
  refs: Record<string, string>;
  commits: Record<string, FixtureFile[]>;
  private?: boolean;
  gated?: boolean;
  /** Default model. */
  type?: 'model' | 'dataset' | 'space';
}

export interface LoggedRequest {
  server: 'hub' | 'cdn';
  method: string;
  path: string;
  range?: string;
  authorization?: string;
  userAgent?: string;
}

export interface Faults {
  /** Serve only this many bytes of the file, then cut the connection (once per entry). */
  cutOnce: Map<string, number>;
  /** Serve this file with one byte changed. */
  corrupt: Set<string>;
  /** Serve this file at about this many bytes per second (a slow download that can be interrupted). */
  slow: Map<string, number>;
}

export function gitBlobId(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

export function sha256(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

function lfsPointer(content: Buffer): Buffer {
  return Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(content)}\nsize ${content.length}\n`);
}

export function newCommitId(): string {
  return randomBytes(20).toString('hex');
}

function entry(f: FixtureFile): Record<string, unknown> {
  if (!f.lfs) return { type: 'file', oid: gitBlobId(f.content), size: f.content.length, path: f.path };
  const pointer = lfsPointer(f.content);
  return {
    type: 'file',
    oid: gitBlobId(pointer),
    size: f.content.length,
    path: f.path,
    lfs: { oid: sha256(f.content), size: f.content.length, pointerSize: pointer.length },
  };
}

function dirEntries(files: FixtureFile[], under: string): Array<Record<string, unknown>> {
  const dirs = new Set<string>();
  for (const f of files) {
    const parts = f.path.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return [...dirs]
    .filter((d) => d.startsWith(under))
    .sort()
    .map((d) => ({ type: 'directory', oid: gitBlobId(Buffer.from(d)), size: 0, path: d }));
}

function fail(res: ServerResponse, status: number, code: string | undefined, message: string): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    ...(code ? { 'x-error-code': code } : {}),
    'x-error-message': message,
    'x-request-id': 'Root=1-test',
  });
  res.end(JSON.stringify({ error: message }));
}

/** Serves `content` honouring Range, applying the faults registered under `key`. */
function serveBytes(
  req: IncomingMessage,
  res: ServerResponse,
  content: Buffer,
  headers: Record<string, string>,
  key: string,
  faults: Faults,
): void {
  let body = content;
  if (faults.corrupt.has(key)) {
    body = Buffer.from(content);
    body[body.length >> 1] = (body[body.length >> 1] ?? 0) ^ 0xff;
  }
  let start = 0;
  let end = body.length - 1;
  let status = 200;
  const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  if (m) {
    start = Number(m[1]);
    if (m[2]) end = Math.min(Number(m[2]), end);
    if (start >= body.length) {
      res.writeHead(416, { 'content-range': `bytes */${body.length}` });
      res.end();
      return;
    }
    status = 206;
  }
  const out = {
    ...headers,
    'accept-ranges': 'bytes',
    'content-type': 'application/octet-stream',
    'content-length': String(end - start + 1),
    ...(status === 206 ? { 'content-range': `bytes ${start}-${end}/${body.length}` } : {}),
  };
  res.writeHead(status, out);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const rate = faults.slow.get(key);
  if (rate !== undefined) {
    trickle(res, body.subarray(start, end + 1), rate);
    return;
  }
  const cut = faults.cutOnce.get(key);
  if (cut !== undefined && cut < end + 1 && cut > start) {
    faults.cutOnce.delete(key);
    res.write(body.subarray(start, cut), () => setTimeout(() => res.socket?.destroy(), 20));
    return;
  }
  res.end(body.subarray(start, end + 1));
}

/** Sends `data` in 64 KiB pieces paced to `rate` bytes per second, until done or the client goes away. */
function trickle(res: ServerResponse, data: Buffer, rate: number): void {
  const piece = 64 * 1024;
  let off = 0;
  const next = (): void => {
    if (res.destroyed || res.socket?.destroyed) return;
    if (off >= data.length) {
      res.end();
      return;
    }
    const part = data.subarray(off, off + piece);
    off += part.length;
    res.write(part);
    setTimeout(next, (part.length / rate) * 1000);
  };
  next();
}

export class HubServer {
  readonly requests: LoggedRequest[] = [];
  readonly faults: Faults = { cutOnce: new Map(), corrupt: new Set(), slow: new Map() };
  /** Extra plain files on the CDN (for URL pulls): /files/NAME. */
  readonly files = new Map<string, Buffer>();
  /** The token private and gated repos accept. */
  token = 'hf_testtoken_secret_123';
  url = '';
  cdnUrl = '';
  private hub: Server | TlsServer;
  private cdn: Server | TlsServer;
  private readonly scheme: 'http' | 'https';
  constructor(
    readonly repos: FixtureRepo[],
    options: { tls?: { key: string; cert: string } } = {},
  ) {
    const tls = options.tls;
    type Handler = (req: IncomingMessage, res: ServerResponse) => void;
    const serve = (handle: Handler): Server | TlsServer => (tls ? createTlsServer(tls, handle) : createServer(handle));
    this.scheme = tls ? 'https' : 'http';
    this.hub = serve((req, res) => this.handleHub(req, res));
    this.cdn = serve((req, res) => this.handleCdn(req, res));
  }

  async start(): Promise<this> {
    const listen = (s: Server | TlsServer) =>
      new Promise<number>((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
    this.url = `${this.scheme}://127.0.0.1:${await listen(this.hub)}`;
    this.cdnUrl = `${this.scheme}://127.0.0.1:${await listen(this.cdn)}`;
    return this;
  }

  async close(): Promise<void> {
    for (const s of [this.hub, this.cdn]) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  }

  addRepo(repo: FixtureRepo): void {
    this.repos.push(repo);
  }

  /** LFS content by sha256, from every commit of every repo (tests add commits as they go). */
  private lfsBlob(sha: string): Buffer | undefined {
    for (const r of this.repos)
      for (const files of Object.values(r.commits)) for (const f of files) if (f.lfs && sha256(f.content) === sha) return f.content;
    return undefined;
  }

  private log(server: 'hub' | 'cdn', req: IncomingMessage): void {
    this.requests.push({
      server,
      method: req.method ?? 'GET',
      path: req.url ?? '',
      ...(req.headers.range ? { range: req.headers.range } : {}),
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      ...(req.headers['user-agent'] ? { userAgent: req.headers['user-agent'] } : {}),
    });
  }

  private handleCdn(req: IncomingMessage, res: ServerResponse): void {
    this.log('cdn', req);
    const path = decodeURIComponent((req.url ?? '').split('?')[0] ?? '');
    const lfs = /^\/lfs\/([0-9a-f]{64})$/.exec(path);
    const content = lfs ? this.lfsBlob(lfs[1] as string) : this.files.get(path.replace(/^\/files\//, ''));
    if (!content) {
      fail(res, 404, undefined, 'not found');
      return;
    }
    serveBytes(req, res, content, { etag: `"${lfs ? lfs[1] : gitBlobId(content)}"` }, lfs ? (lfs[1] as string) : path, this.faults);
  }

  /** The repo a request may see, or the error the Hub would answer. */
  private access(req: IncomingMessage, res: ServerResponse, id: string, type = 'model'): FixtureRepo | undefined {
    const repo = this.repos.find((r) => r.id === id && (r.type ?? 'model') === type);
    const auth = req.headers.authorization;
    const authed = auth === `Bearer ${this.token}`;
    if (!repo || (repo.private && !authed)) {
      // Like the Hub: without valid credentials a missing repo and a private one look the same (401).
      fail(res, authed ? 404 : 401, 'RepoNotFound', `Repository Not Found for url: ${req.url}.`);
      return undefined;
    }
    if (repo.gated && !authed) {
      fail(
        res,
        401,
        'GatedRepo',
        `Access to model ${id} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
      );
      return undefined;
    }
    return repo;
  }

  private commitOf(res: ServerResponse, repo: FixtureRepo, rev: string): string | undefined {
    const commit = repo.commits[rev] ? rev : repo.refs[rev];
    if (!commit || !repo.commits[commit]) {
      fail(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
      return undefined;
    }
    return commit;
  }

  private handleHub(req: IncomingMessage, res: ServerResponse): void {
    this.log('hub', req);
    const [rawPath = '', query = ''] = (req.url ?? '').split('?');
    let parts = rawPath.split('/').slice(1).map(decodeURIComponent);
    const kinds: Record<string, string> = { models: 'model', datasets: 'dataset', spaces: 'space' };
    const apiType = parts[0] === 'api' ? kinds[parts[1] ?? ''] : undefined;
    // /datasets/ORG/NAME/resolve/... and /spaces/...: the type's prefix before the repo id.
    const fileType = parts[0] === 'datasets' || parts[0] === 'spaces' ? kinds[parts[0]] : undefined;
    if (fileType) parts = parts.slice(1);
    if (apiType) {
      const id = `${parts[2]}/${parts[3]}`;
      const repo = this.access(req, res, id, apiType);
      if (!repo) return;
      const commit = this.commitOf(res, repo, parts[5] ?? 'main');
      if (!commit) return;
      const files = repo.commits[commit] as FixtureFile[];
      if (parts[4] === 'tree' && req.method === 'GET') {
        const under = parts.slice(6).join('/');
        const recursive = /recursive=true/.test(query);
        const inside = files.filter((f) => !under || f.path.startsWith(`${under}/`));
        const visible = recursive ? inside : inside.filter((f) => !f.path.slice(under ? under.length + 1 : 0).includes('/'));
        const out = [...(recursive ? dirEntries(files, under) : []), ...visible.map(entry)];
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(out));
        return;
      }
      if (parts[4] === 'paths-info' && req.method === 'POST') {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          const wanted = (JSON.parse(body) as { paths: string[] }).paths;
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(files.filter((f) => wanted.includes(f.path)).map(entry)));
        });
        return;
      }
      fail(res, 404, undefined, "Sorry, we can't find the page you are looking for.");
      return;
    }
    if (parts[2] === 'resolve') {
      const id = `${parts[0]}/${parts[1]}`;
      const repo = this.access(req, res, id, fileType ?? 'model');
      if (!repo) return;
      const commit = this.commitOf(res, repo, parts[3] ?? '');
      if (!commit) return;
      const path = parts.slice(4).join('/');
      const file = (repo.commits[commit] as FixtureFile[]).find((f) => f.path === path);
      if (!file) {
        fail(res, 404, 'EntryNotFound', `${path} does not exist on "${parts[3]}"`);
        return;
      }
      if (file.lfs) {
        const sha = sha256(file.content);
        res.writeHead(302, {
          location: `${this.cdnUrl}/lfs/${sha}?X-Amz-Signature=abc`,
          'x-repo-commit': commit,
          'x-linked-etag': `"${sha}"`,
          'x-linked-size': String(file.content.length),
          etag: `"${gitBlobId(lfsPointer(file.content))}"`,
        });
        res.end();
        return;
      }
      serveBytes(req, res, file.content, { etag: `"${gitBlobId(file.content)}"`, 'x-repo-commit': commit }, path, this.faults);
      return;
    }
    fail(res, 404, undefined, 'not found');
  }
}
