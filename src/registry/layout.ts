import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { encodeName } from './names.js';

/**
 * Where everything lives under the registry home. One place names every path so that gc, validate and the
 * writers can never disagree about the layout.
 *
 *   blobs/sha256/ab/ab12…      content-addressed, immutable (mode 0444)
 *   fingerprints/ab/ab12…      a blob's size, mtime and inode when last known good (derived; see verify.ts)
 *   models/org--name/versions/1.0.0.json   one manifest per version, never edited
 *   models/org--name/aliases.json          {"latest": "1.0.0", ...}, rewritten atomically
 *   models/org--name/index.json            summaries of the versions (derived; list's fast path)
 *   usage/org--name/1.0.0      empty file whose mtime is the version's last use (apart from manifests)
 *   tmp/                       files being written; gc removes them once older than a grace period
 *   views/<id>/                a version's files by path (hard links), for runtimes; derived, swept by gc
 *   bench/org--name/1.0.0/<config>.json   benchmark baselines of a version (apart from sealed manifests)
 *   lock                       the inter-process lock for mutations
 */
export class Layout {
  readonly home: string;
  readonly blobsDir: string;
  readonly fingerprintsDir: string;
  readonly modelsDir: string;
  readonly usageDir: string;
  readonly tmpDir: string;
  readonly viewsDir: string;
  readonly benchDir: string;
  readonly lockFile: string;

  constructor(home: string) {
    this.home = resolve(home);
    this.blobsDir = join(this.home, 'blobs', 'sha256');
    this.fingerprintsDir = join(this.home, 'fingerprints');
    this.modelsDir = join(this.home, 'models');
    this.usageDir = join(this.home, 'usage');
    this.tmpDir = join(this.home, 'tmp');
    this.viewsDir = join(this.home, 'views');
    this.benchDir = join(this.home, 'bench');
    this.lockFile = join(this.home, 'lock');
  }

  blob(sha256: string): string {
    return join(this.blobsDir, sha256.slice(0, 2), sha256);
  }

  /** Kept apart from the blobs folder: gc and validate count every file there as a blob. */
  fingerprint(sha256: string): string {
    return join(this.fingerprintsDir, sha256.slice(0, 2), sha256);
  }

  modelDir(name: string): string {
    return join(this.modelsDir, encodeName(name));
  }

  versionsDir(name: string): string {
    return join(this.modelDir(name), 'versions');
  }

  manifest(name: string, version: string): string {
    return join(this.versionsDir(name), `${version}.json`);
  }

  /** Per-model summary of every version, derived from the manifests, for fast listing. */
  index(name: string): string {
    return join(this.modelDir(name), 'index.json');
  }

  aliases(name: string): string {
    return join(this.modelDir(name), 'aliases.json');
  }

  usageModelDir(name: string): string {
    return join(this.usageDir, encodeName(name));
  }

  usageFile(name: string, version: string): string {
    return join(this.usageModelDir(name), version);
  }

  benchModelDir(name: string): string {
    return join(this.benchDir, encodeName(name));
  }

  /** Benchmark baselines of one version: they go with it when it is removed or evicted. */
  benchVersionDir(name: string, version: string): string {
    return join(this.benchModelDir(name), version);
  }
}

/**
 * The default home: MODELCTL_HOME, else the user's data directory (XDG_DATA_HOME or ~/.local/share on Linux,
 * ~/Library/Application Support on macOS, %LOCALAPPDATA% on Windows).
 */
export function defaultHome(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.MODELCTL_HOME) return resolve(env.MODELCTL_HOME);
  if (platform === 'win32') return join(env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'modelctl');
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'modelctl');
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'modelctl');
}
