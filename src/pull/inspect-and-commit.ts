import { link, mkdir, rm, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ModelctlError } from '../errors.js';
import { discardFetched, type FetchedFile } from '../hub/download/index.js';
import { commitVersion, type NewFile, type NewVersion } from '../registry/commit.js';
import { buildMetadata } from '../registry/inspection-metadata.js';
import { tempName } from '../registry/fsutil.js';
import type { Registry } from '../registry/index.js';
import type { Manifest } from '../registry/manifest.js';
import { isSafeRelativePath } from '../registry/manifest.js';
import type { PullResult } from './options.js';

export interface CommitPullOptions {
  registry: Registry;
  name: string;
  version?: string;
  files: FetchedFile[];
  source: Record<string, unknown>;
  /** What messages call the source (a repo, URL or folder): never the staging folder in tmp/. */
  display: string;
  /** A single-file source: inspect the file itself, not a folder around it. */
  single?: boolean;
  clock: () => Date;
  signal?: AbortSignal;
  onWait?: () => void;
  /** When the version exists already: is it this same pull (then it is a success, not a conflict)? */
  sameAs?: (existing: Manifest) => boolean;
  /** Same content, same version: an existing version holding these files is the answer (URLs and folders). */
  idempotent?: boolean;
  /** Labels the source carried along (an OCI artifact modelctl pushed, an MLflow model version's tags and its run's metrics): kept on the new version. */
  labels?: Pick<NewVersion, 'tags' | 'metrics' | 'description' | 'license'>;
}

export interface CommitPullResult {
  manifest: Manifest;
  aliases: string[];
  newBlobs: number;
  upToDate: boolean;
  warnings: string[];
}

let formats: Promise<typeof import('../formats/index.js')> | undefined;

/**
 * Starts loading the format readers (some thirty modules) without waiting: a pull calls this as its download
 * starts, so the imports happen while the main thread waits for the network instead of before the first request.
 */
export function preloadFormats(): Promise<typeof import('../formats/index.js')> {
  formats ??= import('../formats/index.js');
  return formats;
}

/**
 * Inspects the fetched files where they lie (a staging folder of hard links to the temporary copies and the
 * reused blobs: nothing is copied again) and commits them as one version under the registry lock.
 */
export async function commitPull(o: CommitPullOptions): Promise<CommitPullResult> {
  const layout = o.registry.store.layout;
  for (const f of o.files) {
    if (!isSafeRelativePath(f.path)) {
      throw new ModelctlError('INVALID_INPUT', `cannot store a file named ${JSON.stringify(f.path)}`, {
        hint: 'file names may not hold control characters, backslashes or ..',
      });
    }
  }
  const stage = join(layout.tmpDir, tempName('pull-stage'));
  const keepFresh = setInterval(() => {
    const now = new Date();
    for (const f of o.files) if (f.origin !== 'store') void utimes(f.file.tmpPath, now, now).catch(() => {});
  }, 60_000);
  keepFresh.unref();
  try {
    for (const f of o.files) {
      const target = join(stage, ...f.path.split('/'));
      await mkdir(dirname(target), { recursive: true });
      await link(f.origin === 'store' ? layout.blob(f.sha256) : f.file.tmpPath, target);
    }
    const first = o.files[0] as FetchedFile;
    const { inspectModel } = await preloadFormats();
    const inspection = await inspectModel(o.single ? join(stage, ...first.path.split('/')) : stage, {
      display: o.display,
      ...(o.signal ? { signal: o.signal } : {}),
    });
    const files: NewFile[] = o.files.map((f) =>
      f.origin === 'store' ? { path: f.path, sha256: f.sha256, size: f.size } : { path: f.path, file: f.file },
    );
    try {
      const committed = await commitVersion(
        o.registry.store,
        {
          name: o.name,
          ...(o.version !== undefined ? { version: o.version } : {}),
          format: inspection.format,
          task: inspection.task ?? null,
          files,
          metadata: buildMetadata(inspection),
          tags: o.labels?.tags ?? {},
          metrics: o.labels?.metrics ?? {},
          ...(o.labels?.description !== undefined ? { description: o.labels.description } : {}),
          ...(o.labels?.license !== undefined ? { license: o.labels.license } : {}),
          lineage: { operation: 'pull', source: o.source },
          aliases: [],
          latest: true,
          ...(o.idempotent ? { idempotent: true } : {}),
        },
        {
          clock: o.clock,
          ...(o.signal ? { signal: o.signal } : {}),
          lock: { purpose: `pull ${o.name}`, ...(o.onWait ? { onWait: o.onWait } : {}) },
        },
      );
      return { ...committed, warnings: committed.upToDate ? [] : inspection.warnings };
    } catch (err) {
      // Two pulls of the same repo at once: the one that commits second finds the same version already there.
      if (err instanceof ModelctlError && err.code === 'VERSION_EXISTS' && o.version !== undefined && o.sameAs) {
        const existing = await o.registry.resolve(`${o.name}:${o.version}`);
        if (o.sameAs(existing)) return { manifest: existing, aliases: [], newBlobs: 0, upToDate: true, warnings: [] };
      }
      throw err;
    }
  } finally {
    clearInterval(keepFresh);
    await rm(stage, { recursive: true, force: true }).catch(() => {});
    await discardFetched(o.files);
  }
}

/**
 * What every non-Hub pull answers (URL, folder, OCI, MLflow): the committed version, and per file where it came
 * from; an up-to-date pull lists the existing version's files as the store's.
 */
export function pullResult(
  committed: CommitPullResult,
  files: FetchedFile[],
  downloaded: number,
  resumed: number,
  warnings: string[] = [],
): PullResult {
  return {
    manifest: committed.manifest,
    aliases: committed.aliases,
    upToDate: committed.upToDate,
    files: committed.upToDate
      ? committed.manifest.files.map((f) => ({ path: f.path, size: f.size, from: 'store' as const }))
      : files.map((f) => ({ path: f.path, size: f.origin === 'store' ? f.size : f.file.size, from: f.origin })),
    downloadedBytes: downloaded,
    resumedRequests: resumed,
    newBlobs: committed.newBlobs,
    skippedWeights: [],
    warnings: [...warnings, ...committed.warnings],
  };
}
