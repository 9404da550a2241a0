import { HubApiError, listFiles, pathsInfo } from '@huggingface/hub';
import { ModelctlError } from '../errors.js';
import { USER_AGENT } from '../version.js';
import { fetchOverNodeHttp, nodeHttpOptions, type NodeHttpOptions } from './fetch-over-node-http.js';
import { connectionError, failureError, httpFailure, type FailureContext, type HttpFailure } from './http-errors.js';
import type { RepoType } from './hf-cache.js';
import { isCommitId } from './pull-source.js';
import { selectFiles } from './select-files.js';

/**
 * What a Hub pull will download: the repo listed through @huggingface/hub at the revision, the files chosen, the
 * commit the revision means, and each file's size and checksum at that commit.
 */

/** A file of a Hub repo at one commit, with what its content must hash to. */
export interface HubFile {
  path: string;
  size: number;
  /** Git blob id (of the pointer file, for LFS files). */
  oid: string;
  /** For LFS (and Xet) files: the sha256 of the content. */
  lfs?: { oid: string; size: number };
}

export interface HubPlan {
  repo: string;
  repoType: RepoType;
  revision: string;
  commit: string;
  endpoint: string;
  files: HubFile[];
  skippedWeights: string[];
}

export interface HubClientOptions extends NodeHttpOptions {
  endpoint: string;
  token: string | undefined;
  /** Replaces the fetch over node:http(s) (tests, library users with their own HTTP stack). */
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

/**
 * The fetch handed to @huggingface/hub (and to downloads, when a fetch was injected): adds the token only for
 * requests to the endpoint's own origin (a redirect to a CDN never carries it), says it is modelctl (User-Agent), and remembers the Hub's
 * X-Error-Code of a failed response, which the library's error drops.
 */
export function hubFetch(options: HubClientOptions): { fetch: typeof fetch; lastFailure: () => HttpFailure | undefined } {
  const base = options.fetch ?? fetchOverNodeHttp(nodeHttpOptions(options));
  const origin = new URL(options.endpoint).origin;
  let failure: HttpFailure | undefined;
  const wrapped = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const headers = new Headers(init?.headers);
    headers.set('user-agent', USER_AGENT);
    if (options.token && new URL(url).origin === origin && !headers.has('authorization'))
      headers.set('authorization', `Bearer ${options.token}`);
    const res = await base(input, { ...init, headers, ...(options.signal && !init?.signal ? { signal: options.signal } : {}) });
    if (!res.ok) failure = httpFailure(res);
    return res;
  }) as typeof fetch;
  return { fetch: wrapped, lastFailure: () => failure };
}

/** A file's download URL, as hf builds it: datasets and spaces under their prefix, models at the root. */
function fileUrl(endpoint: string, type: RepoType, repo: string, revision: string, path: string): string {
  const prefix = type === 'model' ? '' : `${type}s/`;
  return `${endpoint}/${prefix}${repo}/resolve/${encodeURIComponent(revision)}/${path.split('/').map(encodeURIComponent).join('/')}`;
}

export function resolveUrl(plan: Pick<HubPlan, 'endpoint' | 'repo' | 'repoType' | 'commit'>, path: string): string {
  return fileUrl(plan.endpoint, plan.repoType, plan.repo, plan.commit, path);
}

/** How messages name a repo: hf:ORG/NAME for models, hf:datasets/ORG/NAME for the others (hf's own URL form). */
export function repoLabel(repo: string, type: RepoType = 'model'): string {
  return `hf:${type === 'model' ? '' : `${type}s/`}${repo}`;
}

function libraryError(err: unknown, failure: HttpFailure | undefined, ctx: FailureContext): ModelctlError {
  if (err instanceof ModelctlError) return err;
  if (err instanceof HubApiError)
    return failureError(failure && failure.status === err.statusCode ? failure : { status: err.statusCode }, ctx);
  if ((err as { name?: string }).name === 'AbortError') throw err;
  return connectionError(err, { what: ctx.what, endpoint: ctx.endpoint ?? ctx.what });
}

/**
 * The commit a revision points at, as huggingface_hub learns it: a HEAD of one file's resolve URL, not following
 * the redirect to the CDN, read X-Repo-Commit.
 */
async function resolveCommit(
  client: ReturnType<typeof hubFetch>,
  options: HubClientOptions,
  type: RepoType,
  repo: string,
  revision: string,
  path: string,
  ctx: FailureContext,
): Promise<string> {
  let res: Response;
  try {
    res = await client.fetch(fileUrl(options.endpoint, type, repo, revision, path), { method: 'HEAD', redirect: 'manual' });
  } catch (err) {
    throw libraryError(err, undefined, ctx);
  }
  await res.body?.cancel().catch(() => {});
  if (res.status >= 400) throw failureError(httpFailure(res), { ...ctx, file: path });
  const commit = res.headers.get('x-repo-commit');
  if (!commit || !isCommitId(commit)) {
    throw new ModelctlError('NETWORK', `${ctx.what}: the server did not say which commit ${revision} is (no X-Repo-Commit header)`, {
      hint: 'check --endpoint / HF_ENDPOINT: it must be a Hugging Face Hub (or a mirror that passes its headers on)',
    });
  }
  return commit;
}

/**
 * Lists the repo at `revision`, picks the files, learns the commit the revision means, and asks paths-info for
 * those files at that commit: every later download names the commit, so a branch that moves meanwhile cannot mix
 * two versions of the repo.
 */
export async function planHubPull(
  options: HubClientOptions & {
    repo: string;
    repoType?: RepoType;
    revision: string;
    include?: string[];
    exclude?: string[];
    /** Exact file names (positional arguments): each must be in the repo. */
    files?: string[];
    /** Called once the files are chosen, with the largest one's size, while two requests are still to come. */
    onChosen?: (largest: number) => void;
  },
): Promise<HubPlan> {
  const client = hubFetch(options);
  const { repo, revision } = options;
  const type = options.repoType ?? 'model';
  const ctx: FailureContext = { what: repoLabel(repo, type), revision, endpoint: options.endpoint, tokenGiven: Boolean(options.token) };
  const listed: HubFile[] = [];
  try {
    for await (const entry of listFiles({
      repo: { type, name: repo },
      revision,
      recursive: true,
      hubUrl: options.endpoint,
      fetch: client.fetch,
    })) {
      options.signal?.throwIfAborted();
      if (entry.type !== 'file') continue;
      listed.push(toHubFile(entry));
    }
  } catch (err) {
    throw libraryError(err, client.lastFailure(), ctx);
  }
  const {
    selected,
    skippedWeights,
    missing: absent,
  } = selectFiles(
    listed.map((f) => f.path),
    options.include,
    options.exclude,
    options.files,
  );
  if (absent.length > 0) {
    throw new ModelctlError('NOT_FOUND', `${absent.join(', ')} not found in ${ctx.what}@${revision}`, {
      hint: `the repo holds ${listed.length} file(s); check the file names (paths are relative to the repo's root)`,
    });
  }
  if (selected.length === 0) {
    throw new ModelctlError(
      'NOT_FOUND',
      `no file of ${ctx.what}@${revision} matches${options.include?.length ? ` --include ${options.include.join(' ')}` : ' the default selection'}${options.exclude?.length ? ` minus --exclude ${options.exclude.join(' ')}` : ''}`,
      {
        hint: `the repo holds ${listed.length} file(s)${
          listed.length
            ? `, e.g. ${listed
                .slice(0, 4)
                .map((f) => f.path)
                .join(', ')}`
            : ''
        }; choose them with --include GLOB`,
      },
    );
  }
  const chosen = new Set(selected);
  options.onChosen?.(listed.reduce((max, f) => (chosen.has(f.path) && f.size > max ? f.size : max), 0));
  const commit = isCommitId(revision) ? revision : await resolveCommit(client, options, type, repo, revision, selected[0] as string, ctx);
  let infos: HubFile[];
  try {
    infos = (
      await pathsInfo({
        repo: { type, name: repo },
        paths: selected,
        revision: commit,
        hubUrl: options.endpoint,
        fetch: client.fetch,
      })
    )
      .filter((p) => p.type === 'file')
      .map(toHubFile);
  } catch (err) {
    throw libraryError(err, client.lastFailure(), { ...ctx, revision: commit });
  }
  const byPath = new Map(infos.map((f) => [f.path, f]));
  const missing = selected.filter((p) => !byPath.has(p));
  if (missing.length > 0) {
    throw new ModelctlError(
      'CONFLICT',
      `${ctx.what}@${revision} moved while pulling: ${missing.slice(0, 3).join(', ')} is not in commit ${commit.slice(0, 7)}`,
      {
        hint: 'run the pull again (or pin a commit with --revision)',
      },
    );
  }
  return {
    repo,
    repoType: type,
    revision,
    commit,
    endpoint: options.endpoint,
    files: selected.map((p) => byPath.get(p) as HubFile),
    skippedWeights,
  };
}

function toHubFile(entry: { path: string; size: number; oid?: string; lfs?: { oid: string; size: number } }): HubFile {
  if (!entry.oid && !entry.lfs) {
    throw new ModelctlError('NETWORK', `the Hub listed ${entry.path} without a checksum (no oid)`, {
      hint: 'check --endpoint / HF_ENDPOINT',
    });
  }
  return {
    path: entry.path,
    size: entry.lfs?.size ?? entry.size,
    oid: entry.oid ?? '',
    ...(entry.lfs ? { lfs: { oid: entry.lfs.oid, size: entry.lfs.size } } : {}),
  };
}
