import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ModelctlError } from '../errors.js';
import type { ListEntry } from '../registry/index.js';
import type { Manifest } from '../registry/manifest.js';
import { parseMetricCondition, type MetricCondition } from '../registry/metric-filter.js';
import { checkName } from '../registry/names.js';
import { isEnoent, tempName } from '../registry/fsutil.js';
import { modelPath, type Route, type ServeContext } from './context.js';
import { HttpError, bodyStream, sendJson, tooLarge } from './http.js';
import { openAiModel, openAiRoute } from './openai.js';
import { v1Predict } from './v1-predict.js';

/** The registry over HTTP (list, get, upload, remove, download, validate, stats) and task-level predict. */

const ACTIONS = ['predict', 'download', 'export', 'validate'] as const;

function flag(url: URL, key: string): boolean {
  const v = url.searchParams.get(key);
  if (v === null) return false;
  if (v === '' || v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new HttpError(400, `query parameter ${key} takes true or false, got ${JSON.stringify(v)}`);
}

function param(url: URL, key: string): string | undefined {
  return url.searchParams.get(key) ?? undefined;
}

function keyValues(url: URL, key: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of url.searchParams.getAll(key)) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new HttpError(400, `query parameter ${key} takes key=value, got ${JSON.stringify(item)}`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** The query parameters GET /v1/models knows; any other is a 400, never silently ignored. */
const LIST_FILTERS = ['name', 'task', 'format', 'tag', 'metric'];

function metricCondition(text: string): MetricCondition {
  try {
    return parseMetricCondition(text);
  } catch (err) {
    if (err instanceof ModelctlError) throw new HttpError(400, err.message, err.hint ? { hint: err.hint } : {});
    throw err;
  }
}

/** Streams the body into a private temporary file, then registers it: the registry hashes it as it copies it in. */
async function upload(ctx: ServeContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const name = param(url, 'name');
  if (!name)
    throw new HttpError(400, 'query parameter name is required', { hint: 'POST /v1/models?name=my-model with the model file as the body' });
  checkName(name);
  const filename = (param(url, 'filename') ?? 'model.onnx').split(/[\\/]/).pop() ?? '';
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
    const path = join(dir, filename);
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
      source: { kind: 'upload', filename, via: 'modelctl serve' },
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

async function download(ctx: ServeContext, res: ServerResponse, url: URL, ref: string): Promise<void> {
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

/** OpenAI's list entries: one per name (its newest version's time), then one per name:version. */
function openAiModels(entries: ListEntry[]): ReturnType<typeof openAiModel>[] {
  const newest = new Map<string, string>();
  for (const e of entries) if ((newest.get(e.name) ?? '') < e.createdAt) newest.set(e.name, e.createdAt);
  return [
    ...[...newest].map(([name, at]) => openAiModel(name, at)),
    ...entries.map((e) => openAiModel(`${e.name}:${e.version}`, e.createdAt)),
  ];
}

async function modelSummary(ctx: ServeContext, res: ServerResponse, name: string): Promise<void> {
  checkName(name);
  const { entries } = await ctx.registry.list({ name });
  if (entries.length === 0)
    throw new ModelctlError('NOT_FOUND', `no model named ${JSON.stringify(name)}`, {
      hint: 'GET /v1/models lists what the registry holds',
    });
  const aliases = Object.fromEntries(entries.flatMap((e) => e.aliases.map((a) => [a, e.version])));
  const newest = entries.reduce((a, b) => (b.createdAt > a.createdAt ? b : a));
  sendJson(res, 200, { name, versions: entries, aliases, ...openAiModel(name, newest.createdAt) });
}

async function stats(ctx: ServeContext, res: ServerResponse): Promise<void> {
  const { entries, failures } = await ctx.registry.list();
  const cache = ctx.manager.cache.stats();
  sendJson(res, 200, {
    registry: {
      models: new Set(entries.map((e) => e.name)).size,
      versions: entries.length,
      bytes: entries.reduce((n, e) => n + e.size, 0),
      unreadable: failures.length,
    },
    server: { modelsLoaded: cache.sessions, cacheBytes: cache.bytes, hits: cache.hits, misses: cache.misses, evictions: cache.evictions },
  });
}

function notYet(command: string): never {
  throw new ModelctlError('NOT_AVAILABLE', `this endpoint is not available yet: use \`modelctl ${command}\``, {
    hint: `run \`modelctl ${command} --help\``,
  });
}

/** The v1 route for a path (segments after `v1`), or undefined when none matches. */
export function v1Route(ctx: ServeContext, method: string, segs: string[]): Route | undefined {
  const [head, ...rest] = segs;
  if (segs.length === 1 && head === 'stats' && method === 'GET') return { label: '/v1/stats', handle: async (_q, res) => stats(ctx, res) };
  if (segs.length === 1 && head === 'pull' && method === 'POST') return { label: '/v1/pull', handle: async () => notYet('pull') };
  if (segs.length === 1 && head === 'validate' && method === 'POST') {
    return {
      label: '/v1/validate',
      handle: async (_q, res, url) => sendJson(res, 200, await ctx.registry.validate({ strict: flag(url, 'strict'), signal: ctx.signal })),
    };
  }
  const openAi = openAiRoute(ctx, method, segs);
  if (openAi) return openAi;
  if (head !== 'models') return undefined;
  if (rest.length === 0) {
    if (method === 'GET') {
      return {
        label: '/v1/models',
        handle: async (_q, res, url) => {
          const unknown = [...new Set(url.searchParams.keys())].filter((k) => !LIST_FILTERS.includes(k));
          if (unknown.length > 0) {
            throw new HttpError(400, `unknown query parameter ${unknown.map((k) => JSON.stringify(k)).join(', ')}`, {
              hint: `GET /v1/models filters by ${LIST_FILTERS.join(', ')} (e.g. ?tag=team=nlp&metric=accuracy>=0.9)`,
            });
          }
          const { entries, failures } = await ctx.registry.list({
            ...(param(url, 'name') ? { name: param(url, 'name') as string } : {}),
            ...(param(url, 'task') ? { task: param(url, 'task') as string } : {}),
            ...(param(url, 'format') ? { format: param(url, 'format') as string } : {}),
            tags: url.searchParams.getAll('tag'),
            metrics: url.searchParams.getAll('metric').map(metricCondition),
          });
          // `object` and `data` are OpenAI's model list (client.models.list()): each name, then each name:version.
          sendJson(res, 200, {
            models: entries,
            unreadable: failures.map((f) => `${f.name}:${f.version}`),
            object: 'list',
            data: openAiModels(entries),
          });
        },
      };
    }
    if (method === 'POST') return { label: '/v1/models', handle: async (req, res, url) => upload(ctx, req, res, url) };
    return undefined;
  }
  const p = modelPath(rest, ACTIONS);
  if (!p) return undefined;
  const label = `/v1/models/{name}${p.version !== undefined ? '/versions/{version}' : ''}${p.action ? `/${p.action}` : ''}`;
  const ref = async (): Promise<string> => {
    const m = await ctx.manager.manifest(p.name, p.version);
    return `${m.name}:${m.version}`;
  };
  switch (p.action) {
    case 'predict':
      return method === 'POST' ? { label, handle: async (req, res) => v1Predict(ctx, req, res, p.name, p.version) } : undefined;
    case 'download':
      return method === 'GET' ? { label, handle: async (_q, res, url) => download(ctx, res, url, await ref()) } : undefined;
    case 'export':
      return method === 'POST' ? { label, handle: async () => notYet('export') } : undefined;
    case 'validate':
      return method === 'POST'
        ? {
            label,
            handle: async (_q, res, url) =>
              sendJson(
                res,
                200,
                await ctx.registry.validate({
                  ref: p.version === undefined ? checkName(p.name) : await ref(),
                  strict: flag(url, 'strict'),
                  signal: ctx.signal,
                }),
              ),
          }
        : undefined;
    default:
  }
  if (method === 'GET') {
    if (p.version === undefined) return { label, handle: async (_q, res) => modelSummary(ctx, res, p.name) };
    return {
      label,
      handle: async (_q, res) => {
        const { manifest, aliases, lastUsed } = await ctx.registry.info(await ref());
        sendJson(res, 200, { manifest, aliases, lastUsed });
      },
    };
  }
  if (method === 'DELETE') {
    return {
      label,
      handle: async (_q, res, url) => {
        const all = flag(url, 'all_versions');
        if (p.version === undefined && !all)
          throw new HttpError(400, 'name a version, or remove every version with ?all_versions=true', {
            hint: `DELETE /v1/models/${p.name}/versions/{version}`,
          });
        const result = await ctx.registry.remove(p.version === undefined ? checkName(p.name) : await ref(), {
          allVersions: p.version === undefined,
        });
        ctx.manager.forget(p.name);
        sendJson(res, 200, result);
      },
    };
  }
  return undefined;
}
