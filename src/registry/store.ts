import { readdir, readFile, stat, utimes, open } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ModelctlError } from '../errors.js';
import { isEnoent, readJsonIfExists, writeFileAtomic } from './fsutil.js';
import { Layout } from './layout.js';
import { parseManifest, serializeManifest, type Manifest } from './manifest.js';
import { LATEST, decodeName, formatRef, type ModelRef } from './names.js';
import { compareSemver } from './semver.js';

export type Aliases = Record<string, string>;

/** A manifest that could not be read, kept as data so that list and validate can report it and go on. */
export interface ManifestFailure {
  name: string;
  version: string;
  path: string;
  error: ModelctlError;
}

/** Orders versions newest-last: semver precedence when both are semver, else creation time, else text. */
export function compareVersions(a: Manifest, b: Manifest): number {
  return compareSemver(a.version, b.version) ?? (a.createdAt.localeCompare(b.createdAt) || a.version.localeCompare(b.version));
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
      const entries = await readdir(this.layout.modelsDir, { withFileTypes: true });
      return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => decodeName(e.name)).sort();
    } catch (err) {
      if (isEnoent(err)) return [];
      throw err;
    }
  }

  async versions(name: string): Promise<string[]> {
    try {
      const entries = await readdir(this.layout.versionsDir(name));
      return entries.filter((f) => f.endsWith('.json') && !f.startsWith('.')).map((f) => f.slice(0, -'.json'.length));
    } catch (err) {
      if (isEnoent(err)) return [];
      throw err;
    }
  }

  async manifest(name: string, version: string): Promise<Manifest> {
    const path = this.layout.manifest(name, version);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if (isEnoent(err)) {
        throw new ModelctlError('NOT_FOUND', `no version ${version} of model ${name}`, {
          hint: `run \`modelctl list --name ${name}\` to see its versions`,
        });
      }
      throw err;
    }
    const manifest = parseManifest(text, formatRef(name, version));
    if (manifest.name !== name || manifest.version !== version) {
      throw new ModelctlError('CORRUPT_MANIFEST', `manifest ${formatRef(name, version)} says it is ${formatRef(manifest.name, manifest.version)}`, {
        hint: 'the file was moved or edited by hand; run `modelctl validate`',
      });
    }
    return manifest;
  }

  /** Every manifest of one model (or all models), with the unreadable ones reported apart. */
  async manifests(onlyName?: string): Promise<{ manifests: Manifest[]; failures: ManifestFailure[] }> {
    const names = onlyName ? [onlyName] : await this.names();
    const manifests: Manifest[] = [];
    const failures: ManifestFailure[] = [];
    const jobs: Array<{ name: string; version: string }> = [];
    for (const name of names) for (const version of await this.versions(name)) jobs.push({ name, version });
    // A bounded number of reads in flight: enough to keep the thread pool busy, few enough not to exhaust fds.
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < jobs.length) {
        const job = jobs[next++] as { name: string; version: string };
        try {
          manifests.push(await this.manifest(job.name, job.version));
        } catch (err) {
          if (err instanceof ModelctlError && err.code === 'NOT_FOUND') continue; // removed while we listed
          if (err instanceof ModelctlError) failures.push({ ...job, path: this.layout.manifest(job.name, job.version), error: err });
          else throw err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(32, jobs.length) }, worker));
    manifests.sort((a, b) => a.name.localeCompare(b.name) || compareVersions(a, b));
    return { manifests, failures };
  }

  async aliases(name: string): Promise<Aliases> {
    try {
      return (await readJsonIfExists<Aliases>(this.layout.aliases(name))) ?? {};
    } catch (err) {
      if (err instanceof SyntaxError) {
        throw new ModelctlError('CORRUPT_MANIFEST', `the aliases of ${name} are not valid JSON`, {
          hint: `run \`modelctl validate\`; re-create the aliases with \`modelctl tag\``,
        });
      }
      throw err;
    }
  }

  /** Resolves name, name:version, name@alias; a bare name means name@latest. */
  async resolve(ref: ModelRef): Promise<Manifest> {
    if (ref.kind !== 'registry') {
      throw new ModelctlError('INVALID_REFERENCE', 'expected a registry model (name, name:version or name@alias)');
    }
    if (ref.version) return this.manifest(ref.name, ref.version);
    const alias = ref.alias ?? LATEST;
    const aliases = await this.aliases(ref.name);
    const version = aliases[alias];
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
    });
  }

  async writeAliases(name: string, aliases: Aliases): Promise<void> {
    const sorted = Object.fromEntries(Object.entries(aliases).sort(([a], [b]) => a.localeCompare(b)));
    await writeFileAtomic(this.layout.aliases(name), `${JSON.stringify(sorted, null, 2)}\n`, { tmpDir: this.layout.tmpDir });
  }
}
