import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { ModelctlError, type ErrorCode } from '../errors.js';
import { nodeFetch } from '../hub/fetch-over-node-http.js';
import type { MlflowServer } from './target.js';

/**
 * MLflow's REST API (api/2.0/mlflow/...) and its artifact proxy (api/2.0/mlflow-artifacts/artifacts/...), the
 * two doors a tracking server started with `mlflow server` opens. Every failure is one line naming the server and
 * the call: MLflow's error_code decides the exit code (RESOURCE_DOES_NOT_EXIST: NOT_FOUND), a 5xx is a NETWORK
 * error carrying the server's message. Credentials travel in a header and never appear in a message.
 */

export interface ClientOptions {
  signal?: AbortSignal;
  /** Replaces node:http(s) (library users with their own HTTP stack). */
  fetch?: typeof fetch;
}

/** MLflow's error codes that are the caller's doing, and what they mean here. */
const CODES: Record<string, ErrorCode> = {
  RESOURCE_DOES_NOT_EXIST: 'NOT_FOUND',
  RESOURCE_ALREADY_EXISTS: 'CONFLICT',
  INVALID_PARAMETER_VALUE: 'INVALID_INPUT',
  INVALID_STATE: 'CONFLICT',
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  UNAUTHENTICATED: 'PERMISSION_DENIED',
};

const AUTH_HINT = 'set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, for this server';

function oneLine(text: string, max = 300): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

/** An MLflow error as it arrives: `{"error_code": ..., "message": ...}`, or whatever else the body held. */
function readFailure(status: number, body: string): { code?: string; message: string } {
  try {
    const j = JSON.parse(body) as { error_code?: unknown; message?: unknown };
    if (typeof j.error_code === 'string' || typeof j.message === 'string') {
      return {
        ...(typeof j.error_code === 'string' ? { code: j.error_code } : {}),
        message: typeof j.message === 'string' ? oneLine(j.message) : `HTTP ${status}`,
      };
    }
  } catch {
    // not JSON: a proxy's page, a traceback
  }
  return { message: body.trim() ? oneLine(body) : `HTTP ${status}` };
}

export class MlflowClient {
  private readonly fetch: typeof fetch;

  constructor(
    readonly server: MlflowServer,
    private readonly options: ClientOptions = {},
  ) {
    this.fetch = options.fetch ?? nodeFetch;
  }

  /** The URL of a path under the server's base (`api/2.0/...`), with a query. */
  url(path: string, query: Record<string, string> = {}): URL {
    const u = new URL(path, this.server.base);
    for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
    return u;
  }

  private failure(what: string, status: number, body: string): ModelctlError {
    const f = readFailure(status, body);
    const details = { status, ...(f.code ? { errorCode: f.code } : {}) };
    const where = `MLflow at ${this.server.shown}`;
    if (status === 401 || status === 403) {
      return new ModelctlError('PERMISSION_DENIED', `${where} refused ${what} (HTTP ${status}): ${f.message}`, {
        hint: AUTH_HINT,
        details,
      });
    }
    const code = f.code ? CODES[f.code] : status === 404 ? 'NOT_FOUND' : undefined;
    if (code && status < 500) return new ModelctlError(code, `${where}: ${f.message}`, { details });
    return new ModelctlError('NETWORK', `${where} failed ${what} (HTTP ${status}): ${f.message}`, {
      hint: status >= 500 ? 'the server failed: see its log, then try again' : 'is this an MLflow tracking server?',
      details,
    });
  }

  private async send(what: string, url: URL, init: RequestInit): Promise<Response> {
    try {
      return await this.fetch(url, {
        ...init,
        headers: { ...this.server.headers, ...(init.headers as Record<string, string> | undefined) },
        ...(this.options.signal ? { signal: this.options.signal } : {}),
      });
    } catch (err) {
      if ((err as { name?: string }).name === 'AbortError') throw err;
      const cause = (err as { cause?: { code?: string } }).cause;
      const reason = cause?.code ?? (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new ModelctlError('NETWORK', `cannot reach MLflow at ${this.server.shown} (${what}): ${oneLine(String(reason), 120)}`, {
        hint: 'is the tracking server running there? check the host and port (or MLFLOW_TRACKING_URI)',
        cause: err,
      });
    }
  }

  /** One REST call: GET with a query, or POST/PATCH with a JSON body; the parsed JSON answer. */
  async call<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', endpoint: string, args: Record<string, unknown> = {}): Promise<T> {
    const what = `${method} ${endpoint}`;
    const query = method === 'GET' ? Object.fromEntries(Object.entries(args).map(([k, v]) => [k, String(v)])) : {};
    const url = this.url(`api/2.0/mlflow/${endpoint}`, query);
    const res = await this.send(what, url, {
      method,
      ...(method === 'GET' ? {} : { body: JSON.stringify(args), headers: { 'content-type': 'application/json' } }),
    });
    const body = await res.text();
    if (!res.ok) throw this.failure(what, res.status, body);
    try {
      return (body.trim() === '' ? {} : JSON.parse(body)) as T;
    } catch {
      throw new ModelctlError(
        'NETWORK',
        `MLflow at ${this.server.shown} answered ${what} with something other than JSON: ${oneLine(body, 120)}`,
        {
          hint: 'is this an MLflow tracking server?',
        },
      );
    }
  }

  /** The artifact proxy's URL for a path (`EXP/RUN/artifacts/model/model.onnx`). */
  artifactUrl(path: string): URL {
    return this.url(`api/2.0/mlflow-artifacts/artifacts/${path.split('/').map(encodeURIComponent).join('/')}`);
  }

  /** Uploads a local file, streamed, to the artifact proxy. */
  async upload(path: string, file: string, size: number): Promise<void> {
    const what = `upload of ${path}`;
    const body = Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>;
    const res = await this.send(what, this.artifactUrl(path), {
      method: 'PUT',
      body,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      duplex: 'half',
    } as RequestInit);
    const text = await res.text();
    if (!res.ok) throw this.failure(what, res.status, text);
  }

  /** Uploads a small text (MLmodel, requirements) to the artifact proxy. */
  async uploadText(path: string, text: string): Promise<void> {
    const what = `upload of ${path}`;
    const res = await this.send(what, this.artifactUrl(path), { method: 'PUT', body: text, headers: { 'content-type': 'text/plain' } });
    const body = await res.text();
    if (!res.ok) throw this.failure(what, res.status, body);
  }

  /** A small artifact (MLmodel) as text. */
  async getText(path: string): Promise<string> {
    const what = `download of ${path}`;
    const res = await this.send(what, this.artifactUrl(path), { method: 'GET' });
    const body = await res.text();
    if (!res.ok) throw this.failure(what, res.status, body);
    return body;
  }

  /** Every file under an artifact folder, recursively, as paths relative to it with their sizes. */
  async listFiles(root: string): Promise<Array<{ path: string; size: number }>> {
    const found: Array<{ path: string; size: number }> = [];
    const walk = async (dir: string): Promise<void> => {
      const what = `listing of ${dir}`;
      const res = await this.send(what, this.url('api/2.0/mlflow-artifacts/artifacts', { path: dir }), { method: 'GET' });
      const body = await res.text();
      if (!res.ok) throw this.failure(what, res.status, body);
      let listing: { files?: Array<{ path: string; is_dir?: boolean; file_size?: number | string }> };
      try {
        listing = JSON.parse(body);
      } catch {
        throw new ModelctlError('NETWORK', `MLflow at ${this.server.shown} answered the ${what} with something other than JSON`);
      }
      for (const f of listing.files ?? []) {
        // The proxy lists names relative to the folder asked for.
        const full = `${dir}/${f.path.split('/').pop() as string}`;
        if (f.is_dir) await walk(full);
        else found.push({ path: full.slice(root.length + 1), size: Number(f.file_size ?? 0) });
      }
    };
    await walk(root);
    return found;
  }
}

/**
 * The proxy path of an `mlflow-artifacts:` URI (`mlflow-artifacts:/1/RUN/artifacts` or with an authority,
 * `mlflow-artifacts://host:port/1/RUN/artifacts`); anything else (s3://, a local path) is not reachable through
 * the server and is refused.
 */
export function proxyPath(artifactUri: string, server: MlflowServer): string {
  const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/+(.*?)\/*$/.exec(artifactUri);
  if (!m) {
    throw new ModelctlError(
      'NOT_AVAILABLE',
      `MLflow at ${server.shown} keeps artifacts at ${artifactUri}, which only its proxy may reach`,
      {
        hint: 'start the server with artifact serving (`mlflow server --artifacts-destination ...`, the default), so artifacts go through it',
      },
    );
  }
  const path = m[1] as string;
  if (path.split('/').some((s) => s === '..' || s === '.')) {
    throw new ModelctlError('INVALID_INPUT', `MLflow at ${server.shown} gave an artifact location with .. in it: ${artifactUri}`);
  }
  return path;
}
