import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from '../registry/index.js';
import type { Jobs } from './jobs.js';
import type { Metrics } from './metrics.js';
import type { ModelManager } from './models.js';

/** What every route handler receives. */
export interface ServeContext {
  registry: Registry;
  manager: ModelManager;
  metrics: Metrics;
  /** Bytes a JSON or inference request body may have. */
  maxBody: number;
  /** Bytes an uploaded model file may have. */
  maxUpload: number;
  maxBatch: number;
  /** Re-hash every file before it is downloaded, whatever its fingerprint says. */
  verify: boolean;
  /** False once shutdown has begun: readiness turns 503 while in-flight requests finish. */
  ready(): boolean;
  /** Aborted when the server stops for good (uploads in progress are cut). */
  signal: AbortSignal;
  /** Pull and export jobs started over HTTP. */
  jobs: Jobs;
  /** The environment pull and export jobs read (HF_ENDPOINT, HF_TOKEN, MODELCTL_PYTHON...); default process.env. */
  jobEnv?: NodeJS.ProcessEnv;
  /** The interpreter export jobs run (serve --python); else MODELCTL_PYTHON, the managed environment, python3. */
  python?: string;
}

export interface Route {
  /** The route's pattern, the `route` label of the metrics (bounded cardinality, never a raw path). */
  label: string;
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void>;
}

/** Model paths: `{name}` may be one segment (`org%2Fname`) or two (`org/name`). */
export interface ModelPath {
  name: string;
  version?: string;
  action?: string;
}

/**
 * Splits the segments after `/v2/models` or `/v1/models` into a name, an optional `versions/{v}`, and a trailing
 * action word. Names have at most one slash, so reading from the end is never ambiguous for a valid name.
 */
export function modelPath(rest: string[], actions: readonly string[]): ModelPath | undefined {
  const parts = [...rest];
  let action: string | undefined;
  if (parts.length >= 2 && actions.includes(parts.at(-1) as string)) action = parts.pop();
  let version: string | undefined;
  if (parts.length >= 3 && parts.at(-2) === 'versions') {
    version = parts.pop();
    parts.pop();
  }
  if (parts.length === 0 || parts.length > 2) return undefined;
  return { name: parts.join('/'), ...(version !== undefined ? { version } : {}), ...(action !== undefined ? { action } : {}) };
}
