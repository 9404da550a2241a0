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
  /**
   * Same content, same version: when a version of this name (the one asked for, or any when none is) already holds
   * these files (paths and sha256s), format and task, and the tags, metrics, description and license given, it is
   * the answer (`upToDate`) instead of a new identical version.
   */
  idempotent?: boolean;
}

export interface Committed {
  manifest: Manifest;
  aliases: string[];
  newBlobs: number;
  reusedBlobs: number;
  /** True when an existing version already held this content (see NewVersion.idempotent): nothing was written. */
  upToDate: boolean;
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
      const same = v.idempotent ? await sameVersion(store, v, existing) : undefined;
      if (same) {
        // Nothing new is written but the copies just made: they replace a blob found damaged (as any register does).
        let placed = 0;
        for (const f of v.files) if ('file' in f && (await placeBlob(store.layout, f.file))) placed++;
        const aliases = await store.aliases(v.name);
        for (const alias of v.aliases) aliases[alias] = same.version;
        if (v.aliases.length > 0) await store.writeAliases(v.name, aliases);
        return { manifest: same, aliases: [...v.aliases], newBlobs: placed, reusedBlobs: v.files.length - placed, upToDate: true };
      }
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
      return { manifest, aliases: moved, newBlobs, reusedBlobs: v.files.length - newBlobs, upToDate: false };
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

function fileDigest(f: NewFile): string {
  return 'file' in f ? f.file.sha256 : f.sha256;
}

/** Whether `m` holds what `v` would: the same files by path and sha256, format, task, and the metadata given. */
export function holdsSame(m: Manifest, v: NewVersion): boolean {
  if (m.format !== v.format || m.task !== v.task || m.files.length !== v.files.length) return false;
  const byPath = new Map(m.files.map((f) => [f.path, f.sha256]));
  if (!v.files.every((f) => byPath.get(f.path) === fileDigest(f))) return false;
  const given = <T>(want: Record<string, T>, have: Record<string, T>): boolean =>
    Object.entries(want).every(([k, x]) => Object.hasOwn(have, k) && have[k] === x);
  return (
    given(v.tags, m.tags) &&
    given(v.metrics, m.metrics) &&
    (v.description === undefined || m.description === v.description) &&
    (v.license === undefined || m.license === v.license)
  );
}

/** The highest existing version holding the same content (only the version asked for, when one is). */
async function sameVersion(store: Store, v: NewVersion, existing: string[]): Promise<Manifest | undefined> {
  const candidates = v.version !== undefined ? existing.filter((e) => e === v.version) : existing;
  let best: Manifest | undefined;
  for (const version of candidates) {
    let m: Manifest;
    try {
      m = await store.manifest(v.name, version);
    } catch {
      continue; // an unreadable version holds nothing we can vouch for
    }
    if (holdsSame(m, v) && (!best || compareVersions(m, best) > 0)) best = m;
  }
  return best;
}
