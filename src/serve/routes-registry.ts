import type { Route, ServeContext } from './context.js';
import { modelRoute } from './routes-v1.js';
import { upload } from './v1-files.js';
import { listModels, stats } from './v1-registry.js';

/**
 * The design's registry paths, beside /v1 and served by the same handlers: /model-registry/models (list),
 * .../models/upload, .../models/{name}[/versions/{v}] (get, delete), .../{name}/download, /export, /validate,
 * /register-from-hub (a pull job), and /model-registry/stats.
 */

const ACTIONS = ['download', 'export', 'validate', 'register-from-hub'] as const;

/** The route for a path (segments after `model-registry`), or undefined when none matches. */
export function registryRoute(ctx: ServeContext, method: string, segs: string[]): Route | undefined {
  const [head, ...rest] = segs;
  if (segs.length === 1 && head === 'stats' && method === 'GET')
    return { label: '/model-registry/stats', handle: async (_q, res) => stats(ctx, res) };
  if (head !== 'models') return undefined;
  if (rest.length === 0)
    return method === 'GET' ? { label: '/model-registry/models', handle: async (_q, res, url) => listModels(ctx, res, url) } : undefined;
  // Here `models/upload` is the upload and nothing else (a model named "upload" is read and removed under /v1).
  if (rest.length === 1 && rest[0] === 'upload')
    return method === 'POST'
      ? { label: '/model-registry/models/upload', handle: async (req, res, url) => upload(ctx, req, res, url) }
      : undefined;
  return modelRoute(ctx, method, rest, '/model-registry', ACTIONS);
}
