import type { ServerResponse } from 'node:http';
import { ModelctlError } from '../errors.js';
import type { ListEntry } from '../registry/index.js';
import { parseMetricCondition, type MetricCondition } from '../registry/metric-filter.js';
import { checkName } from '../registry/names.js';
import type { ServeContext } from './context.js';
import { HttpError, sendJson } from './http.js';
import { openAiModel } from './openai.js';
import { flag, param } from './query.js';

/** The registry's read and housekeeping operations over HTTP: list, one model, one version, remove, validate, stats. */

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

/** GET /v1/models (and GET /model-registry/models): the versions, filtered; an unknown filter is a 400. */
export async function listModels(ctx: ServeContext, res: ServerResponse, url: URL): Promise<void> {
  const unknown = [...new Set(url.searchParams.keys())].filter((k) => !LIST_FILTERS.includes(k));
  if (unknown.length > 0) {
    throw new HttpError(400, `unknown query parameter ${unknown.map((k) => JSON.stringify(k)).join(', ')}`, {
      hint: `the model list filters by ${LIST_FILTERS.join(', ')} (e.g. ?tag=team=nlp&metric=accuracy>=0.9)`,
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

/**
 * GET /v1/models/{name}: the model with its versions and aliases. An OpenAI model id `name:version` (or
 * `name:alias`, `name@alias`; client.models.retrieve() sends what the list gives) answers that one version.
 */
export async function modelSummary(ctx: ServeContext, res: ServerResponse, name: string): Promise<void> {
  if (/[:@]/.test(name)) {
    const colon = name.indexOf(':');
    // `name:x` as the completions read their `model`: a version, else an alias.
    const m = colon < 0 ? undefined : await ctx.manager.manifest(name.slice(0, colon), name.slice(colon + 1));
    const { manifest, aliases, lastUsed } = await ctx.registry.info(m ? `${m.name}:${m.version}` : name);
    sendJson(res, 200, { manifest, aliases, lastUsed, ...openAiModel(name, manifest.createdAt) });
    return;
  }
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

export async function stats(ctx: ServeContext, res: ServerResponse): Promise<void> {
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

/** One version: its manifest, aliases and last use. */
export async function versionInfo(ctx: ServeContext, res: ServerResponse, ref: string): Promise<void> {
  const { manifest, aliases, lastUsed } = await ctx.registry.info(ref);
  sendJson(res, 200, { manifest, aliases, lastUsed });
}

/** Re-hashes a model's blobs (`ref` a name: every version) and checks its manifests. */
export async function validateModel(ctx: ServeContext, res: ServerResponse, url: URL, ref: string): Promise<void> {
  sendJson(res, 200, await ctx.registry.validate({ ref, strict: flag(url, 'strict'), signal: ctx.signal }));
}

/** Removes one version (`version` given) or, with ?all_versions=true, every version of `name`. */
export async function removeModel(
  ctx: ServeContext,
  res: ServerResponse,
  url: URL,
  name: string,
  version: (() => Promise<string>) | undefined,
): Promise<void> {
  const all = flag(url, 'all_versions');
  if (version === undefined && !all)
    throw new HttpError(400, 'name a version, or remove every version with ?all_versions=true', {
      hint: `DELETE .../models/${name}/versions/{version}`,
    });
  const result = await ctx.registry.remove(version === undefined ? checkName(name) : await version(), {
    allVersions: version === undefined,
  });
  ctx.manager.forget(name);
  sendJson(res, 200, result);
}
