import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { globToRegExp } from '../util/glob.js';
import { ModelctlError } from '../errors.js';
import type { EditOptions, EditResult } from './edit.js';
import type { GcOptions, GcResult } from './gc.js';
import { defaultHome } from './layout.js';
import type { LockOptions } from './lock.js';
import type { Manifest } from './manifest.js';
import { meetsCondition, parseMetricCondition, type MetricCondition } from './metric-filter.js';
import { LATEST, checkAlias, checkName, parseRef, type ModelRef } from './names.js';
import type { RegisterOptions, RegisterResult } from './register.js';
import { Store, type ManifestFailure } from './store.js';
import type { ValidateOptions, ValidateResult } from './validate.js';
import { stillVerified, verifyVersion, type VerifiedFiles, type VerifyOptions } from './verify.js';

export interface RegistryOptions {
  /** The registry home; defaults to MODELCTL_HOME, then the user's data directory. */
  home?: string;
  env?: NodeJS.ProcessEnv;
  clock?: () => Date;
  lock?: LockOptions;
}

export interface ListFilter {
  /** Exact name, or a glob with `*` ("org/*"). */
  name?: string;
  task?: string;
  format?: string;
  /** k=v pairs that must all match; a bare key only needs to be present. */
  tags?: string[];
  /** Metric conditions that must all hold, as text (`accuracy>=0.9`; >, >=, <, <=, =) or parsed. */
  metrics?: Array<string | MetricCondition>;
}

export interface ListEntry {
  name: string;
  version: string;
  aliases: string[];
  format: string;
  task: string | null;
  /** The bytes of its files (what a copy of the version takes). */
  size: number;
  /**
   * The bytes of the blobs no other version in the registry holds: what removing this version frees. Identical
   * content is stored once, so the sizes of several versions do not add up to the store's.
   */
  uniqueSize: number;
  createdAt: string;
  lastUsed: string | null;
  tags: Record<string, string>;
  metrics: Record<string, number>;
}

export interface ModelInfo {
  manifest: Manifest;
  aliases: string[];
  lastUsed: string | null;
  /** Where each file's bytes live in the store (read-only). */
  blobPaths: Record<string, string>;
}

export interface RemoveResult {
  removed: Array<{ name: string; version: string; size: number }>;
  aliasesRemoved: string[];
  blobsRemoved: number;
  bytesFreed: number;
}

function registryRef(ref: string | ModelRef): Extract<ModelRef, { kind: 'registry' }> {
  const parsed = typeof ref === 'string' ? parseRef(ref) : ref;
  if (parsed.kind !== 'registry') {
    throw new ModelctlError('INVALID_REFERENCE', `${typeof ref === 'string' ? ref : 'this reference'} is not a registry model`, {
      hint: 'name a registered model: name, name:version or name@alias',
    });
  }
  return parsed;
}

/**
 * The library API over one registry home. The CLI is one client of it; serve will be another. What only mutations
 * need (the lock, removal, views, register, validate, gc) is imported on first use: predict's cold start reads only.
 */
export class Registry {
  readonly home: string;
  readonly store: Store;
  private readonly clock: () => Date;
  private readonly lockOptions: LockOptions;

  constructor(options: RegistryOptions = {}) {
    this.home = options.home ?? defaultHome(options.env);
    this.store = new Store(this.home);
    this.clock = options.clock ?? (() => new Date());
    this.lockOptions = options.lock ?? {};
  }

  // register, validate and gc load on first use: they bring every format reader, and `predict` or `list` need none.
  async register(options: RegisterOptions): Promise<RegisterResult> {
    const { register } = await import('./register.js');
    return register(this.store, { clock: this.clock, ...options, lock: { ...this.lockOptions, ...options.lock } });
  }

  async resolve(ref: string | ModelRef): Promise<Manifest> {
    return this.store.resolve(registryRef(ref));
  }

  /**
   * The versions the filter selects. `storedSize` is the bytes their distinct blobs take in the store (identical
   * content once), beside the sum of their `size`s.
   */
  async list(filter: ListFilter = {}): Promise<{ entries: ListEntry[]; failures: ManifestFailure[]; storedSize: number }> {
    const exact = filter.name && !filter.name.includes('*') ? filter.name : undefined;
    const pattern = filter.name?.includes('*') ? globToRegExp(filter.name) : undefined;
    if (exact) checkName(exact);
    // Every model's summaries, even for one name: a blob's other holders may be versions of other models.
    const { summaries: every, failures: allFailures } = await this.store.summaries();
    const holders = new Map<string, number>();
    for (const m of every) for (const sha of Object.keys(m.blobs)) holders.set(sha, (holders.get(sha) ?? 0) + 1);
    const manifests = exact ? every.filter((m) => m.name === exact) : every;
    const failures = exact ? allFailures.filter((f) => f.name === exact) : allFailures;
    const tagChecks = (filter.tags ?? []).map((t) => {
      const eq = t.indexOf('=');
      return eq < 0 ? { key: t } : { key: t.slice(0, eq), value: t.slice(eq + 1) };
    });
    const metricChecks = (filter.metrics ?? []).map((c) => (typeof c === 'string' ? parseMetricCondition(c) : c));
    const selected = manifests.filter(
      (m) =>
        (!pattern || pattern.test(m.name)) &&
        (!filter.task || m.task === filter.task) &&
        (!filter.format || m.format === filter.format) &&
        tagChecks.every((t) => Object.hasOwn(m.tags, t.key) && (t.value === undefined || m.tags[t.key] === t.value)) &&
        metricChecks.every((c) => meetsCondition(m.metrics, c)),
    );
    const aliasesByName = new Map<string, Record<string, string>>();
    for (const name of new Set(selected.map((m) => m.name))) aliasesByName.set(name, await this.store.aliases(name).catch(() => ({})));
    const usage = this.store.lastUsedByModel(aliasesByName.keys());
    const entries = selected.map((m): ListEntry => {
      const used = usage.get(m.name)?.get(m.version);
      const aliases = Object.entries(aliasesByName.get(m.name) ?? {})
        .filter(([, v]) => v === m.version)
        .map(([a]) => a)
        .sort();
      return {
        name: m.name,
        version: m.version,
        aliases,
        format: m.format,
        task: m.task,
        size: m.size,
        uniqueSize: Object.entries(m.blobs).reduce((n, [sha, size]) => n + (holders.get(sha) === 1 ? size : 0), 0),
        createdAt: m.createdAt,
        lastUsed: used === undefined ? null : new Date(used).toISOString(),
        tags: m.tags,
        metrics: m.metrics,
      };
    });
    const stored = new Map<string, number>();
    for (const m of selected) for (const [sha, size] of Object.entries(m.blobs)) stored.set(sha, size);
    return {
      entries,
      failures: pattern ? failures.filter((f) => pattern.test(f.name)) : failures,
      storedSize: [...stored.values()].reduce((a, b) => a + b, 0),
    };
  }

  async info(ref: string | ModelRef): Promise<ModelInfo> {
    const manifest = await this.resolve(ref);
    const aliases = await this.store.aliases(manifest.name);
    const used = await this.store.lastUsed(manifest.name, manifest.version);
    return {
      manifest,
      aliases: Object.entries(aliases)
        .filter(([, v]) => v === manifest.version)
        .map(([a]) => a)
        .sort(),
      lastUsed: used === undefined ? null : new Date(used).toISOString(),
      blobPaths: Object.fromEntries(manifest.files.map((f) => [f.path, this.store.layout.blob(f.sha256)])),
    };
  }

  /**
   * Checks a version's blobs before they are read: a stat against each blob's recorded fingerprint, a re-hash when
   * it changed (or with `force`). A damaged or missing blob throws INTEGRITY naming the version, file and blob.
   */
  async verify(manifest: Manifest, options: VerifyOptions = {}): Promise<VerifiedFiles> {
    return verifyVersion(this.store, manifest, options);
  }

  /** True while every blob `verify` checked still has the fingerprint it had then (a stat each, no hashing). */
  stillVerified(verified: VerifiedFiles): boolean {
    return stillVerified(this.store.layout, verified);
  }

  /** A folder holding the version's files by path (hard links to its blobs), for runtimes that need companions. */
  async materialize(manifest: Manifest): Promise<string> {
    const { materialize } = await import('./views.js');
    return materialize(this.store, manifest);
  }

  /** Records a use of a version for gc's least-recently-used order (predict and serve call this). */
  async touch(ref: string | ModelRef): Promise<Manifest> {
    const manifest = await this.resolve(ref);
    await this.store.touch(manifest.name, manifest.version, this.clock());
    return manifest;
  }

  /** Names the versions `remove` would take, without removing anything (for confirmation prompts). */
  async planRemove(ref: string | ModelRef, options: { allVersions?: boolean } = {}): Promise<Manifest[]> {
    const { versionsToRemove } = await import('./mutate.js');
    return versionsToRemove(this.store, registryRef(ref), options.allVersions ?? false);
  }

  /**
   * Removes versions. `expect` (the versions a confirmation prompt showed, from planRemove) makes the removal fail
   * if the reference has come to mean other versions meanwhile (an alias moved, a version was registered).
   */
  async remove(ref: string | ModelRef, options: { allVersions?: boolean; expect?: string[] } = {}): Promise<RemoveResult> {
    const target = registryRef(ref);
    const [{ withLock }, { dropVersions, referencedDigests, removeBlobs, tidyModel, versionsToRemove }, { viewId }] = await Promise.all([
      import('./lock.js'),
      import('./mutate.js'),
      import('./views.js'),
    ]);
    return withLock(
      this.store.layout,
      async () => {
        const doomed = await versionsToRemove(this.store, target, options.allVersions ?? false);
        const now = doomed.map((m) => m.version).sort();
        if (options.expect && (now.length !== options.expect.length || now.some((v, i) => v !== [...(options.expect ?? [])].sort()[i]))) {
          throw new ModelctlError(
            'CONFLICT',
            `${target.name} changed while waiting for confirmation: it now means ${now.join(', ') || 'nothing'}`,
            {
              hint: 'nothing was removed; run the command again',
            },
          );
        }
        const aliasesRemoved = await dropVersions(
          this.store,
          target.name,
          doomed.map((m) => m.version),
        );
        // A view's hard links would keep the removed blobs' space in use.
        for (const m of doomed) if (m.digest) await rm(join(this.store.layout.viewsDir, viewId(m)), { recursive: true, force: true });
        // Free the blobs no other version uses. Marking reads every manifest: correctness over speed here.
        const { manifests, failures } = await this.store.manifests();
        const keep = referencedDigests(
          manifests,
          failures.map((f) => f.text),
        );
        const ours = doomed.flatMap((m) => (m.files ?? []).map((f) => f.sha256)).filter((d) => !keep.has(d));
        const swept = await removeBlobs(this.store, ours);
        // Writes come last, once space is freed: rm must work on a full disk (see dropVersions).
        await tidyModel(this.store, target.name);
        return {
          removed: doomed.map((m) => ({ name: m.name, version: m.version, size: m.size })),
          aliasesRemoved,
          blobsRemoved: swept.blobs,
          bytesFreed: swept.bytes,
        };
      },
      { purpose: `rm ${target.name}`, ...this.lockOptions },
    );
  }

  async tag(ref: string | ModelRef, alias: string): Promise<{ name: string; version: string; alias: string; previous?: string }> {
    checkAlias(alias);
    const target = registryRef(ref);
    const { withLock } = await import('./lock.js');
    return withLock(
      this.store.layout,
      async () => {
        const manifest = await this.store.resolve(target);
        const aliases = await this.store.aliases(manifest.name);
        const previous = Object.hasOwn(aliases, alias) ? aliases[alias] : undefined;
        aliases[alias] = manifest.version;
        await this.store.writeAliases(manifest.name, aliases);
        return {
          name: manifest.name,
          version: manifest.version,
          alias,
          ...(previous !== undefined && previous !== manifest.version ? { previous } : {}),
        };
      },
      { purpose: `tag ${target.name}`, ...this.lockOptions },
    );
  }

  async untag(name: string, alias: string): Promise<{ name: string; alias: string; version: string }> {
    checkName(name);
    checkAlias(alias);
    if (alias === LATEST) {
      throw new ModelctlError('USAGE', '"latest" is kept by modelctl and cannot be removed', {
        hint: 'point it elsewhere with `modelctl tag NAME:VERSION latest`',
      });
    }
    const { withLock } = await import('./lock.js');
    return withLock(
      this.store.layout,
      async () => {
        const aliases = await this.store.aliases(name);
        const version = Object.hasOwn(aliases, alias) ? aliases[alias] : undefined;
        if (version === undefined)
          throw new ModelctlError('NOT_FOUND', `${name} has no alias "${alias}"`, {
            hint: `run \`modelctl info ${name}\` to see its aliases`,
          });
        delete aliases[alias];
        await this.store.writeAliases(name, aliases);
        return { name, alias, version };
      },
      { purpose: `tag --remove ${name}`, ...this.lockOptions },
    );
  }

  /**
   * Sets or removes tags and metrics, or the description, of an existing version: a new sealed manifest for the same
   * version, written atomically under the lock, that keeps the earlier states in its `history`.
   */
  async edit(ref: string | ModelRef, edit: EditOptions): Promise<EditResult> {
    const { editVersion } = await import('./edit.js');
    return editVersion(this.store, registryRef(ref), edit, { clock: this.clock, lock: this.lockOptions });
  }

  async validate(options: Omit<ValidateOptions, 'ref'> & { ref?: string | ModelRef } = {}): Promise<ValidateResult> {
    const { ref, ...rest } = options;
    const { validateRegistry } = await import('./validate.js');
    return validateRegistry(this.store, { clock: this.clock, ...rest, ...(ref !== undefined ? { ref: registryRef(ref) } : {}) });
  }

  async gc(options: GcOptions = {}): Promise<GcResult> {
    const { collectGarbage } = await import('./gc.js');
    return collectGarbage(this.store, { clock: this.clock, ...options, lock: { ...this.lockOptions, ...options.lock } });
  }
}
