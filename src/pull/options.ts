import type { Agent as HttpsAgent } from 'node:https';
import type { Credentials } from '../oci/auth.js';
import type { FileOrigin } from '../hub/download/index.js';
import type { RepoType } from '../hub/hf-cache.js';
import type { Registry } from '../registry/index.js';
import type { Manifest } from '../registry/manifest.js';

/** What `pull` takes and gives back, shared by the Hub path (pull.ts) and the URL and folder paths. */

export interface PullOptions {
  /** hf:ORG/NAME[@REV], ORG/NAME, an http(s) URL, oci://HOST/REPO[:TAG|@DIGEST], mlflow://HOST:PORT/NAME@ALIAS|/N, or a folder/file path. */
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
  /** For oci:// sources: who to be to the registry (else the environment or the Docker config). */
  credentials?: Credentials;
  /** Plain http to a server that is not on loopback (oci://, mlflow://). */
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
  /** Hub repo type (default model): datasets and spaces live under their own URL prefix and cache folder. */
  repoType?: RepoType;
  /** Exact file names to take (`hf download REPO FILE...`), beside --include globs; each must exist. */
  files?: string[];
  /** Also write the version's files into this folder (exact paths, byte-identical copies). */
  localDir?: string;
  /** Overwrite files in `localDir` that hold other content (otherwise a CONFLICT before anything is fetched). */
  force?: boolean;
  /** Write the Hub files into the HF cache too (default: MODELCTL_HF_CACHE_WRITE=1). */
  hfCache?: boolean;
  /** Download again even what the store or the HF cache holds. */
  forceDownload?: boolean;
  /** Seconds without a byte before a request counts as stalled (default: $HF_HUB_DOWNLOAD_TIMEOUT, else 10). */
  timeout?: number;
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
  /** With localDir: the folder, the files written and those already there with the same content. */
  localDir?: { dir: string; written: string[]; same: string[] };
  /** With hfCache: the repo's cache folder, blobs written, and damaged ones replaced. */
  hfCache?: { dir: string; written: string[]; replaced: string[] };
}

/** `pull --dry-run`: what a pull would do, found with the listing requests only. */
export interface PullDryRun {
  /** hf:ORG/NAME@REV (hf:datasets/ORG/NAME@REV), the commit it means, and the version it would register. */
  source: string;
  commit: string;
  ref: string;
  /** That version is registered already, from this same commit and files. */
  registered: boolean;
  /** Each file, with where it already is (`null`: it would be downloaded). */
  files: Array<{ path: string; size: number; have: 'store' | 'hf-cache' | null }>;
  toDownload: number;
  skippedWeights: string[];
}

/** The HTTP seams of the options, as the download functions take them. */
export function transport(o: PullOptions): { fetch?: typeof fetch; httpsAgent?: HttpsAgent } {
  return { ...(o.fetch ? { fetch: o.fetch } : {}), ...(o.httpsAgent ? { httpsAgent: o.httpsAgent } : {}) };
}

/** The transport with the stall timeout the settings chose (--timeout, HF_HUB_DOWNLOAD_TIMEOUT, 10 s). */
export function transportWithTimeout(o: PullOptions, idleMs: number): { fetch?: typeof fetch; httpsAgent?: HttpsAgent; idleMs: number } {
  return { ...transport(o), idleMs };
}
