import { stat, unlink } from 'node:fs/promises';
import { ModelctlError } from '../../errors.js';
import type { Layout } from '../../registry/layout.js';
import { nodeHttpOptions, type NodeHttpOptions } from '../fetch-over-node-http.js';
import { cachedBlob, repoCacheDir } from '../hf-cache.js';
import { offlineWords, type OfflineBy } from '../hub-settings.js';
import { isAbort } from '../http-errors.js';
import { hubFetch, repoLabel, resolveUrl, type HubFile, type HubPlan } from '../hub-plan.js';
import { getWithResume, type DownloadStats } from './get-with-resume.js';
import { HashingSink, type HashedFile } from './hashing-sink.js';
import { fetchGetter, httpGetter } from './http-get.js';
import { claimPartial, newPartial, type PartialKey } from './partial-files.js';
import { copyThroughSink } from './single-file.js';

export type FileOrigin = 'network' | 'hf-cache' | 'local' | 'store';

/** A file of the new version: fresh in tmp/ (placed at commit), or a blob the store already holds. */
export type FetchedFile =
  | { path: string; origin: Exclude<FileOrigin, 'store'>; file: HashedFile }
  | { path: string; origin: 'store'; sha256: string; size: number };

/** Removes the fresh files of a pull that failed from tmp/ (a blob the store already held is left alone). */
export async function discardFetched(files: readonly FetchedFile[]): Promise<void> {
  await Promise.all(files.map((f) => (f.origin === 'store' ? undefined : unlink(f.file.tmpPath).catch(() => {}))));
}

export interface FetchOptions extends NodeHttpOptions {
  layout: Layout;
  token: string | undefined;
  cacheDir: string;
  /** Only the HF cache and the store: no request at all (and what made it so, for messages). */
  offline: OfflineBy | false;
  concurrency: number;
  /** Download every file again, ignoring copies in the store and the HF cache (hf's --force-download). */
  forceDownload?: boolean;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  onBytes?: (delta: number) => void;
  retries?: number;
  backoff?: (n: number) => number;
}

export interface FetchReport {
  files: FetchedFile[];
  /** Files whose HF cache copy was damaged and that were downloaded again instead. */
  damagedInCache: string[];
  downloaded: number;
  requests: number;
  resumed: number;
}

/** What the content must hash to: the LFS sha256, else the git blob id. */
function expectation(f: HubFile): { kind: 'sha256' | 'git'; digest: string } {
  return f.lfs ? { kind: 'sha256', digest: f.lfs.oid } : { kind: 'git', digest: f.oid };
}

/** What is wrong with `got` (the size, or the digest), or undefined when it is the expected content. */
function mismatch(f: { size: number }, expected: { kind: 'sha256' | 'git'; digest: string }, got: HashedFile): string | undefined {
  const actual = expected.kind === 'sha256' ? got.sha256 : got.gitOid;
  if (got.size !== f.size) return `${got.size} bytes instead of ${f.size}`;
  if (actual !== expected.digest)
    return `${expected.kind === 'sha256' ? 'sha256' : 'git blob id'} ${actual?.slice(0, 12)} instead of ${expected.digest.slice(0, 12)}`;
  return undefined;
}

function verify(
  f: { path: string; size: number },
  expected: { kind: 'sha256' | 'git'; digest: string },
  got: HashedFile,
  where: string,
): void {
  const what = mismatch(f, expected, got);
  if (what !== undefined) {
    throw new ModelctlError('INTEGRITY', `${f.path} from ${where} failed verification (${what}); nothing was registered`, {
      hint:
        where === 'the HF cache'
          ? 'the cached copy is damaged: remove it from the HF cache (hf cache rm, or delete the blob) and pull again online'
          : 'the download was corrupted or the server sent other content than it listed; pull again',
      details: { file: f.path, expected: expected.digest, actual: (expected.kind === 'sha256' ? got.sha256 : got.gitOid) ?? null },
    });
  }
}

/** Whether the registry's store holds this blob at this size (a stat; verify-on-use checks it when it is read). */
export async function inStore(layout: Layout, sha256: string, size: number): Promise<boolean> {
  const st = await stat(layout.blob(sha256)).catch(() => undefined);
  return st?.isFile() === true && st.size === size;
}

/** Runs `work` over `items` with at most `limit` at once; the first failure aborts the rest. */
async function pool<T>(
  items: T[],
  limit: number,
  work: (item: T, signal: AbortSignal) => Promise<void>,
  outer?: AbortSignal,
): Promise<void> {
  const controller = new AbortController();
  const onAbort = () => controller.abort(outer?.reason);
  outer?.addEventListener('abort', onAbort, { once: true });
  let next = 0;
  let failure: unknown;
  const runner = async (): Promise<void> => {
    while (next < items.length && failure === undefined) {
      const item = items[next++] as T;
      try {
        await work(item, controller.signal);
      } catch (err) {
        if (failure === undefined && !(isAbort(err) && controller.signal.aborted && !outer?.aborted)) failure = err;
        controller.abort(err);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, runner));
  } finally {
    outer?.removeEventListener('abort', onAbort);
  }
  if (failure !== undefined) throw failure;
  outer?.throwIfAborted();
}

/**
 * Gets every file of a plan, `concurrency` at a time, each from the cheapest place that has it: the registry's
 * own store (LFS files, whose sha256 is known in advance), the HF cache (blobs named by their etag), else the
 * Hub. Every file is verified before it counts; on any failure every temporary file is removed.
 */
export async function fetchHubFiles(plan: HubPlan, options: FetchOptions): Promise<FetchReport> {
  // File bytes go through node:http(s) unless a fetch was injected; the token goes to the endpoint's origin only.
  const get = options.fetch
    ? fetchGetter(hubFetch({ endpoint: plan.endpoint, token: options.token, fetch: options.fetch }).fetch)
    : httpGetter({
        ...(options.token ? { authorization: `Bearer ${options.token}`, authOrigin: new URL(plan.endpoint).origin } : {}),
        ...nodeHttpOptions(options),
      });
  const results = new Map<string, FetchedFile>();
  const sinks: HashingSink[] = [];
  const report = { downloaded: 0, requests: 0, resumed: 0, damagedInCache: [] as string[] };
  const repoDir = repoCacheDir(options.cacheDir, plan.repo, plan.repoType);
  const label = repoLabel(plan.repo, plan.repoType);
  const work = async (f: HubFile, signal: AbortSignal): Promise<void> => {
    const expected = expectation(f);
    const reuse = options.forceDownload !== true;
    if (reuse && expected.kind === 'sha256' && (await inStore(options.layout, expected.digest, f.size))) {
      options.onBytes?.(f.size);
      results.set(f.path, { path: f.path, origin: 'store', sha256: expected.digest, size: f.size });
      return;
    }
    const gitSize = expected.kind === 'git' ? { gitSize: f.size } : {};
    const cached = reuse ? await cachedBlob(repoDir, expected.digest, f.size) : undefined;
    if (cached) {
      const sink = await HashingSink.create(options.layout.tmpDir, { ...gitSize, size: f.size });
      sinks.push(sink);
      await copyThroughSink(cached, sink, signal, options.onBytes);
      const got = await sink.finish();
      // A damaged cached copy is an error offline; online the file is downloaded as if it were not cached.
      if (options.offline || mismatch(f, expected, got) === undefined) {
        verify(f, expected, got, 'the HF cache');
        results.set(f.path, { path: f.path, origin: 'hf-cache', file: got });
        return;
      }
      await sink.discard();
      report.damagedInCache.push(f.path);
    }
    if (options.offline) {
      const words = offlineWords(options.offline);
      throw new ModelctlError('NETWORK', `${f.path} of ${label} is not in the HF cache and ${words.why}`, {
        hint: `${words.undo} to download it`,
      });
    }
    // A partial file a killed pull left for this content is taken over; otherwise a new, resumable one.
    const key: PartialKey = { ...expected, size: f.size, repo: plan.repo, commit: plan.commit, path: f.path };
    const partial = (await claimPartial(options.layout.tmpDir, key)) ?? newPartial(options.layout.tmpDir, key);
    const sink = await HashingSink.create(options.layout.tmpDir, { ...gitSize, size: f.size, partial });
    sinks.push(sink);
    if (partial.bytes > 0) options.onBytes?.(sink.size);
    const stats: DownloadStats = await getWithResume({
      url: resolveUrl(plan, f.path),
      headers: {},
      size: f.size,
      sink,
      get,
      ctx: { what: label, revision: plan.commit, file: f.path, endpoint: plan.endpoint, tokenGiven: Boolean(options.token) },
      signal,
      ...(options.onBytes ? { onBytes: options.onBytes } : {}),
      onResponse: (res) => {
        const commit = res.headers.get('x-repo-commit');
        if (commit && commit !== plan.commit) {
          throw new ModelctlError(
            'CONFLICT',
            `the Hub served ${f.path} from commit ${commit.slice(0, 7)} instead of ${plan.commit.slice(0, 7)}`,
            { hint: 'pull again' },
          );
        }
      },
      ...(options.retries !== undefined ? { retries: options.retries } : {}),
      ...(options.backoff ? { backoff: options.backoff } : {}),
    });
    report.requests += stats.requests;
    report.resumed += stats.resumed;
    report.downloaded += stats.received;
    const got = await sink.finish();
    verify(f, expected, got, 'the Hub');
    results.set(f.path, { path: f.path, origin: 'network', file: got });
  };
  try {
    // Largest first: the long downloads start at once and the small ones fill the gaps.
    const order = [...plan.files].sort((a, b) => b.size - a.size);
    await pool(order, options.concurrency, work, options.signal);
  } catch (err) {
    // After a network failure or an interrupt, what arrived is kept for the next pull; otherwise it goes.
    const keep = isAbort(err) || options.signal?.aborted === true || (err instanceof ModelctlError && err.code === 'NETWORK');
    await Promise.all(sinks.map((s) => (keep ? s.suspend() : s.discard())));
    throw err;
  }
  return { ...report, files: plan.files.map((f) => results.get(f.path) as FetchedFile) };
}
