import { modelPath, type Route, type ServeContext } from './context.js';
import { sendJson } from './http.js';
import { openAiRoute } from './openai.js';
import { flag } from './query.js';
import { download, upload } from './v1-files.js';
import { cancelJob, listJobs, showJob, startExport, startPull } from './v1-jobs.js';
import { v1Predict } from './v1-predict.js';
import { listModels, modelSummary, removeModel, stats, validateModel, versionInfo } from './v1-registry.js';

/**
 * The /v1 routes: the registry over HTTP (list, get, upload, remove, download, validate, stats), pull and export as
 * jobs, task-level predict, and OpenAI's completions. The routes under .../models/{name} are shared with the design's
 * /model-registry paths (routes-registry.ts): one handler per operation, whichever path reached it.
 */

const ACTIONS = ['predict', 'download', 'export', 'validate'] as const;

/** The routes under `{prefix}/models/` (`rest`: the segments after it), for the `actions` that prefix serves. */
export function modelRoute(
  ctx: ServeContext,
  method: string,
  rest: string[],
  prefix: string,
  actions: readonly string[],
): Route | undefined {
  const p = modelPath(rest, actions);
  if (!p) return undefined;
  const label = `${prefix}/models/{name}${p.version !== undefined ? '/versions/{version}' : ''}${p.action ? `/${p.action}` : ''}`;
  const ref = async (): Promise<string> => {
    const m = await ctx.manager.manifest(p.name, p.version);
    return `${m.name}:${m.version}`;
  };
  const post = method === 'POST';
  switch (p.action) {
    case 'predict':
      return post ? { label, handle: async (req, res) => v1Predict(ctx, req, res, p.name, p.version) } : undefined;
    case 'download':
      return method === 'GET' ? { label, handle: async (_q, res, url) => download(ctx, res, url, await ref()) } : undefined;
    case 'export':
      return post ? { label, handle: async (req, res) => startExport(ctx, req, res, p.name, p.version) } : undefined;
    case 'register-from-hub':
      return post && p.version === undefined ? { label, handle: async (req, res) => startPull(ctx, req, res, p.name) } : undefined;
    case 'validate':
      return post
        ? { label, handle: async (_q, res, url) => validateModel(ctx, res, url, p.version === undefined ? p.name : await ref()) }
        : undefined;
    default:
  }
  if (method === 'GET') {
    return {
      label,
      handle: async (_q, res) => (p.version === undefined ? modelSummary(ctx, res, p.name) : versionInfo(ctx, res, await ref())),
    };
  }
  if (method === 'DELETE')
    return { label, handle: async (_q, res, url) => removeModel(ctx, res, url, p.name, p.version === undefined ? undefined : ref) };
  return undefined;
}

/** The v1 route for a path (segments after `v1`), or undefined when none matches. */
export function v1Route(ctx: ServeContext, method: string, segs: string[]): Route | undefined {
  const [head, ...rest] = segs;
  const get = method === 'GET';
  if (segs.length === 1 && head === 'stats' && get) return { label: '/v1/stats', handle: async (_q, res) => stats(ctx, res) };
  if (segs.length === 1 && head === 'pull' && method === 'POST')
    return { label: '/v1/pull', handle: async (req, res) => startPull(ctx, req, res) };
  if (head === 'jobs' && get && segs.length === 1) return { label: '/v1/jobs', handle: async (_q, res) => listJobs(ctx, res) };
  if (head === 'jobs' && get && segs.length === 2)
    return { label: '/v1/jobs/{id}', handle: async (_q, res) => showJob(ctx, res, rest[0] as string) };
  if (head === 'jobs' && method === 'DELETE' && segs.length === 2)
    return { label: '/v1/jobs/{id}', handle: async (_q, res) => cancelJob(ctx, res, rest[0] as string) };
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
    if (get) return { label: '/v1/models', handle: async (_q, res, url) => listModels(ctx, res, url) };
    if (method === 'POST') return { label: '/v1/models', handle: async (req, res, url) => upload(ctx, req, res, url) };
    return undefined;
  }
  return modelRoute(ctx, method, rest, '/v1', ACTIONS);
}
