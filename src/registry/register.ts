import { unlink, utimes } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { ModelctlError } from '../errors.js';
import { inspectModel } from '../formats/index.js';
import { ingestFile, type IngestedFile } from './blobs.js';
import { commitVersion } from './commit.js';
import type { LockOptions } from './lock.js';
import { isSafeRelativePath, type Manifest } from './manifest.js';
import { checkAlias, checkNewName, checkSemverVersion } from './names.js';
import type { Store } from './store.js';
import { checkOutsideHome } from '../util/paths.js';
import { buildMetadata } from './inspection-metadata.js';
import { checkMetadataKeys } from './metadata-keys.js';

export interface RegisterOptions {
  path: string;
  name: string;
  version?: string;
  task?: string;
  tags?: Record<string, string>;
  metrics?: Record<string, number>;
  aliases?: string[];
  description?: string;
  license?: string;
  /** Move `latest` to the new version (default true). */
  latest?: boolean;
  onProgress?: (event: RegisterEvent) => void;
  signal?: AbortSignal;
  lock?: LockOptions;
  clock?: () => Date;
  /** What the lineage names as the source (default: the absolute path registered). */
  source?: Record<string, unknown>;
}

export type RegisterEvent =
  | { type: 'inspected'; format: string; files: number; bytes: number }
  | { type: 'copy'; file: string; index: number; files: number; bytes: number; total: number; allBytes: number; allTotal: number }
  | { type: 'waiting-for-lock'; holder?: string }
  | { type: 'committed'; version: string };

export interface RegisterResult {
  manifest: Manifest;
  aliases: string[];
  /** Blobs written by this call; the others were already in the store (identical content is stored once). */
  newBlobs: number;
  reusedBlobs: number;
  /** True when a version of this name already held the same content: that version is the answer, none is made. */
  upToDate: boolean;
  warnings: string[];
}

const TASK = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/**
 * Registers a file or folder as a new version: inspect, copy-and-hash every file into the store's tmp folder
 * (no lock held: that is the long part), then under the lock pick the version, place the blobs, write the
 * manifest and move the aliases. A crash before the manifest is written leaves only tmp files (and at worst
 * unreferenced blobs), which gc removes; nothing committed is touched.
 */
export async function register(store: Store, options: RegisterOptions): Promise<RegisterResult> {
  const name = checkNewName(options.name);
  if (options.version !== undefined) checkSemverVersion(options.version);
  const aliasNames = [...new Set(options.aliases ?? [])].map(checkAlias);
  checkMetadataKeys(options);
  if (options.task !== undefined && !TASK.test(options.task)) {
    throw new ModelctlError('USAGE', `invalid task ${JSON.stringify(options.task)}`, {
      hint: 'a task looks like text-classification or object-detection',
    });
  }
  const clock = options.clock ?? (() => new Date());
  const source = resolvePath(options.path);
  await checkOutsideHome(source, store.layout.home);
  const inspection = await inspectModel(source, options.signal ? { signal: options.signal } : {});
  for (const f of inspection.files) {
    if (!isSafeRelativePath(f.path)) {
      throw new ModelctlError('INVALID_INPUT', `cannot register a file named ${JSON.stringify(f.path)}`, {
        hint: 'file names inside a model may not hold control characters or backslashes; rename the file',
      });
    }
  }
  const allTotal = inspection.files.reduce((n, f) => n + f.size, 0);
  options.onProgress?.({ type: 'inspected', format: inspection.format, files: inspection.files.length, bytes: allTotal });

  const ingested: Array<{ path: string; file: IngestedFile }> = [];
  // gc leaves temporary files younger than its grace period alone; a long register (many shards, a long wait
  // for the lock) keeps the ones it already finished young.
  const keepFresh = setInterval(() => {
    const now = new Date();
    for (const { file } of ingested) void utimes(file.tmpPath, now, now).catch(() => {});
  }, 60_000);
  keepFresh.unref();
  try {
    let done = 0;
    for (const [index, f] of inspection.files.entries()) {
      const file = await ingestFile(
        store.layout,
        f.abs,
        (p) =>
          options.onProgress?.({
            type: 'copy',
            file: f.path,
            index,
            files: inspection.files.length,
            bytes: p.bytes,
            total: p.total,
            allBytes: done + p.bytes,
            allTotal,
          }),
        options.signal,
      );
      done += file.size;
      ingested.push({ path: f.path, file });
    }
    const committed = await commitVersion(
      store,
      {
        name,
        ...(options.version !== undefined ? { version: options.version } : {}),
        format: inspection.format,
        task: options.task ?? inspection.task ?? null,
        files: ingested,
        metadata: buildMetadata(inspection),
        tags: { ...options.tags },
        metrics: { ...options.metrics },
        ...(options.description !== undefined ? { description: options.description } : {}),
        ...(options.license !== undefined ? { license: options.license } : {}),
        lineage: { operation: 'register', source: options.source ?? { kind: 'path', path: source } },
        aliases: aliasNames,
        latest: options.latest !== false,
        idempotent: true,
      },
      {
        clock,
        ...(options.signal ? { signal: options.signal } : {}),
        lock: {
          purpose: `register ${name}`,
          ...options.lock,
          onWait: (holder) => options.onProgress?.({ type: 'waiting-for-lock', ...(holder ? { holder: `pid ${holder.pid}` } : {}) }),
        },
      },
    );
    options.onProgress?.({ type: 'committed', version: committed.manifest.version });
    return { ...committed, warnings: inspection.warnings };
  } finally {
    clearInterval(keepFresh);
    // Placed blobs were renamed away; whatever is left in tmp is ours and unreferenced.
    await Promise.all(ingested.map(({ file }) => unlink(file.tmpPath).catch(() => {})));
  }
}
