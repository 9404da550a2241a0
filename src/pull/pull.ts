import { ModelctlError } from '../errors.js';
import { fetchHubFiles, warmHasherFor, type FetchReport } from '../hub/download/index.js';
import { snapshotFiles, cachedCommit } from '../hub/hf-cache.js';
import { hubSettings, type HubSettings } from '../hub/hub-settings.js';
import { planHubPull, type HubFile, type HubPlan } from '../hub/hub-plan.js';
import { checkRevision, parsePullSource, type PullSource } from '../hub/pull-source.js';
import { selectFiles } from '../hub/select-files.js';
import { isOciRef } from '../oci/ref.js';
import type { Registry } from '../registry/index.js';
import type { Manifest } from '../registry/manifest.js';
import { LATEST, checkNewName, checkSemverVersion } from '../registry/names.js';
import { commitPull, preloadFormats } from './inspect-and-commit.js';
import { transport, type PullOptions, type PullResult } from './options.js';

export type { PullEvent, PullOptions, PulledFile, PullResult } from './options.js';

export const SHORT_SHA = 7;

function sameFiles(m: Manifest, paths: string[]): boolean {
  return m.files.length === paths.length && paths.every((p) => m.files.some((f) => f.path === p));
}

/** A version made by this very pull earlier (the same repo, commit and files)? */
function samePull(m: Manifest, repo: string, commit: string, paths: string[]): boolean {
  const s = m.lineage.source ?? {};
  return m.lineage.operation === 'pull' && s.kind === 'hub' && s.repo === repo && s.commit === commit && sameFiles(m, paths);
}

async function existing(registry: Registry, name: string, version: string): Promise<Manifest | undefined> {
  try {
    return await registry.resolve(`${name}:${version}`);
  } catch (err) {
    if (err instanceof ModelctlError && err.code === 'NOT_FOUND') return undefined;
    throw err;
  }
}

async function upToDate(registry: Registry, m: Manifest, skippedWeights: string[]): Promise<PullResult> {
  const aliases = await registry.store.aliases(m.name);
  const moved = aliases[LATEST] !== m.version ? [(await registry.tag(`${m.name}:${m.version}`, LATEST)).alias] : [];
  return {
    manifest: m,
    aliases: moved,
    upToDate: true,
    files: m.files.map((f) => ({ path: f.path, size: f.size, from: 'store' })),
    downloadedBytes: 0,
    resumedRequests: 0,
    newBlobs: 0,
    skippedWeights,
    warnings: [],
  };
}

/** Offline: the commit and its files come from the HF cache, whose blob names are the checksums to verify. */
async function offlinePlan(settings: HubSettings, repo: string, revision: string, o: PullOptions): Promise<HubPlan> {
  const commit = await cachedCommit(settings.cacheDir, repo, revision);
  const snapshot = commit ? await snapshotFiles(settings.cacheDir, repo, commit) : undefined;
  if (!commit || !snapshot) {
    throw new ModelctlError(
      'NETWORK',
      `offline (HF_HUB_OFFLINE is set) and hf:${repo}@${revision} is neither in the registry nor in the HF cache (${settings.cacheDir})`,
      {
        hint: 'unset HF_HUB_OFFLINE to download it, or point HF_HOME / HF_HUB_CACHE at a cache that holds it',
      },
    );
  }
  const byPath = new Map(snapshot.filter((f) => f.etag).map((f) => [f.path, f]));
  const { selected, skippedWeights } = selectFiles([...byPath.keys()], o.include, o.exclude);
  if (selected.length === 0) {
    throw new ModelctlError('NOT_FOUND', `offline: the HF cache holds no file of hf:${repo}@${revision} that the selection takes`, {
      hint: 'check --include / --exclude, or unset HF_HUB_OFFLINE',
    });
  }
  const files: HubFile[] = selected.map((p) => {
    const f = byPath.get(p) as { etag: string; size: number };
    return f.etag.length === 64
      ? { path: p, size: f.size, oid: '', lfs: { oid: f.etag, size: f.size } }
      : { path: p, size: f.size, oid: f.etag };
  });
  return { repo, revision, commit, endpoint: settings.endpoint, files, skippedWeights };
}

/** A registry version of this repo at this commit, found without the network (offline mode). */
async function pulledBefore(
  registry: Registry,
  name: string,
  repo: string,
  revision: string,
  settings: HubSettings,
): Promise<Manifest | undefined> {
  const commit = await cachedCommit(settings.cacheDir, repo, revision);
  const { entries } = await registry.list({ name });
  const candidates = commit
    ? entries.filter((e) => e.version === commit.slice(0, SHORT_SHA))
    : entries.filter((e) => e.aliases.includes(LATEST));
  for (const e of candidates) {
    const m = await registry.resolve(`${e.name}:${e.version}`);
    const s = m.lineage.source ?? {};
    if (s.kind === 'hub' && s.repo === repo && (commit ? s.commit === commit : s.revision === revision)) return m;
  }
  return undefined;
}

async function pullHub(o: PullOptions, source: Extract<PullSource, { kind: 'hub' }>): Promise<PullResult> {
  const env = o.env ?? process.env;
  const settings = hubSettings(env, {
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    ...(o.token ? { token: o.token } : {}),
    ...(o.offline !== undefined ? { offline: o.offline } : {}),
    ...(o.cacheDir ? { cacheDir: o.cacheDir } : {}),
  });
  if (o.revision && source.revision && o.revision !== source.revision) {
    throw new ModelctlError('USAGE', `two revisions given: @${source.revision} and --revision ${o.revision}`, { hint: 'give one' });
  }
  const revision = checkRevision(o.revision ?? source.revision ?? 'main');
  const name = checkNewName(o.name ?? source.repo);
  if (o.version !== undefined) checkSemverVersion(o.version);
  try {
    new URL(settings.endpoint);
  } catch {
    throw new ModelctlError('USAGE', `invalid Hub endpoint ${JSON.stringify(settings.endpoint)}`, {
      hint: 'e.g. --endpoint https://huggingface.co (or HF_ENDPOINT)',
    });
  }
  o.onProgress?.({ type: 'resolving', source: `hf:${source.repo}@${revision}` });
  if (settings.offline) {
    const before = await pulledBefore(o.registry, name, source.repo, revision, settings);
    if (before && (o.version === undefined || o.version === before.version)) return upToDate(o.registry, before, []);
  }
  const plan = settings.offline
    ? await offlinePlan(settings, source.repo, revision, o)
    : await planHubPull({
        repo: source.repo,
        revision,
        endpoint: settings.endpoint,
        token: settings.token,
        onChosen: warmHasherFor,
        ...(o.include ? { include: o.include } : {}),
        ...(o.exclude ? { exclude: o.exclude } : {}),
        ...transport(o),
        ...(o.signal ? { signal: o.signal } : {}),
      });
  const version = o.version ?? plan.commit.slice(0, SHORT_SHA);
  const paths = plan.files.map((f) => f.path);
  const there = await existing(o.registry, name, version);
  if (there) {
    if (samePull(there, plan.repo, plan.commit, paths)) return upToDate(o.registry, there, plan.skippedWeights);
    throw new ModelctlError(
      'VERSION_EXISTS',
      `${name}:${version} already exists${there.lineage.source?.commit === plan.commit ? ' with other files' : ''}`,
      {
        hint: 'versions are immutable: choose another --version (or --name)',
      },
    );
  }
  const total = plan.files.reduce((n, f) => n + f.size, 0);
  o.onProgress?.({
    type: 'resolved',
    source: `hf:${plan.repo}@${plan.revision}`,
    commit: plan.commit,
    files: plan.files.length,
    bytes: total,
  });
  let done = 0;
  void preloadFormats().catch(() => {}); // commit awaits it again and reports a failure there
  const report: FetchReport = await fetchHubFiles(plan, {
    layout: o.registry.store.layout,
    token: settings.token,
    cacheDir: settings.cacheDir,
    offline: settings.offline,
    concurrency: o.concurrency ?? 4,
    ...transport(o),
    ...(o.signal ? { signal: o.signal } : {}),
    onBytes: (n) => {
      done += n;
      o.onProgress?.({ type: 'bytes', done, total });
    },
    ...(o.retries !== undefined ? { retries: o.retries } : {}),
    ...(o.backoff ? { backoff: o.backoff } : {}),
  });
  o.onProgress?.({ type: 'committing' });
  const committed = await commitPull({
    registry: o.registry,
    name,
    version,
    files: report.files,
    // Where it came from, never with what credentials: the token stays out of every manifest.
    source: { kind: 'hub', repo: plan.repo, revision: plan.revision, commit: plan.commit, endpoint: plan.endpoint, files: paths.length },
    clock: o.clock ?? (() => new Date()),
    ...(o.signal ? { signal: o.signal } : {}),
    onWait: () => o.onProgress?.({ type: 'waiting-for-lock' }),
    sameAs: (m) => samePull(m, plan.repo, plan.commit, paths),
  });
  if (committed.upToDate) {
    return { ...(await upToDate(o.registry, committed.manifest, plan.skippedWeights)), downloadedBytes: report.downloaded };
  }
  return {
    manifest: committed.manifest,
    aliases: committed.aliases,
    upToDate: false,
    files: report.files.map((f) => ({ path: f.path, size: f.origin === 'store' ? f.size : f.file.size, from: f.origin })),
    downloadedBytes: report.downloaded,
    resumedRequests: report.resumed,
    newBlobs: committed.newBlobs,
    skippedWeights: plan.skippedWeights,
    warnings: committed.warnings,
  };
}

/**
 * `modelctl pull`: a Hub repo, a URL, an OCI artifact (src/oci/pull.ts) or a local folder into the registry as a new version, every file verified.
 * Nothing is registered unless every file arrived and verified.
 */
export async function pull(options: PullOptions): Promise<PullResult> {
  const source = isOciRef(options.source) ? ({ kind: 'oci' } as const) : parsePullSource(options.source);
  if (source.kind !== 'oci' && (options.credentials || options.insecure)) {
    throw new ModelctlError('USAGE', 'registry credentials and --insecure apply to oci:// sources only', {
      hint: 'pull oci://HOST/REPO:TAG --username USER --password-stdin',
    });
  }
  if (source.kind === 'hub') return pullHub(options, source);
  for (const [flag, given] of [
    ['--revision', options.revision],
    ['--include', options.include?.length],
    ['--exclude', options.exclude?.length],
    ['--endpoint', options.endpoint],
    ['--token', options.token],
  ] as const) {
    if (given) throw new ModelctlError('USAGE', `${flag} applies to Hub repos only`, { hint: 'pull hf:ORG/NAME --include GLOB' });
  }
  if (source.kind === 'url' || source.kind === 'oci') {
    const env = options.env ?? process.env;
    const offline = options.offline ?? ['1', 'true', 'yes', 'on'].includes(String(env.HF_HUB_OFFLINE ?? '').toLowerCase());
    if (offline)
      throw new ModelctlError(
        'NETWORK',
        `offline: ${source.kind === 'oci' ? 'oci:' : source.url.protocol}// ${source.kind === 'oci' ? 'references' : 'URLs'} need the network`,
        {
          hint: 'unset HF_HUB_OFFLINE (or drop --offline) to download it',
        },
      );
  }
  if (source.kind === 'oci') {
    const { pullOci } = await import('../oci/pull.js');
    return pullOci(options);
  }
  // URLs and folders need more of the library at once; a Hub pull does not load it before its first request.
  const { pullFolder, pullUrl } = await import('./url-and-folder.js');
  if (source.kind === 'url') return pullUrl(options, source.url);
  return pullFolder(options, source.path);
}
