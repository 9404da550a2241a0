import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';
import { ModelctlError } from '../errors.js';
import { connectionError, isAbort } from '../hub/http-errors.js';
import { basicHeader, fetchToken, parseChallenge, type Credentials } from './auth.js';
import { isLoopback, type OciRef } from './ref.js';

/**
 * The OCI distribution API of one repository (and the repositories blobs are mounted from), over node:http(s).
 * Authentication is answered when asked: a 401's WWW-Authenticate says Basic (the credentials are sent) or Bearer
 * (a token is fetched from its realm for the repository's scopes); the header is then kept for every request.
 */

/** A body: bytes, or a byte range of a file streamed from disk (sent again from the start if auth interrupts it). */
export type Body = Buffer | { path: string; start: number; end: number };

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface ClientOptions {
  /** Credentials, or how to find them: looked up only when the registry first asks (a 401), as docker does. */
  credentials?: Credentials | (() => Promise<Credentials | undefined>);
  httpsAgent?: HttpsAgent;
  signal?: AbortSignal;
  /** Repositories blobs may be mounted from: their pull scope is asked for with the token. */
  mountFrom?: string[];
  /** Push asks for push and pull; pull for pull only. */
  push?: boolean;
}

/** Manifests larger than this are refused (the distribution server's own limit is 4 MiB). */
const MAX_MANIFEST = 4 * 1024 * 1024;

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The registry's own words, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"..."}]}`, on one line. */
function registrySays(body: Buffer): string {
  try {
    const errors = (JSON.parse(body.toString('utf8')) as { errors?: Array<{ code?: string; message?: string }> }).errors ?? [];
    const text = errors.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
    return text ? ` (${text.replace(/[\x00-\x1f\x7f]+/g, ' ').slice(0, 200)})` : '';
  } catch {
    return '';
  }
}

export function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export class OciClient {
  private authorization: string | undefined;
  private found: Promise<Credentials | undefined> | undefined;
  private readonly scopes: string[];

  constructor(
    readonly ref: OciRef,
    private readonly o: ClientOptions = {},
  ) {
    const own = `repository:${ref.repo}:${o.push ? 'pull,push' : 'pull'}`;
    this.scopes = [own, ...(o.mountFrom ?? []).filter((r) => r !== ref.repo).map((r) => `repository:${r}:pull`)];
  }

  /** The Authorization header learned so far (blob downloads send it to the registry's origin only). */
  get auth(): string | undefined {
    return this.authorization;
  }

  url(path: string): URL {
    return new URL(path, `${this.ref.origin}/v2/${this.ref.repo}/`);
  }

  private once(url: URL, method: string, headers: Record<string, string>, body?: Body, auth = true): Promise<Reply> {
    const tls = url.protocol === 'https:';
    const send = tls ? httpsRequest : httpRequest;
    const all: Record<string, string> = {
      ...headers,
      ...(auth && this.authorization && url.origin === this.ref.origin ? { authorization: this.authorization } : {}),
    };
    if (body) all['content-length'] = String(Buffer.isBuffer(body) ? body.length : body.end - body.start);
    return new Promise<Reply>((resolve, reject) => {
      const req = send(
        url,
        {
          method,
          headers: all,
          ...(tls && this.o.httpsAgent ? { agent: this.o.httpsAgent } : {}),
          ...(this.o.signal ? { signal: this.o.signal } : {}),
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_MANIFEST)
              res.destroy(
                new ModelctlError('NETWORK', `${this.ref.host} sent more than ${MAX_MANIFEST} bytes for ${method} ${url.pathname}`),
              );
            else chunks.push(c);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      if (body === undefined || Buffer.isBuffer(body)) req.end(body);
      else if (body.end === body.start) req.end();
      else {
        const stream = createReadStream(body.path, { start: body.start, end: body.end - 1 });
        stream.on('error', (err) => req.destroy(err));
        stream.pipe(req);
      }
    });
  }

  /** One request; a 401 is answered once with credentials or a token, then the request is sent again. */
  async send(method: string, path: string | URL, o: { headers?: Record<string, string>; body?: Body; what: string }): Promise<Reply> {
    const url = typeof path === 'string' ? this.url(path) : path;
    const headers = o.headers ?? {};
    try {
      let reply = await this.once(url, method, headers, o.body);
      if (reply.status === 401) {
        const creds = await this.credentials();
        const answered = await this.answer(header(reply.headers, 'www-authenticate'), creds);
        if (answered) reply = await this.once(url, method, headers, o.body);
        if (reply.status === 401) {
          throw new ModelctlError(
            'PERMISSION_DENIED',
            `${this.ref.host} refused ${creds ? `user ${creds.username}` : 'anonymous access'} for ${o.what} (HTTP 401)${registrySays(reply.body)}`,
            {
              hint: creds
                ? 'check the username and password (--username/--password-stdin, MODELCTL_OCI_USERNAME/PASSWORD or the Docker config)'
                : 'log in: --username and --password-stdin, MODELCTL_OCI_USERNAME/PASSWORD, or an `auths` entry in the Docker config',
              details: { status: 401 },
            },
          );
        }
      }
      if (reply.status === 403) {
        throw new ModelctlError('PERMISSION_DENIED', `${this.ref.host} denied ${o.what} (HTTP 403)${registrySays(reply.body)}`, {
          hint: 'check that your account may read (pull) or write (push) this repository',
          details: { status: 403 },
        });
      }
      return reply;
    } catch (err) {
      if (err instanceof ModelctlError || isAbort(err)) throw err;
      throw connectionError(err, { what: this.ref.text, endpoint: this.ref.origin });
    }
  }

  /** The credentials, looked up once, when first needed. */
  private credentials(): Promise<Credentials | undefined> {
    const given = this.o.credentials;
    this.found ??= typeof given === 'function' ? given() : Promise.resolve(given);
    return this.found;
  }

  private async answer(wwwAuthenticate: string | undefined, creds: Credentials | undefined): Promise<boolean> {
    const challenge = parseChallenge(wwwAuthenticate ?? '');
    if (challenge.scheme === 'basic') {
      if (!creds || this.authorization === basicHeader(creds)) return false;
      this.authorization = basicHeader(creds);
      return true;
    }
    if (challenge.scheme === 'bearer') {
      this.checkRealm(challenge.params.realm);
      const token = await fetchToken(
        challenge,
        this.scopes,
        creds,
        (url, headers) => this.once(url, 'GET', headers, undefined, false),
        this.ref.host,
      );
      const next = `Bearer ${token}`;
      if (next === this.authorization) return false;
      this.authorization = next;
      return true;
    }
    return false;
  }

  /** Credentials go to a token service over HTTPS, unless plain HTTP was accepted for this registry or it is loopback. */
  private checkRealm(realm: string | undefined): void {
    let url: URL;
    try {
      url = new URL(realm ?? '');
    } catch {
      return; // fetchToken names the bad realm
    }
    if (url.protocol === 'https:' || this.ref.origin.startsWith('http:') || isLoopback(url.hostname)) return;
    throw new ModelctlError(
      'NETWORK',
      `${this.ref.host} sends its token requests to plain HTTP (${url.origin}): credentials would travel in clear`,
      {
        hint: 'use --insecure only if you trust the network between here and the token service',
      },
    );
  }

  /** A failure other than auth, as one line naming what was asked. */
  failure(reply: Reply, what: string): ModelctlError {
    const says = registrySays(reply.body);
    if (reply.status === 404) {
      return new ModelctlError('NOT_FOUND', `${what} not found on ${this.ref.host}${says}`, {
        hint: 'check the repository, the tag or the digest',
        details: { status: 404 },
      });
    }
    return new ModelctlError('NETWORK', `${this.ref.host} answered HTTP ${reply.status} for ${what}${says}`, {
      hint: 'the registry failed; try again later',
      details: { status: reply.status },
    });
  }

  async hasBlob(digest: string): Promise<boolean> {
    const reply = await this.send('HEAD', `blobs/${digest}`, { what: `blob ${digest}` });
    if (reply.status === 200) return true;
    if (reply.status === 404) return false;
    throw this.failure(reply, `blob ${digest}`);
  }

  /** Cross-repository mount: true when the registry linked the blob from `from`, else the upload it opened instead. */
  async mount(digest: string, from: string): Promise<{ mounted: true } | { mounted: false; location: URL }> {
    const q = new URLSearchParams({ mount: digest, from });
    const reply = await this.send('POST', `blobs/uploads/?${q}`, { what: `mounting ${digest} from ${from}` });
    if (reply.status === 201) return { mounted: true };
    if (reply.status === 202) return { mounted: false, location: this.location(reply) };
    throw this.failure(reply, `mounting ${digest} from ${from}`);
  }

  location(reply: Reply): URL {
    const loc = header(reply.headers, 'location');
    if (!loc) throw new ModelctlError('NETWORK', `${this.ref.host} opened an upload without a Location`, { hint: 'check the registry' });
    return new URL(loc, this.ref.origin);
  }

  async startUpload(): Promise<URL> {
    const reply = await this.send('POST', 'blobs/uploads/', { what: 'starting an upload' });
    if (reply.status !== 202) throw this.failure(reply, 'starting an upload');
    return this.location(reply);
  }

  /**
   * Sends a blob into an open upload: one PUT with the whole body when it fits `chunkSize`, else PATCHes of
   * `chunkSize` bytes (each answered with the next Location) and a closing PUT with the digest.
   */
  async upload(at: URL, digest: string, file: string, size: number, chunkSize: number, onBytes?: (n: number) => void): Promise<void> {
    let location = at;
    let start = 0;
    if (size > chunkSize) {
      for (; start < size; ) {
        const end = Math.min(size, start + chunkSize);
        const reply = await this.send('PATCH', location, {
          what: `uploading ${digest}`,
          headers: { 'content-type': 'application/octet-stream', 'content-range': `${start}-${end - 1}` },
          body: { path: file, start, end },
        });
        if (reply.status !== 202) throw this.failure(reply, `uploading ${digest} (bytes ${start}-${end - 1})`);
        location = this.location(reply);
        onBytes?.(end - start);
        start = end;
      }
    }
    const put = new URL(location);
    put.searchParams.set('digest', digest);
    const reply = await this.send('PUT', put, {
      what: `uploading ${digest}`,
      headers: { 'content-type': 'application/octet-stream' },
      body: { path: file, start, end: size },
    });
    if (reply.status !== 201) throw this.failure(reply, `uploading ${digest}`);
    if (size > start) onBytes?.(size - start);
  }

  async putBytes(at: URL, digest: string, bytes: Buffer): Promise<void> {
    const put = new URL(at);
    put.searchParams.set('digest', digest);
    const reply = await this.send('PUT', put, {
      what: `uploading ${digest}`,
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    if (reply.status !== 201) throw this.failure(reply, `uploading ${digest}`);
  }

  async putManifest(reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    const reply = await this.send('PUT', `manifests/${reference}`, {
      what: `manifest ${reference}`,
      headers: { 'content-type': mediaType },
      body: bytes,
    });
    if (reply.status !== 201) throw this.failure(reply, `storing the manifest ${this.ref.repo}:${reference}`);
    return sha256Digest(bytes);
  }

  /** The manifest's bytes, checked against the digest asked for or the one the registry announced. */
  async getManifest(reference: string, accept: string[]): Promise<{ bytes: Buffer; digest: string; mediaType: string | undefined }> {
    const what = `${this.ref.repo}${reference.startsWith('sha256:') ? '@' : ':'}${reference}`;
    const reply = await this.send('GET', `manifests/${reference}`, { what, headers: { accept: accept.join(', ') } });
    if (reply.status !== 200) throw this.failure(reply, what);
    const digest = sha256Digest(reply.body);
    const expected = reference.startsWith('sha256:') ? reference : header(reply.headers, 'docker-content-digest');
    if (expected && expected !== digest) {
      throw new ModelctlError('INTEGRITY', `the manifest of ${what} does not match its digest (expected ${expected}, got ${digest})`, {
        hint: 'the registry or something between sent other bytes; nothing was registered',
      });
    }
    return { bytes: reply.body, digest, mediaType: header(reply.headers, 'content-type') };
  }

  async tags(): Promise<string[]> {
    const reply = await this.send('GET', 'tags/list', { what: `the tags of ${this.ref.repo}` });
    if (reply.status !== 200) throw this.failure(reply, `the tags of ${this.ref.repo}`);
    try {
      return ((JSON.parse(reply.body.toString('utf8')) as { tags?: string[] | null }).tags ?? []).filter((t) => typeof t === 'string');
    } catch {
      throw new ModelctlError('NETWORK', `${this.ref.host} sent a tag list that is not JSON`, { hint: 'check the registry' });
    }
  }
}
