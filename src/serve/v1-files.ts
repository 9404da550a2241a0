import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ModelctlError } from '../errors.js';
import { inspectModel } from '../formats/index.js';
import type { Inspection } from '../formats/types.js';
import type { Manifest } from '../registry/manifest.js';
import { checkName } from '../registry/names.js';
import { isEnoent, tempName } from '../registry/fsutil.js';
import type { ServeContext } from './context.js';
import { HttpError, bodyStream, sendJson, tooLarge } from './http.js';
import { flag, keyValues, param } from './query.js';

/** A model file in (a streamed upload, registered) and out (a version's file, checked against its hash as it goes). */

/** The file name an upload without ?filename= is stored under, from what its bytes are. */
function storedName(found: Inspection): string {
  switch (found.format) {
    case 'xgboost':
      return found.metadata.encoding === 'ubj' ? 'model.ubj' : 'model.json';
    case 'lightgbm':
      return 'model.txt';
    case 'pytorch':
      return 'model.pt';
    case 'pickle':
      return 'model.pkl';
    case 'keras-h5':
      return 'model.h5';
    default:
      // onnx, safetensors, joblib, keras: the format's own extension.
      return `model.${found.format}`;
  }
}

/** Names an upload that came without ?filename= after its content; a format modelctl does not know is a 415. */
async function nameByContent(dir: string, path: string, signal: AbortSignal): Promise<string> {
  let found: Inspection;
  try {
    found = await inspectModel(path, { signal });
  } catch (err) {
    if (err instanceof ModelctlError && err.code === 'UNKNOWN_FORMAT')
      throw new HttpError(
        415,
        'the upload is not a model format modelctl recognises (ONNX, safetensors, PyTorch, pickle, joblib, Keras, XGBoost, LightGBM)',
        {
          code: 'UNKNOWN_FORMAT',
          hint: 'check the file; a format its bytes do not show (e.g. compressed joblib) needs ?filename=model.EXT',
        },
      );
    throw err;
  }
  const named = join(dir, storedName(found));
  await rename(path, named);
  return named;
}

/** Streams the body into a private temporary file, then registers it: the registry hashes it as it copies it in. */
export async function upload(ctx: ServeContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const name = param(url, 'name');
  if (!name)
    throw new HttpError(400, 'query parameter name is required', { hint: 'POST /v1/models?name=my-model with the model file as the body' });
  checkName(name);
  const asked = param(url, 'filename');
  const filename = (asked ?? 'upload').split(/[\\/]/).pop() ?? '';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/.test(filename))
    throw new HttpError(400, `unsafe filename ${JSON.stringify(filename)}`, { hint: 'letters, digits, ".", "_" and "-", e.g. model.onnx' });
  const metrics: Record<string, number> = {};
  for (const [k, v] of Object.entries(keyValues(url, 'metric'))) {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new HttpError(400, `metric ${k} must be a number, got ${JSON.stringify(v)}`);
    metrics[k] = n;
  }
  // Inside the registry's tmp/: a server killed mid-upload leaves a temporary file that gc removes.
  const dir = join(ctx.registry.store.layout.tmpDir, tempName('upload'));
  await mkdir(dir, { recursive: true });
  try {
    let path = join(dir, filename);
    let size = 0;
    const limit = ctx.maxUpload;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        done(size > limit ? tooLarge(limit) : null, chunk);
      },
    });
    try {
      await pipeline(bodyStream(req), counter, createWriteStream(path), { signal: ctx.signal });
    } catch (err) {
      if (err instanceof HttpError) throw err;
      throw new HttpError(400, `the upload was cut short: ${(err as Error).message}`, { code: 'BAD_BODY' });
    }
    if (size === 0) throw new HttpError(400, 'the upload is empty', { hint: 'send the model file as the request body' });
    if (asked === undefined) path = await nameByContent(dir, path, ctx.signal);
    const latest = param(url, 'latest');
    const result = await ctx.registry.register({
      path,
      name,
      ...(param(url, 'version') !== undefined ? { version: param(url, 'version') as string } : {}),
      ...(param(url, 'task') !== undefined ? { task: param(url, 'task') as string } : {}),
      ...(param(url, 'description') !== undefined ? { description: param(url, 'description') as string } : {}),
      ...(param(url, 'license') !== undefined ? { license: param(url, 'license') as string } : {}),
      tags: keyValues(url, 'tag'),
      metrics,
      aliases: url.searchParams.getAll('alias'),
      ...(latest !== undefined ? { latest: flag(url, 'latest') } : {}),
      source: { kind: 'upload', filename: basename(path), via: 'modelctl serve' },
    });
    ctx.manager.forget(name);
    // The same content again is the version that holds it (200, upToDate), not a new identical version.
    sendJson(res, result.upToDate ? 200 : 201, { manifest: result.manifest, aliases: result.aliases, upToDate: result.upToDate });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function primaryFile(m: Manifest, asked: string | undefined): Manifest['files'][number] {
  if (asked !== undefined) {
    const f = m.files.find((x) => x.path === asked);
    if (!f)
      throw new HttpError(404, `${m.name}:${m.version} has no file ${JSON.stringify(asked)}`, {
        hint: `its files: ${m.files.map((x) => x.path).join(', ')}`,
      });
    return f;
  }
  const primary = typeof m.metadata.primary === 'string' ? m.metadata.primary : undefined;
  const f = m.files.find((x) => x.path === primary) ?? (m.files.length === 1 ? m.files[0] : undefined);
  if (!f)
    throw new HttpError(400, `${m.name}:${m.version} has ${m.files.length} files: say which with ?file=`, {
      hint: `its files: ${m.files.map((x) => x.path).join(', ')}`,
    });
  return f;
}

/**
 * Passes the file's bytes on, hashing them, and holds the last chunk back until the whole file is known to hash to
 * the sha256 the headers promised: a blob changed while it streams cuts the response short, so a client never gets
 * a complete body that does not match its header.
 */
function matching(sha256: string, what: string): Transform {
  const hash = createHash('sha256');
  let held: Buffer | undefined;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      const previous = held;
      held = chunk;
      done(null, previous);
    },
    flush(done) {
      const got = hash.digest('hex');
      if (got === sha256) done(null, held);
      else
        done(
          new ModelctlError(
            'INTEGRITY',
            `${what} changed while it was being sent (it now hashes to ${got.slice(0, 12)}); run \`modelctl validate\``,
          ),
        );
    },
  });
}

export async function download(ctx: ServeContext, res: ServerResponse, url: URL, ref: string): Promise<void> {
  const m = await ctx.registry.resolve(ref);
  const file = primaryFile(m, param(url, 'file'));
  await ctx.registry.verify(m, { force: ctx.verify, paths: [file.path] });
  const blob = ctx.registry.store.layout.blob(file.sha256);
  let fh: FileHandle;
  try {
    fh = await open(blob, 'r');
  } catch (err) {
    if (!isEnoent(err)) throw err;
    throw new ModelctlError('NOT_FOUND', `${m.name}:${m.version} was removed while it was being read`, { hint: 'run the request again' });
  }
  const base = file.path.split('/').pop() ?? 'model';
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': file.size,
    'content-disposition': `attachment; filename="${base.replace(/[^A-Za-z0-9._-]/g, '_')}"`,
    digest: `sha-256=${Buffer.from(file.sha256, 'hex').toString('base64')}`,
    'x-modelctl-sha256': file.sha256,
  });
  await pipeline(
    fh.createReadStream(),
    matching(file.sha256, `blob ${file.sha256.slice(0, 12)} of ${m.name}:${m.version} ${file.path}`),
    res,
  );
}
