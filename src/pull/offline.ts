import { ModelctlError } from '../errors.js';
import { cachedCommit, repoCacheDir, snapshotFiles, type RepoType } from '../hub/hf-cache.js';
import { offlineWords, type HubSettings } from '../hub/hub-settings.js';
import { repoLabel, type HubFile, type HubPlan } from '../hub/hub-plan.js';
import { selectFiles } from '../hub/select-files.js';
import type { Registry } from '../registry/index.js';
import type { Manifest } from '../registry/manifest.js';
import { LATEST } from '../registry/names.js';
import type { PullOptions } from './options.js';

/** Offline pulls: the plan from the HF cache, or a version the registry already holds. */

export const SHORT_SHA = 7;

/** Offline: the commit and its files come from the HF cache, whose blob names are the checksums to verify. */
export async function offlinePlan(
  settings: HubSettings,
  repo: string,
  repoType: RepoType,
  revision: string,
  o: PullOptions,
): Promise<HubPlan> {
  const repoDir = repoCacheDir(settings.cacheDir, repo, repoType);
  const label = repoLabel(repo, repoType);
  const commit = await cachedCommit(repoDir, revision);
  const snapshot = commit ? await snapshotFiles(repoDir, commit) : undefined;
  const words = offlineWords(settings.offlineBy);
  if (!commit || !snapshot) {
    throw new ModelctlError(
      'NETWORK',
      `offline (${words.why}) and ${label}@${revision} is neither in the registry nor in the HF cache (${settings.cacheDir})`,
      {
        hint: `${words.undo} to download it, or point HF_HOME / HF_HUB_CACHE at a cache that holds it`,
      },
    );
  }
  const byPath = new Map(snapshot.filter((f) => f.etag).map((f) => [f.path, f]));
  const { selected, skippedWeights, missing } = selectFiles([...byPath.keys()], o.include, o.exclude, o.files);
  if (selected.length === 0 || missing.length > 0) {
    throw new ModelctlError(
      'NOT_FOUND',
      missing.length > 0
        ? `offline (${words.why}): ${missing.join(', ')} of ${label}@${revision} is not in the HF cache`
        : `offline (${words.why}): the HF cache holds no file of ${label}@${revision} that the selection takes`,
      { hint: `check the file names, --include and --exclude, or ${words.undo}` },
    );
  }
  const files: HubFile[] = selected.map((p) => {
    const f = byPath.get(p) as { etag: string; size: number };
    return f.etag.length === 64
      ? { path: p, size: f.size, oid: '', lfs: { oid: f.etag, size: f.size } }
      : { path: p, size: f.size, oid: f.etag };
  });
  return { repo, repoType, revision, commit, endpoint: settings.endpoint, files, skippedWeights };
}

/** A registry version of this repo at this commit, found without the network (offline mode). */
export async function pulledBefore(
  registry: Registry,
  name: string,
  repo: string,
  repoType: RepoType,
  revision: string,
  settings: HubSettings,
): Promise<Manifest | undefined> {
  const commit = await cachedCommit(repoCacheDir(settings.cacheDir, repo, repoType), revision);
  const { entries } = await registry.list({ name });
  const candidates = commit
    ? entries.filter((e) => e.version === commit.slice(0, SHORT_SHA))
    : entries.filter((e) => e.aliases.includes(LATEST));
  for (const e of candidates) {
    const m = await registry.resolve(`${e.name}:${e.version}`);
    const s = m.lineage.source ?? {};
    if (
      s.kind === 'hub' &&
      s.repo === repo &&
      (s.repoType ?? 'model') === repoType &&
      (commit ? s.commit === commit : s.revision === revision)
    )
      return m;
  }
  return undefined;
}
