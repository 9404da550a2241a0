import { readdirSync, readFileSync } from 'node:fs';
import { chmod, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelctlError } from '../errors.js';
import { isEnoent, isNoSpace } from './fsutil.js';
import type { Manifest } from './manifest.js';
import { LATEST } from './names.js';
import type { Aliases, Store } from './store.js';
import { dropFingerprint, sweepFingerprints } from './verify.js';

/** Unlinks a file that may be read-only (blobs and manifests are 0444; Windows refuses to delete those). */
export async function removeFile(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (err) {
    if (isEnoent(err)) return false;
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    await chmod(path, 0o644);
    await unlink(path);
    return true;
  }
}

/**
 * Drops versions of one model under the lock: the aliases that pointed at them, then their manifests, usage
 * records and benchmark baselines. Aliases go first so that a SIGKILL at any instant leaves no alias naming a
 * missing version (at worst a version that lost its aliases but still exists). `latest` moves to the newest
 * version left. Blobs are left to the caller's sweep, which knows every reference; the caller then calls
 * tidyModel, which writes the index again. Returns the aliases that were removed.
 *
 * On a full disk the aliases cannot be rewritten (a new file needs a block). The index, derived data that list can
 * do without, is removed first so that its block is free for them; if even that is not enough, the manifests go
 * first and tidyModel drops the aliases once the caller has freed the blobs. Only then can a kill leave an alias
 * naming a missing version, and the next gc drops it.
 */
export async function dropVersions(store: Store, name: string, versions: string[]): Promise<string[]> {
  const gone = new Set(versions);
  const aliases = await store.aliases(name).catch((): Aliases => ({}));
  const removed: string[] = [];
  const kept: Aliases = {};
  for (const [alias, version] of Object.entries(aliases)) {
    if (gone.has(version)) removed.push(alias);
    else kept[alias] = version;
  }
  const left = (await store.versions(name)).filter((v) => !gone.has(v));
  await removeFile(store.layout.index(name));
  if (left.length === 0) {
    await removeFile(store.layout.aliases(name));
  } else {
    if (kept[LATEST] === undefined) kept[LATEST] = await newestVersion(store, name, left);
    if (removed.length > 0 || kept[LATEST] !== aliases[LATEST]) {
      try {
        await store.writeAliases(name, kept);
      } catch (err) {
        if (!isNoSpace(err)) throw err;
      }
    }
  }
  for (const version of versions) {
    await removeFile(store.layout.manifest(name, version));
    await removeFile(store.layout.usageFile(name, version));
    await rm(store.layout.benchVersionDir(name, version), { recursive: true, force: true });
  }
  if (left.length === 0) {
    await rm(store.layout.modelDir(name), { recursive: true, force: true });
    await rmdir(store.layout.usageModelDir(name)).catch(() => {});
    await rmdir(store.layout.benchModelDir(name)).catch(() => {});
  }
  return removed;
}

async function newestVersion(store: Store, name: string, among: string[]): Promise<string> {
  const allowed = new Set(among);
  const { manifests } = await store.manifests(name);
  return manifests.filter((m) => allowed.has(m.version)).at(-1)?.version ?? ([...among].sort().at(-1) as string);
}

function indexMatches(path: string, versions: string[]): boolean {
  try {
    const index = JSON.parse(readFileSync(path, 'utf8')) as { versions?: Record<string, unknown> };
    const keys = Object.keys(index.versions ?? {});
    return keys.length === versions.length && versions.every((v) => Object.hasOwn(index.versions ?? {}, v));
  } catch {
    return false;
  }
}

/**
 * Puts one model's pointer and derived files right after removals (caller holds the lock): drops aliases that
 * name a missing version (what a removal on a full disk, killed between its manifests and its aliases, leaves),
 * moving a dangling `latest` to the newest version left; writes the index again when it is missing or names other
 * versions. A full disk only costs the index (list reads the manifests without it). Returns the aliases dropped, as
 * name@alias.
 */
export async function tidyModel(store: Store, name: string): Promise<string[]> {
  const versions = await store.versions(name);
  if (versions.length === 0) return []; // a folder without versions is gc's (sweepEmptyModels)
  const dropped: string[] = [];
  const aliases = await store.aliases(name).catch(() => undefined); // a damaged file is validate's to report
  if (aliases) {
    const exists = new Set(versions);
    const kept: Aliases = {};
    for (const [alias, version] of Object.entries(aliases)) {
      if (exists.has(version)) kept[alias] = version;
      else if (alias !== LATEST) dropped.push(`${name}@${alias}`);
    }
    if (aliases[LATEST] !== undefined && kept[LATEST] === undefined) {
      dropped.push(`${name}@${LATEST}`);
      kept[LATEST] = await newestVersion(store, name, versions);
    }
    if (dropped.length > 0) await store.writeAliases(name, kept);
  }
  if (!indexMatches(store.layout.index(name), versions)) {
    try {
      await store.writeIndex(name);
    } catch (err) {
      if (!isNoSpace(err)) throw err;
    }
  }
  return dropped;
}

/** Every sha256 a manifest file mentions. For unreadable manifests, any 64-hex run counts: gc must not guess. */
export function referencedDigests(manifests: Manifest[], rawTexts: string[] = []): Set<string> {
  const refs = new Set<string>();
  for (const m of manifests) for (const f of m.files) refs.add(f.sha256);
  for (const text of rawTexts) for (const match of text.matchAll(/[0-9a-f]{64}/g)) refs.add(match[0]);
  return refs;
}

export interface SweepResult {
  blobs: number;
  bytes: number;
}

/** Runs `fn` over `items` with at most `limit` calls in flight. */
export async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Removes every blob not in `keep` (caller holds the lock and has marked every manifest). Unlinks run many at a
 * time: on a journaling filesystem each one waits on metadata I/O (about 0.1 ms here), and overlapping them is
 * what keeps a sweep of 100,000 blobs within seconds.
 */
export async function sweepBlobs(store: Store, keep: Set<string>, dryRun = false): Promise<SweepResult> {
  const result: SweepResult = { blobs: 0, bytes: 0 };
  let shards: string[];
  try {
    shards = readdirSync(store.layout.blobsDir);
  } catch (err) {
    if (isEnoent(err)) return result;
    throw err;
  }
  const doomed: string[] = [];
  const emptied: string[] = [];
  for (const shard of shards) {
    const dir = join(store.layout.blobsDir, shard);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (err) {
      if (isEnoent(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') continue;
      throw err;
    }
    const before = doomed.length;
    for (const n of names) if (n.length === 64 && !keep.has(n) && SHA256_NAME.test(n)) doomed.push(join(dir, n));
    if (doomed.length - before === names.length) emptied.push(dir);
  }
  await pool(doomed, 64, async (path) => {
    try {
      const { size } = await stat(path);
      if (!dryRun) await removeFile(path);
      result.blobs++;
      result.bytes += size;
    } catch (err) {
      if (!isEnoent(err)) throw err;
    }
  });
  if (!dryRun) for (const dir of emptied) await rmdir(dir).catch(() => {});
  if (!dryRun) await sweepFingerprints(store.layout, keep);
  return result;
}

const SHA256_NAME = /^[0-9a-f]{64}$/;

/** Removes the named blobs (caller holds the lock and has checked nothing references them). */
export async function removeBlobs(store: Store, digests: Iterable<string>): Promise<SweepResult> {
  const result: SweepResult = { blobs: 0, bytes: 0 };
  for (const digest of new Set(digests)) {
    const path = store.layout.blob(digest);
    try {
      const { size } = await stat(path);
      if (await removeFile(path)) {
        result.blobs++;
        result.bytes += size;
      }
      await dropFingerprint(store.layout, digest);
    } catch (err) {
      if (!isEnoent(err)) throw err;
    }
  }
  return result;
}

/** The versions a reference names for removal: one version, or all of a name with allVersions. */
export async function versionsToRemove(
  store: Store,
  target: { name: string; version?: string; alias?: string },
  allVersions: boolean,
): Promise<Manifest[]> {
  if (allVersions) {
    if (target.version || target.alias) {
      throw new ModelctlError('USAGE', '--all-versions takes a bare model name', {
        hint: `write \`modelctl rm ${target.name} --all-versions\``,
      });
    }
    const { manifests } = await store.manifests(target.name);
    const versions = await store.versions(target.name);
    if (versions.length === 0) throw new ModelctlError('NOT_FOUND', `no model named ${target.name}`, { hint: 'run `modelctl list`' });
    // Unreadable manifests are removed too: they are listed by version even when their content is broken.
    const readable = new Set(manifests.map((m) => m.version));
    return [...manifests, ...versions.filter((v) => !readable.has(v)).map((v) => ({ name: target.name, version: v, size: 0 }) as Manifest)];
  }
  if (!target.version && !target.alias) {
    const versions = await store.versions(target.name);
    if (versions.length > 1) {
      throw new ModelctlError('USAGE', `${target.name} has ${versions.length} versions; say which one to remove`, {
        hint: `name one (\`modelctl rm ${target.name}:${versions.sort().at(-1)}\`), or remove them all with --all-versions`,
      });
    }
  }
  if (target.version && (await store.versions(target.name)).includes(target.version)) {
    // An explicit version is removable even when its manifest is unreadable: that is how a user repairs it.
    try {
      return [await store.manifest(target.name, target.version)];
    } catch {
      return [{ name: target.name, version: target.version, size: 0 } as Manifest];
    }
  }
  return [await store.resolve({ kind: 'registry', ...target })];
}
