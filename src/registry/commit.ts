import { rm, stat } from 'node:fs/promises';
import { ModelctlError } from '../errors.js';
import { TOOL } from '../version.js';
import { placeBlob, type IngestedFile } from './blobs.js';
import { isEnoent } from './fsutil.js';
import { withLock, type LockOptions } from './lock.js';
import { MANIFEST_SCHEMA, manifestProblems, sealManifest, type Lineage, type Manifest } from './manifest.js';
import { LATEST, checkNewName, checkNewVersion, checkSemverVersion } from './names.js';
import { nextPatchVersion } from './semver.js';
import { compareVersions } from './store.js';
import type { Store } from './store.js';

/** A file of a new version: a fresh copy in tmp/ (placed under the lock), or a blob the store already holds. */
export type NewFile = { path: string; file: IngestedFile } | { path: string; sha256: string; size: number };

export interface NewVersion {
  name: string;
  version?: string;
  format: string;
  task: string | null;
  files: NewFile[];
  metadata: Record<string, unknown>;
  tags: Record<string, string>;
  metrics: Record<string, number>;
  description?: string;
  license?: string;
  lineage: Omit<Lineage, 'tool'>;
  /** Aliases to point at the new version; `latest` is added unless `latest` is false. */
  aliases: string[];
  latest: boolean;
}

export interface Committed {
  manifest: Manifest;
  aliases: string[];
  newBlobs: number;
  reusedBlobs: number;
}

/**
 * Commits a version under the registry lock: picks the version, places the new blobs, checks that reused blobs
 * are still there, writes the sealed manifest (never over an existing one) and moves the aliases. Shared by
 * register and every operation that derives a version from another (embed-metadata, export).
 */
export async function commitVersion(
  store: Store,
  v: NewVersion,
  options: { clock: () => Date; lock: LockOptions; signal?: AbortSignal },
): Promise<Committed> {
  // Every new version passes here: a name or version Windows reserves is refused whichever command made it.
  checkNewName(v.name);
  if (v.version !== undefined) {
    // A Hub pull names its version after the commit; every other version is semver, so that latest is well defined.
    const commit = v.lineage.source?.kind === 'hub' ? v.lineage.source.commit : undefined;
    if (typeof commit === 'string' && commit.startsWith(v.version)) checkNewVersion(v.version);
    else checkSemverVersion(v.version);
  }
  return withLock(
    store.layout,
    async () => {
      let clash = (await store.names()).find((n) => n !== v.name && n.toLowerCase() === v.name.toLowerCase());
      if (clash && (await store.versions(clash)).length === 0) {
        // A folder without versions is what a kill in the middle of a removal leaves: debris, not a model.
        await rm(store.layout.modelDir(clash), { recursive: true, force: true });
        clash = undefined;
      }
      if (clash) {
        throw new ModelctlError('INVALID_NAME', `model name ${v.name} differs from the existing ${clash} only in case`, {
          hint: `use ${clash}, or a name that differs in more than case (some filesystems do not tell them apart)`,
        });
      }
      const existing = await store.versions(v.name);
      const version = v.version ?? nextPatchVersion(existing);
      if (existing.some((e) => e.toLowerCase() === version.toLowerCase())) {
        throw new ModelctlError('VERSION_EXISTS', `${v.name}:${version} already exists`, {
          hint: 'versions are immutable: choose another --version, or leave it out to take the next patch version',
        });
      }
      options.signal?.throwIfAborted();
      const aliases = await store.aliases(v.name); // read before committing: a damaged file fails the whole commit
      let newBlobs = 0;
      const files: Manifest['files'] = [];
      for (const f of v.files) {
        if ('file' in f) {
          if (await placeBlob(store.layout, f.file)) newBlobs++;
          files.push({ path: f.path, sha256: f.file.sha256, size: f.file.size });
        } else {
          try {
            await stat(store.layout.blob(f.sha256));
          } catch (err) {
            if (!isEnoent(err)) throw err;
            throw new ModelctlError('NOT_FOUND', `${f.path} (blob ${f.sha256.slice(0, 12)}) is no longer in the store`, {
              hint: 'the version it came from was removed meanwhile; run the command again',
            });
          }
          files.push({ path: f.path, sha256: f.sha256, size: f.size });
        }
      }
      const manifest = sealManifest({
        schema: MANIFEST_SCHEMA,
        name: v.name,
        version,
        format: v.format,
        task: v.task,
        files,
        size: files.reduce((n, f) => n + f.size, 0),
        metadata: v.metadata,
        tags: { ...v.tags },
        metrics: { ...v.metrics },
        ...(v.description !== undefined ? { description: v.description } : {}),
        ...(v.license !== undefined ? { license: v.license } : {}),
        lineage: { ...v.lineage, tool: TOOL },
        createdAt: options.clock().toISOString(),
      });
      const problems = manifestProblems(manifest);
      if (problems.length > 0) throw new ModelctlError('INVALID_INPUT', `cannot store this model: its manifest ${problems.join('; ')}`);
      await store.writeManifest(manifest);
      const takesLatest = v.latest && (await outranksLatest(store, manifest, aliases[LATEST]));
      const moved = [...(takesLatest ? [LATEST] : []), ...v.aliases];
      for (const alias of moved) aliases[alias] = version;
      if (moved.length > 0) await store.writeAliases(v.name, aliases);
      return { manifest, aliases: moved, newBlobs, reusedBlobs: v.files.length - newBlobs };
    },
    { ...(options.signal ? { signal: options.signal } : {}), ...options.lock },
  );
}

/**
 * Whether a new version takes `latest`: when it is the highest by semver precedence (1.10.0 > 1.9.0 > 1.10.0-rc.1),
 * or, where either side is not semver (a Hub commit id), the newer by registration. A latest that no longer reads
 * is replaced.
 */
async function outranksLatest(store: Store, m: Manifest, latest: string | undefined): Promise<boolean> {
  if (latest === undefined) return true;
  let current: Manifest;
  try {
    current = await store.manifest(m.name, latest);
  } catch {
    return true;
  }
  return compareVersions(m, current) >= 0;
}
