import { ModelctlError } from '../errors.js';
import { fetchHubFiles, inStore, warmHasherFor, type FetchReport } from '../hub/download/index.js';
import { cachedBlob, repoCacheDir, type RepoType } from '../hub/hf-cache.js';
import { writeHfCache } from '../hub/hf-cache-write.js';
import { hubSettings, offlineWords, type HubSettings } from '../hub/hub-settings.js';
import { planHubPull, repoLabel, type HubFile, type HubPlan } from '../hub/hub-plan.js';
import { checkRevision, parsePullSource, type PullSource } from '../hub/pull-source.js';
import { isMlflowUri } from '../mlflow/target.js';
import { isOciRef } from '../oci/ref.js';
import type { Registry } from '../registry/index.js';
import type { Manifest } from '../registry/manifest.js';
import { LATEST, checkNewName, checkSemverVersion } from '../registry/names.js';
import { commitPull, preloadFormats } from './inspect-and-commit.js';
import { SHORT_SHA, offlinePlan, pulledBefore } from './offline.js';
import { transportWithTimeout, type PullDryRun, type PullOptions, type PullResult } from './options.js';
import { writeLocalDirMetadata } from './local-dir-meta.js';
import { checkWriteOut, writeVersionOut, type OutFile, type WriteOutCheck } from './write-out.js';

export type { PullDryRun, PullEvent, PullOptions, PulledFile, PullResult } from './options.js';

export { SHORT_SHA };

function sameFiles(m: Manifest, paths: string[]): boolean {
  return m.files.length === paths.length && paths.every((p) => m.files.some((f) => f.path === p));
}

/** A version made by this very pull earlier (the same repo, commit and files)? */
function samePull(m: Manifest, plan: HubPlan, paths: string[]): boolean {
  const s = m.lineage.source ?? {};
  return (
    m.lineage.operation === 'pull' &&
    s.kind === 'hub' &&
    s.repo === plan.repo &&
    (s.repoType ?? 'model') === plan.repoType &&
    s.commit === plan.commit &&
    sameFiles(m, paths)
  );
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

interface HubStart {
  settings: HubSettings;
  repoType: RepoType;
  revision: string;
  name: string;
}

/** The checks every Hub pull (and its dry run) makes before its first request. */
function hubStart(o: PullOptions, source: Extract<PullSource, { kind: 'hub' }>): HubStart {
  const settings = hubSettings(o.env ?? process.env, {
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    ...(o.token ? { token: o.token } : {}),
    ...(o.offline !== undefined ? { offline: o.offline } : {}),
    ...(o.cacheDir ? { cacheDir: o.cacheDir } : {}),
    ...(o.timeout !== undefined ? { timeout: o.timeout } : {}),
    ...(o.hfCache !== undefined ? { writeCache: o.hfCache } : {}),
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
  return { settings, repoType: o.repoType ?? 'model', revision, name };
}

/** What the pull will fetch: from the HF cache when offline, else listed by the Hub. */
function hubPlan(o: PullOptions, start: HubStart, repo: string): Promise<HubPlan> {
  const { settings, repoType, revision } = start;
  if (settings.offline) return offlinePlan(settings, repo, repoType, revision, o);
  return planHubPull({
    repo,
    repoType,
    revision,
    endpoint: settings.endpoint,
    token: settings.token,
    onChosen: warmHasherFor,
    ...(o.include ? { include: o.include } : {}),
    ...(o.exclude ? { exclude: o.exclude } : {}),
    ...(o.files ? { files: o.files } : {}),
    ...transportWithTimeout(o, settings.timeoutMs),
    ...(o.signal ? { signal: o.signal } : {}),
  });
}

/** What a Hub file's content must hash to, for comparing files already in a --local-dir. */
function expected(f: HubFile): OutFile {
  return f.lfs ? { path: f.path, size: f.size, sha256: f.lfs.oid } : { path: f.path, size: f.size, gitOid: f.oid };
}

/** After the version is registered (or found up to date): its files into --local-dir and the HF cache. */
async function writeThrough(
  o: PullOptions,
  start: HubStart,
  plan: HubPlan,
  result: PullResult,
  out: WriteOutCheck | undefined,
): Promise<PullResult> {
  const layout = o.registry.store.layout;
  const shaOf = new Map(result.manifest.files.map((f) => [f.path, f.sha256]));
  const blobOf = (path: string): string => layout.blob(shaOf.get(path) as string);
  let done = result;
  // The etag the Hub gives each file: the sha256 of an LFS file, the git blob id of another.
  const etagOf = (f: HubPlan['files'][number]): string => f.lfs?.oid ?? f.oid;
  if (out) {
    done = { ...done, localDir: await writeVersionOut(o.registry, result.manifest, out) };
    await writeLocalDirMetadata(
      out.dir,
      plan.commit,
      plan.files.map((f) => ({ path: f.path, etag: etagOf(f) })),
    );
  }
  // Offline, the files came from the HF cache (or the registry): there is nothing new to write into it.
  if (start.settings.writeCache && !start.settings.offline) {
    const dir = repoCacheDir(start.settings.cacheDir, plan.repo, plan.repoType);
    const files = plan.files.map((f) => ({ path: f.path, etag: etagOf(f), size: f.size, source: blobOf(f.path) }));
    const written = await writeHfCache(dir, plan.commit, plan.revision, files);
    done = { ...done, hfCache: { dir, ...written } };
  }
  return done;
}

/** `pull --dry-run`: the plan, what is already here, and what would be downloaded; nothing is fetched or written. */
export async function planPull(o: PullOptions): Promise<PullDryRun> {
  const source = parsePullSource(o.source);
  if (source.kind !== 'hub') throw new ModelctlError('USAGE', '--dry-run applies to Hub repos only', { hint: 'pull ORG/NAME --dry-run' });
  const start = hubStart(o, source);
  const plan = await hubPlan(o, start, source.repo);
  const repoDir = repoCacheDir(start.settings.cacheDir, plan.repo, plan.repoType);
  const files: PullDryRun['files'] = [];
  for (const f of plan.files) {
    const sha = f.lfs?.oid;
    const stored = !o.forceDownload && sha !== undefined && (await inStore(o.registry.store.layout, sha, f.size));
    const cached = !o.forceDownload && !stored && (await cachedBlob(repoDir, f.lfs?.oid ?? f.oid, f.size)) !== undefined;
    files.push({ path: f.path, size: f.size, have: stored ? 'store' : cached ? 'hf-cache' : null });
  }
  const version = o.version ?? plan.commit.slice(0, SHORT_SHA);
  const there = await existing(o.registry, start.name, version);
  return {
    source: `${repoLabel(plan.repo, plan.repoType)}@${plan.revision}`,
    commit: plan.commit,
    ref: `${start.name}:${version}`,
    registered:
      there !== undefined &&
      samePull(
        there,
        plan,
        plan.files.map((f) => f.path),
      ),
    files,
    toDownload: files.filter((f) => f.have === null).reduce((n, f) => n + f.size, 0),
    skippedWeights: plan.skippedWeights,
  };
}

async function pullHub(o: PullOptions, source: Extract<PullSource, { kind: 'hub' }>): Promise<PullResult> {
  const start = hubStart(o, source);
  const { settings, name, repoType, revision } = start;
  o.onProgress?.({ type: 'resolving', source: `${repoLabel(source.repo, repoType)}@${revision}` });
  if (settings.offline) {
    const before = await pulledBefore(o.registry, name, source.repo, repoType, revision, settings);
    if (before && (o.version === undefined || o.version === before.version)) {
      const out = o.localDir !== undefined ? await checkWriteOut(o.localDir, before.files, o.force === true) : undefined;
      const result = await upToDate(o.registry, before, []);
      return out ? { ...result, localDir: await writeVersionOut(o.registry, before, out) } : result;
    }
  }
  const plan = await hubPlan(o, start, source.repo);
  // A --local-dir holding other content is refused before anything is downloaded or registered.
  const out = o.localDir !== undefined ? await checkWriteOut(o.localDir, plan.files.map(expected), o.force === true) : undefined;
  const version = o.version ?? plan.commit.slice(0, SHORT_SHA);
  const paths = plan.files.map((f) => f.path);
  const there = await existing(o.registry, name, version);
  if (there) {
    if (samePull(there, plan, paths) && !o.forceDownload)
      return writeThrough(o, start, plan, await upToDate(o.registry, there, plan.skippedWeights), out);
    if (!samePull(there, plan, paths)) {
      throw new ModelctlError(
        'VERSION_EXISTS',
        `${name}:${version} already exists${there.lineage.source?.commit === plan.commit ? ' with other files' : ''}`,
        { hint: 'versions are immutable: choose another --version (or --name)' },
      );
    }
  }
  const label = `${repoLabel(plan.repo, plan.repoType)}@${plan.revision}`;
  const total = plan.files.reduce((n, f) => n + f.size, 0);
  o.onProgress?.({ type: 'resolved', source: label, commit: plan.commit, files: plan.files.length, bytes: total });
  let done = 0;
  void preloadFormats().catch(() => {}); // commit awaits it again and reports a failure there
  const report: FetchReport = await fetchHubFiles(plan, {
    layout: o.registry.store.layout,
    token: settings.token,
    cacheDir: settings.cacheDir,
    offline: settings.offlineBy ?? false,
    concurrency: o.concurrency ?? 4,
    ...(o.forceDownload ? { forceDownload: true } : {}),
    ...transportWithTimeout(o, settings.timeoutMs),
    ...(o.signal ? { signal: o.signal } : {}),
    onBytes: (n) => {
      done += n;
      o.onProgress?.({ type: 'bytes', done, total });
    },
    ...(o.retries !== undefined ? { retries: o.retries } : {}),
    ...(o.backoff ? { backoff: o.backoff } : {}),
  });
  const damaged = report.damagedInCache.map((p) => `${p}: the HF cache copy was damaged; downloaded it again`);
  o.onProgress?.({ type: 'committing' });
  const committed = await commitPull({
    registry: o.registry,
    name,
    version,
    files: report.files,
    // Where it came from, never with what credentials: the token stays out of every manifest.
    source: {
      kind: 'hub',
      repo: plan.repo,
      ...(plan.repoType !== 'model' ? { repoType: plan.repoType } : {}),
      revision: plan.revision,
      commit: plan.commit,
      endpoint: plan.endpoint,
      files: paths.length,
    },
    display: label,
    clock: o.clock ?? (() => new Date()),
    ...(o.signal ? { signal: o.signal } : {}),
    onWait: () => o.onProgress?.({ type: 'waiting-for-lock' }),
    sameAs: (m) => samePull(m, plan, paths),
  });
  if (committed.upToDate) {
    const same = await upToDate(o.registry, committed.manifest, plan.skippedWeights);
    return writeThrough(o, start, plan, { ...same, downloadedBytes: report.downloaded, warnings: damaged }, out);
  }
  const result: PullResult = {
    manifest: committed.manifest,
    aliases: committed.aliases,
    upToDate: false,
    files: report.files.map((f) => ({ path: f.path, size: f.origin === 'store' ? f.size : f.file.size, from: f.origin })),
    downloadedBytes: report.downloaded,
    resumedRequests: report.resumed,
    newBlobs: committed.newBlobs,
    skippedWeights: plan.skippedWeights,
    warnings: [...damaged, ...committed.warnings],
  };
  return writeThrough(o, start, plan, result, out);
}

/**
 * `modelctl pull`: a Hub repo, a URL, an OCI artifact (src/oci/pull.ts) or a local folder into the registry as a new version, every file verified.
 * Nothing is registered unless every file arrived and verified.
 */
export async function pull(options: PullOptions): Promise<PullResult> {
  const source = isOciRef(options.source)
    ? ({ kind: 'oci' } as const)
    : isMlflowUri(options.source)
      ? ({ kind: 'mlflow' } as const)
      : parsePullSource(options.source);
  if (source.kind !== 'oci' && options.credentials) {
    throw new ModelctlError('USAGE', 'registry credentials apply to oci:// sources only', {
      hint: 'pull oci://HOST/REPO:TAG --username USER --password-stdin',
    });
  }
  if (options.insecure && source.kind !== 'oci' && source.kind !== 'mlflow') {
    throw new ModelctlError('USAGE', '--insecure applies to oci:// and mlflow:// sources only', { hint: 'drop --insecure' });
  }
  if (source.kind === 'hub') return pullHub(options, source);
  for (const [flag, given] of [
    ['--revision', options.revision],
    ['--include', options.include?.length],
    ['--exclude', options.exclude?.length],
    ['--endpoint', options.endpoint],
    ['--token', options.token],
    ['file names after the source', options.files?.length],
    ['--repo-type', options.repoType !== undefined && options.repoType !== 'model'],
    ['--local-dir', options.localDir !== undefined],
    ['--hf-cache', options.hfCache],
    ['--force-download', options.forceDownload],
  ] as const) {
    if (given) {
      throw new ModelctlError('USAGE', `${flag} applies to Hub repos only`, {
        hint: flag === '--local-dir' ? 'pull it, then `modelctl checkout NAME:VERSION DIR`' : 'pull hf:ORG/NAME --include GLOB',
      });
    }
  }
  if (source.kind === 'url' || source.kind === 'oci' || source.kind === 'mlflow') {
    const { offlineBy } = hubSettings(options.env ?? process.env, options.offline !== undefined ? { offline: options.offline } : {});
    if (offlineBy) {
      const what = source.kind === 'url' ? `${source.url.protocol}// URLs` : `${source.kind}:// references`;
      throw new ModelctlError('NETWORK', `offline (${offlineWords(offlineBy).why}): ${what} need the network`, {
        hint: `${offlineWords(offlineBy).undo} to download it`,
      });
    }
  }
  if (source.kind === 'oci') {
    const { pullOci } = await import('../oci/pull.js');
    return pullOci(options);
  }
  if (source.kind === 'mlflow') {
    const { pullFromMlflow } = await import('../mlflow/pull.js');
    return pullFromMlflow(options);
  }
  // URLs and folders need more of the library at once; a Hub pull does not load it before its first request.
  const { pullFolder, pullUrl } = await import('./url-and-folder.js');
  if (source.kind === 'url') return pullUrl(options, source.url);
  return pullFolder(options, source.path);
}
