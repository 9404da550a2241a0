import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Framework } from '../convert/families.js';
import { ModelctlError } from '../errors.js';
import { exportModel, type ExportOptions } from '../export/export.js';
import { parsePullSource } from '../hub/pull-source.js';
import { pull, type PullOptions } from '../pull/pull.js';
import { checkName, checkNewVersion, formatRef } from '../registry/names.js';
import type { ServeContext } from './context.js';
import { HttpError, parseJson, readBody, sendJson } from './http.js';
import { EXPORT_FIELDS, type FieldSchema, PULL_FIELDS, describe, fits } from './job-fields.js';
import type { JobView } from './jobs.js';

/**
 * Pull and export over HTTP: each request checks what it can at once (400, 404), then starts a job and answers 202
 * with the job; GET /v1/jobs/{id} follows it. The job calls the same library functions the CLI calls.
 */

/** The request body checked against `fields` (an empty body is `{}`): unknown keys and wrong types are a 400. */
async function jobRequest(ctx: ServeContext, req: IncomingMessage, fields: Record<string, FieldSchema>): Promise<Record<string, unknown>> {
  const bytes = await readBody(req, ctx.maxBody);
  const value = bytes.toString('utf8').trim() === '' ? {} : parseJson(bytes);
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new HttpError(400, 'the request body must be a JSON object');
  const body = value as Record<string, unknown>;
  for (const [key, v] of Object.entries(body)) {
    const f = fields[key];
    if (!f) throw new HttpError(400, `unknown field ${JSON.stringify(key)}`, { hint: `the body takes ${Object.keys(fields).join(', ')}` });
    if (!fits(v, f)) throw new HttpError(400, `field ${key} must be ${describe(f)}, got ${JSON.stringify(v)}`);
  }
  return body;
}

function accepted(res: ServerResponse, view: JobView): void {
  sendJson(res, 202, view, { location: view.links.self });
}

/**
 * POST /v1/pull, and POST /model-registry/models/{name}/register-from-hub where `name` comes from the path (and is
 * the repo too when the body names no source).
 */
export async function startPull(ctx: ServeContext, req: IncomingMessage, res: ServerResponse, pathName?: string): Promise<void> {
  if (pathName !== undefined) checkName(pathName);
  const body = await jobRequest(ctx, req, PULL_FIELDS);
  if (pathName !== undefined && body.name !== undefined)
    throw new HttpError(400, 'the model name is in the path; leave "name" out of the body');
  const sourceText = (body.source as string | undefined) ?? (pathName !== undefined ? `hf:${pathName}` : undefined);
  if (sourceText === undefined) throw new HttpError(400, 'field source is required', { hint: 'e.g. {"source": "hf:org/name"}' });
  const source = parsePullSource(sourceText);
  if (source.kind !== 'hub')
    throw new HttpError(400, `the server pulls Hub repos only, not ${source.kind === 'url' ? 'URLs' : 'its own files'}`, {
      hint: 'give ORG/NAME or hf:ORG/NAME[@REVISION]; for URLs and files run `modelctl pull` where they are',
    });
  const name = pathName ?? (body.name as string | undefined);
  if (name !== undefined) checkName(name);
  if (body.version !== undefined) checkNewVersion(body.version as string);
  const request = { ...body, source: sourceText, ...(name !== undefined ? { name } : {}) };
  const view = ctx.jobs.start('pull', request, async ({ progress, signal }) => {
    const options: PullOptions = {
      source: sourceText,
      registry: ctx.registry,
      ...(name !== undefined ? { name } : {}),
      ...(body.revision !== undefined ? { revision: body.revision as string } : {}),
      ...(body.version !== undefined ? { version: body.version as string } : {}),
      ...(body.include !== undefined ? { include: body.include as string[] } : {}),
      ...(body.exclude !== undefined ? { exclude: body.exclude as string[] } : {}),
      ...(ctx.jobEnv ? { env: ctx.jobEnv } : {}),
      signal,
      onProgress: (e) => {
        if (e.type === 'resolving') progress({ stage: 'resolving' });
        else if (e.type === 'resolved') progress({ stage: 'downloading', files: e.files, totalBytes: e.bytes });
        else if (e.type === 'bytes') progress({ bytes: e.done, totalBytes: e.total });
        else if (e.type === 'committing') progress({ stage: 'committing' });
        else progress({ stage: 'waiting for the registry lock' });
      },
    };
    const r = await pull(options);
    ctx.manager.forget(r.manifest.name);
    progress({ files: r.manifest.files.length });
    return { name: r.manifest.name, version: r.manifest.version, upToDate: r.upToDate };
  });
  accepted(res, view);
}

/** POST /v1/models/{name}[/versions/{v}]/export (and its /model-registry twin): the registry version to ONNX. */
export async function startExport(
  ctx: ServeContext,
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
  version: string | undefined,
): Promise<void> {
  checkName(name);
  const body = await jobRequest(ctx, req, EXPORT_FIELDS);
  if (body.name !== undefined) checkName(body.name as string);
  if (body.version !== undefined) checkNewVersion(body.version as string);
  // The version is fixed now: a `latest` that moves while the job waits does not change what it converts.
  const m = await ctx.manager.manifest(name, version);
  const source = formatRef(m.name, m.version);
  if (m.format === 'onnx')
    throw new ModelctlError('INVALID_INPUT', `${source} is already ONNX: there is nothing to export`, {
      hint: 'export takes a version of another format (sklearn, XGBoost, LightGBM, PyTorch, Keras, Transformers...)',
    });
  const view = ctx.jobs.start('export', { ...body, source }, async ({ progress, signal }) => {
    const options: ExportOptions = {
      source,
      registry: ctx.registry,
      ...(body.framework !== undefined ? { framework: body.framework as Framework | 'auto' } : {}),
      ...(body.task !== undefined ? { task: body.task as string } : {}),
      ...(body.opset !== undefined ? { opset: body.opset as number } : {}),
      ...(body.atol !== undefined ? { atol: body.atol as number } : {}),
      ...(body.validate !== undefined ? { validate: body.validate as boolean } : {}),
      ...(body.optimize !== undefined ? { optimize: body.optimize as 'O1' | 'O2' | 'O3' } : {}),
      ...(body.quantize !== undefined ? { quantize: body.quantize as 'int8' | 'fp16' } : {}),
      ...(body.name !== undefined ? { name: body.name as string } : {}),
      ...(body.version !== undefined ? { version: body.version as string } : {}),
      ...(ctx.python ? { python: ctx.python } : {}),
      ...(ctx.jobEnv ? { env: ctx.jobEnv } : {}),
      verify: ctx.verify,
      signal,
      onProgress: (e) => {
        if (e.type === 'source') progress({ stage: `converting ${e.format} (${e.framework})` });
        else if (e.type === 'converter') progress({ stage: e.message });
        else if (e.type === 'registering') progress({ stage: 'registering' });
      },
    };
    const r = await exportModel(options);
    ctx.manager.forget(r.manifest.name);
    const bytes = r.manifest.files.reduce((n, f) => n + f.size, 0);
    progress({ files: r.manifest.files.length, bytes, totalBytes: bytes });
    return { name: r.manifest.name, version: r.manifest.version };
  });
  accepted(res, view);
}

export function listJobs(ctx: ServeContext, res: ServerResponse): void {
  sendJson(res, 200, { jobs: ctx.jobs.list() });
}

function noJob(id: string): ModelctlError {
  return new ModelctlError('NOT_FOUND', `no job ${JSON.stringify(id)}`, {
    hint: 'GET /v1/jobs lists the jobs this server holds (they do not outlive it)',
  });
}

export function showJob(ctx: ServeContext, res: ServerResponse, id: string): void {
  const view = ctx.jobs.get(id);
  if (!view) throw noJob(id);
  sendJson(res, 200, view);
}

/** DELETE /v1/jobs/{id}: the job cancelled (200 once stopped, 202 while stopping); 409 when it had already finished. */
export async function cancelJob(ctx: ServeContext, res: ServerResponse, id: string): Promise<void> {
  const view = await ctx.jobs.cancel(id);
  if (!view) throw noJob(id);
  // 200 once it has stopped; 202 while it is still stopping (poll GET /v1/jobs/{id}).
  sendJson(res, view.status === 'cancelled' ? 200 : 202, view);
}
