import type { IncomingMessage, ServerResponse } from 'node:http';
import { createGunzip, createInflate } from 'node:zlib';
import type { Readable } from 'node:stream';
import { ModelctlError, type ErrorCode } from '../errors.js';

/**
 * What every route shares: an HTTP error with its status, JSON replies, and bounded body reading. The error body is
 * the Open Inference Protocol's `{"error": "message"}`; modelctl adds its stable `code` and a `hint` beside it.
 */

export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly hint: string | undefined;
  readonly headers: Record<string, string>;

  constructor(status: number, message: string, options: { code?: string; hint?: string; headers?: Record<string, string> } = {}) {
    super(message);
    this.status = status;
    this.code =
      options.code ?? (status === 404 ? 'NOT_FOUND' : status === 413 ? 'TOO_LARGE' : status === 401 ? 'UNAUTHORIZED' : 'BAD_REQUEST');
    this.hint = options.hint;
    this.headers = options.headers ?? {};
  }
}

const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  USAGE: 400,
  INVALID_NAME: 400,
  INVALID_REFERENCE: 400,
  INVALID_INPUT: 400,
  UNKNOWN_FORMAT: 400,
  CORRUPT_MODEL: 400,
  // The server's own files it may not read or write (fsError): the server's fault, not the client's.
  PERMISSION_DENIED: 500,
  NOT_FOUND: 404,
  PATH_NOT_FOUND: 404,
  VERSION_EXISTS: 409,
  CONFLICT: 409,
  LOCK_TIMEOUT: 409,
  NOT_AVAILABLE: 501,
  MISSING_DEPENDENCY: 503,
  INTERRUPTED: 503,
};

/** The HTTP status and JSON body for any error a route threw; `internal` is true for bugs (status 500). */
export function errorReply(err: unknown): {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
  internal: boolean;
} {
  if (err instanceof HttpError) {
    return {
      status: err.status,
      body: { error: err.message, code: err.code, ...(err.hint ? { hint: err.hint } : {}) },
      headers: err.headers,
      internal: false,
    };
  }
  if (err instanceof ModelctlError) {
    const status = STATUS_BY_CODE[err.code] ?? 500;
    return { status, body: { error: err.message, code: err.code, ...(err.hint ? { hint: err.hint } : {}) }, headers: {}, internal: false };
  }
  return { status: 500, body: { error: 'internal server error', code: 'INTERNAL' }, headers: {}, internal: true };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string, contentType: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The request body, decompressed when the client says so (tritonclient can gzip or deflate its requests). */
export function bodyStream(req: IncomingMessage): Readable {
  const encoding = String(req.headers['content-encoding'] ?? 'identity')
    .toLowerCase()
    .trim();
  if (encoding === 'identity' || encoding === '') return req;
  if (encoding === 'gzip') return req.pipe(createGunzip());
  if (encoding === 'deflate') return req.pipe(createInflate());
  throw new HttpError(415, `unsupported content-encoding: ${encoding}`, {
    code: 'UNSUPPORTED_ENCODING',
    hint: 'send identity, gzip or deflate',
  });
}

/** Reads the whole body, refusing (413) one larger than `limit` bytes after decompression. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const stream = bodyStream(req);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      size += (chunk as Buffer).length;
      if (size > limit) throw tooLarge(limit);
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, `the request body could not be read: ${(err as Error).message}`, { code: 'BAD_BODY' });
  }
  return Buffer.concat(chunks, size);
}

export function tooLarge(limit: number): HttpError {
  return new HttpError(413, `the request body is larger than the limit of ${limit} bytes`, {
    code: 'TOO_LARGE',
    hint: 'send less per request, or start the server with a larger --max-body (uploads: --max-upload)',
  });
}

/** A JSON object body; anything else is a 400 with the parser's reason. */
export async function readJsonObject(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const value = parseJson(await readBody(req, limit));
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new HttpError(400, 'the request body must be a JSON object');
  return value as Record<string, unknown>;
}

export function parseJson(bytes: Buffer | string): unknown {
  const text = typeof bytes === 'string' ? bytes : bytes.toString('utf8');
  if (text.trim() === '') throw new HttpError(400, 'the request body is empty', { hint: 'send a JSON document' });
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `the request body is not valid JSON (${(err as Error).message.split('\n')[0]})`);
  }
}

/** A path segment decoded; a malformed escape is the client's mistake (400), not a crash. */
export function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, `malformed percent-encoding in the path: ${JSON.stringify(segment)}`);
  }
}

/**
 * The path as segments, each decoded, with `%2F` inside a segment splitting it: `org%2Fname` and `org/name` are
 * the same model.
 */
export function pathSegments(pathname: string): string[] {
  return pathname
    .split('/')
    .filter((s) => s !== '')
    .flatMap((s) => decodeSegment(s).split('/'))
    .filter((s) => s !== '');
}
