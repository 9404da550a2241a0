import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, open, stat, utimes } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ModelctlError } from '../errors.js';
import { isEnoent, writeFileAtomic } from './fsutil.js';
import { Layout } from './layout.js';
import { parseManifest, serializeManifest, type Manifest } from './manifest.js';
import { LATEST, decodeName, formatRef, isAlias, isVersion, type ModelRef } from './names.js';
import { compareSemver } from './semver.js';

export type Aliases = Record<string, string>;

/** What list shows of a version: kept per model in index.json so list reads one file per model, not per version. */
export interface VersionSummary {
  name: string;
  version: string;
  format: string;
  task: string | null;
  size: number;
  createdAt: string;
  tags: Record<string, string>;
  metrics: Record<string, number>;
  /** The version's blobs (sha256 and size; a blob two paths share counted once): what list's sizes need. */
  blobs: Record<string, number>;
  digest: string;
}

export function versionSummary(m: Manifest): VersionSummary {
  return {
    name: m.name,
    version: m.version,
    format: m.format,
    task: m.task,
    size: m.size,
    createdAt: m.createdAt,
    tags: m.tags,
    metrics: m.metrics,
    blobs: Object.fromEntries(m.files.map((f) => [f.sha256, f.size])),
    digest: m.digest,
  };
}

function sameSet(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((x) => set.has(x));
}

/** A manifest that could not be read, kept as data so that list and validate can report it and go on. */
export interface ManifestFailure {
  name: string;
  version: string;
  path: string;
  error: ModelctlError;
  /** The file's text as read: gc marks every digest it mentions rather than guess. */
  text: string;
}

/** Orders versions newest-last: semver precedence when both are semver, else creation time, else text. */
export function compareVersions(a: Pick<Manifest, 'version' | 'createdAt'>, b: Pick<Manifest, 'version' | 'createdAt'>): number {
  const semver = compareSemver(a.version, b.version);
  if (semver !== undefined) return semver;
  const key = (m: Pick<Manifest, 'version' | 'createdAt'>): string => `${m.createdAt}\u0000${m.version}`;
  return key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
}

/**
 * Reading the registry's files. Readers take no lock: every file they read is either immutable (blobs,
 * manifests) or replaced atomically (aliases), so a reader sees a consistent file, and handles a file that
 * disappears under it as "not there".
 */
export class Store {
  readonly layout: Layout;

  constructor(home: string) {
    this.layout = new Layout(home);
  }

  async names(): Promise<string[]> {
    try {
      const entries = readdirSync(this.layout.modelsDir, { withFileTypes: true });
      return entries
        .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
        .map((e) => decodeName(e.name))
        .sort();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return [];
      if (code === 'ENOTDIR') {
        throw new ModelctlError('USAGE', `the registry home ${this.layout.home} is not a folder`, {
          hint: 'point --home (or MODELCTL_HOME) at a folder',
        });
      }
      throw err;
    }
  }

  async versions(name: string): Promise<string[]> {
    try {
      const entries = readdirSync(this.layout.versionsDir(name));
      return entries.filter((f) => f.endsWith('.json') && !f.startsWith('.')).map((f) => f.slice(0, -'.json'.length));
    } catch (err) {
      if (isEnoent(err)) return [];
      throw err;
    }
  }

  async manifest(name: string, version: string): Promise<Manifest> {
    return this.manifestSync(name, version);
  }

  /**
   * Manifests are small and many (list reads 10,000 of them): a synchronous read costs one system call each,
   * where fs/promises' readFile costs four thread-pool round trips (open, fstat, read, close).
   */
  private manifestSync(name: string, version: string): Manifest {
    return this.parseAt(name, version, this.readManifestText(name, version));
  }

  private readManifestText(name: string, version: string): string {
    const path = this.layout.manifest(name, version);
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      if (isEnoent(err)) {
        throw new ModelctlError('NOT_FOUND', `no version ${version} of model ${name}`, {
          hint: `run \`modelctl list --name ${name}\` to see its versions`,
        });
      }
      throw err;
    }
  }

  private parseAt(name: string, version: string, text: string): Manifest {
    const manifest = parseManifest(text, formatRef(name, version));
    if (manifest.name !== name || manifest.version !== version) {
      throw new ModelctlError(
        'CORRUPT_MANIFEST',
        `manifest ${formatRef(name, version)} says it is ${formatRef(manifest.name, manifest.version)}`,
        {
          hint: 'the file was moved or edited by hand; run `modelctl validate`',
        },
      );
    }
    return manifest;
  }

  /** Every manifest of one model (or all models), with the unreadable ones reported apart. */
  async manifests(onlyName?: string): Promise<{ manifests: Manifest[]; failures: ManifestFailure[] }> {
    const names = onlyName ? [onlyName] : await this.names();
    const manifests: Manifest[] = [];
    const failures: ManifestFailure[] = [];
    for (const name of names) {
      for (const version of await this.versions(name)) {
        let text: string;
        try {
          text = this.readManifestText(name, version);
        } catch (err) {
          if (err instanceof ModelctlError && err.code === 'NOT_FOUND') continue; // removed while we listed
          throw err; // EMFILE, EIO...: callers (gc) must stop rather than treat the version as empty
        }
        try {
          manifests.push(this.parseAt(name, version, text));
        } catch (err) {
          if (!(err instanceof ModelctlError)) throw err;
          failures.push({ name, version, path: this.layout.manifest(name, version), error: err, text });
        }
      }
    }
    manifests.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : compareVersions(a, b)));
    return { manifests, failures };
  }

  /**
   * Summaries of every version of every model (or one model). A model's index.json is trusted only when it names
   * exactly the versions its versions/ folder holds; otherwise (a crash between the manifest and the index, an
   * older layout) its manifests are read. Unreadable manifests come back as failures, as from manifests().
   */
  async summaries(onlyName?: string): Promise<{ summaries: VersionSummary[]; failures: ManifestFailure[] }> {
    const names = onlyName ? [onlyName] : await this.names();
    const summaries: VersionSummary[] = [];
    const failures: ManifestFailure[] = [];
    for (const name of names) {
      const versions = await this.versions(name);
      const index = this.readIndex(name);
      if (index && sameSet(Object.keys(index), versions)) {
        summaries.push(...Object.values(index));
        continue;
      }
      const read = await this.manifests(name);
      summaries.push(...read.manifests.map(versionSummary));
      failures.push(...read.failures);
    }
    summaries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : compareVersions(a, b)));
    return { summaries, failures };
  }

  private readIndex(name: string): Record<string, VersionSummary> | undefined {
    try {
      const index = JSON.parse(readFileSync(this.layout.index(name), 'utf8')) as { versions?: Record<string, VersionSummary> };
      if (!index.versions || typeof index.versions !== 'object') return undefined;
      // An index written before summaries held metrics and blobs is read past (the manifests are read) until the
      // next write rewrites it.
      const current = (v: VersionSummary | null): boolean =>
        !!v && typeof v.metrics === 'object' && v.metrics !== null && typeof v.blobs === 'object' && v.blobs !== null;
      return Object.values(index.versions).every(current) ? index.versions : undefined;
    } catch {
      return undefined; // missing or damaged: derived data, rebuilt by the next write
    }
  }

  /** Rewrites a model's index from its manifests (callers hold the lock). */
  async writeIndex(name: string): Promise<void> {
    const { manifests } = await this.manifests(name);
    if ((await this.versions(name)).length === 0) return;
    const versions = Object.fromEntries(manifests.map((m) => [m.version, versionSummary(m)]));
    await writeFileAtomic(this.layout.index(name), `${JSON.stringify({ versions })}\n`, { tmpDir: this.layout.tmpDir });
  }

  /**
   * A model's aliases, checked: a map from valid alias names to valid versions, in an object with no prototype
   * (so that "constructor" or "toString" is never an alias by accident). A damaged file is CORRUPT_MANIFEST.
   */
  async aliases(name: string): Promise<Aliases> {
    const damaged = (why: string): ModelctlError =>
      new ModelctlError('CORRUPT_MANIFEST', `the aliases of ${name} ${why}`, {
        hint: `run \`modelctl validate\`; re-create the aliases with \`modelctl tag\``,
      });
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.layout.aliases(name), 'utf8'));
    } catch (err) {
      if (isEnoent(err)) return Object.create(null) as Aliases;
      if (err instanceof SyntaxError) throw damaged('are not valid JSON');
      throw err;
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw damaged('are not a JSON object');
    const out = Object.create(null) as Aliases;
    for (const [alias, version] of Object.entries(parsed as Record<string, unknown>)) {
      if (!isAlias(alias) || typeof version !== 'string' || !isVersion(version))
        throw damaged(`hold an invalid entry ${JSON.stringify(alias)}`);
      out[alias] = version;
    }
    return out;
  }

  /** Resolves name, name:version, name@alias; a bare name means name@latest. */
  async resolve(ref: ModelRef): Promise<Manifest> {
    if (ref.kind !== 'registry') {
      throw new ModelctlError('INVALID_REFERENCE', 'expected a registry model (name, name:version or name@alias)');
    }
    if (ref.version) return this.manifest(ref.name, ref.version);
    const alias = ref.alias ?? LATEST;
    const aliases = await this.aliases(ref.name);
    const version = Object.hasOwn(aliases, alias) ? aliases[alias] : undefined;
    if (version !== undefined) return this.manifest(ref.name, version);
    const versions = await this.versions(ref.name);
    if (versions.length === 0) {
      throw new ModelctlError('NOT_FOUND', `no model named ${ref.name}`, { hint: 'run `modelctl list` to see the registered models' });
    }
    if (alias === LATEST) {
      const { manifests } = await this.manifests(ref.name);
      const newest = manifests.at(-1);
      if (newest) return newest;
    }
    throw new ModelctlError('NOT_FOUND', `model ${ref.name} has no alias "${alias}"`, {
      hint: `set it with \`modelctl tag ${ref.name}:VERSION ${alias}\``,
    });
  }

  /** Last use of a version (ms since epoch), from its usage record; undefined when never used. */
  async lastUsed(name: string, version: string): Promise<number | undefined> {
    try {
      return (await stat(this.layout.usageFile(name, version))).mtimeMs;
    } catch (err) {
      if (isEnoent(err)) return undefined;
      throw err;
    }
  }

  /** Last use of every version that has a usage record, for the given models: name -> version -> ms. */
  lastUsedByModel(names: Iterable<string>): Map<string, Map<string, number>> {
    const out = new Map<string, Map<string, number>>();
    let folders: Set<string>;
    try {
      folders = new Set(readdirSync(this.layout.usageDir));
    } catch (err) {
      if (isEnoent(err)) return out;
      throw err;
    }
    for (const name of names) {
      const dir = this.layout.usageModelDir(name);
      if (!folders.has(basename(dir))) continue;
      const times = new Map<string, number>();
      for (const v of readdirSync(dir)) {
        try {
          times.set(v, statSync(join(dir, v)).mtimeMs);
        } catch (err) {
          if (!isEnoent(err)) throw err;
        }
      }
      out.set(name, times);
    }
    return out;
  }

  /**
   * Records a use of a version (for gc's least-recently-used order). Touches a file apart from the manifest, takes
   * no lock, and is idempotent: concurrent uses only race over which time wins.
   */
  async touch(name: string, version: string, when: Date = new Date()): Promise<void> {
    const path = this.layout.usageFile(name, version);
    await mkdir(dirname(path), { recursive: true });
    const fh = await open(path, 'a');
    await fh.close();
    await utimes(path, when, when);
  }

  // Writers: callers hold the registry lock.

  async writeManifest(manifest: Manifest): Promise<void> {
    await writeFileAtomic(this.layout.manifest(manifest.name, manifest.version), serializeManifest(manifest), {
      tmpDir: this.layout.tmpDir,
      mode: 0o444,
      exclusive: true,
    });
    await this.writeIndex(manifest.name);
  }

  /** Replaces a version's manifest with a new sealed one (an edit of its tags, metrics or description). */
  async replaceManifest(manifest: Manifest): Promise<void> {
    await writeFileAtomic(this.layout.manifest(manifest.name, manifest.version), serializeManifest(manifest), {
      tmpDir: this.layout.tmpDir,
      mode: 0o444,
    });
    await this.writeIndex(manifest.name);
  }

  async writeAliases(name: string, aliases: Aliases): Promise<void> {
    const sorted = Object.fromEntries(Object.entries(aliases).sort(([a], [b]) => a.localeCompare(b)));
    await writeFileAtomic(this.layout.aliases(name), `${JSON.stringify(sorted, null, 2)}\n`, { tmpDir: this.layout.tmpDir });
  }
}
