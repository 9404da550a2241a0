import type { Agent as HttpsAgent } from 'node:https';
import type { Credentials } from '../oci/auth.js';
import type { FileOrigin } from '../hub/download/index.js';
import type { Registry } from '../registry/index.js';
import type { Manifest } from '../registry/manifest.js';

/** What `pull` takes and gives back, shared by the Hub path (pull.ts) and the URL and folder paths. */

export interface PullOptions {
  /** hf:ORG/NAME[@REV], ORG/NAME, an http(s) URL, oci://HOST/REPO[:TAG|@DIGEST], or a folder/file path. */
  source: string;
  registry: Registry;
  revision?: string;
  include?: string[];
  exclude?: string[];
  /** Registry name (default: the repo id, or the file or folder name). */
  name?: string;
  /** Version (default: the commit's short sha for the Hub, the next patch otherwise). */
  version?: string;
  /** Flags that beat HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE and HF_HUB_CACHE. */
  endpoint?: string;
  token?: string;
  offline?: boolean;
  cacheDir?: string;
  /** For oci:// sources: who to be to the registry (else the environment or the Docker config), and plain HTTP. */
  credentials?: Credentials;
  insecure?: boolean;
  /** Files downloaded at once (default 4). */
  concurrency?: number;
  env?: NodeJS.ProcessEnv;
  /** Replaces node:http(s) for every request (tests, library users with their own HTTP stack). */
  fetch?: typeof fetch;
  /**
   * The agent for https: requests, e.g. `new https.Agent({ ca })` to trust a private CA. Default: Node's global
   * agent, whose trusted certificates NODE_EXTRA_CA_CERTS extends.
   */
  httpsAgent?: HttpsAgent;
  signal?: AbortSignal;
  clock?: () => Date;
  onProgress?: (event: PullEvent) => void;
  /** Retry policy of a download (tests shorten the waits). */
  retries?: number;
  backoff?: (attempt: number) => number;
}

export type PullEvent =
  | { type: 'resolving'; source: string }
  | { type: 'resolved'; source: string; commit?: string; files: number; bytes: number }
  | { type: 'bytes'; done: number; total: number }
  | { type: 'committing' }
  | { type: 'waiting-for-lock' };

export interface PulledFile {
  path: string;
  size: number;
  /** Where the bytes came from: downloaded, copied from the HF cache, or already in the registry's store. */
  from: FileOrigin;
}

export interface PullResult {
  manifest: Manifest;
  aliases: string[];
  /** The version was there already (same commit, same files): nothing was downloaded or written. */
  upToDate: boolean;
  files: PulledFile[];
  /** Bytes received from the network (with retries), and requests that resumed a partial file. */
  downloadedBytes: number;
  resumedRequests: number;
  newBlobs: number;
  /** Files of another weight format the default selection left out. */
  skippedWeights: string[];
  warnings: string[];
}

/** The HTTP seams of the options, as the download functions take them. */
export function transport(o: PullOptions): { fetch?: typeof fetch; httpsAgent?: HttpsAgent } {
  return { ...(o.fetch ? { fetch: o.fetch } : {}), ...(o.httpsAgent ? { httpsAgent: o.httpsAgent } : {}) };
}
