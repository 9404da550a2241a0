import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelctlError } from '../errors.js';
import { readOnnxSummary } from '../onnx/summary.js';
import { isEnoent } from './fsutil.js';
import { DEFAULT_GRACE_MS } from './gc.js';
import { scanTmp, sweepEmptyModels, sweepPerVersion } from './sweep.js';
import { sweepViews } from './views.js';
import type { Manifest } from './manifest.js';
import type { ModelRef } from './names.js';
import type { Store } from './store.js';
import { hashBlob } from './verify.js';

export type ProblemKind = 'corrupt-manifest' | 'missing-blob' | 'corrupt-blob' | 'bad-onnx' | 'dangling-alias' | 'corrupt-aliases';

export interface Problem {
  kind: ProblemKind;
  /** name:version, or name@alias for aliases. */
  ref: string;
  message: string;
  path?: string;
}

export interface ValidateOptions {
  ref?: Extract<ModelRef, { kind: 'registry' }>;
  /** Count garbage (orphan blobs, stale temporary files) as problems. */
  strict?: boolean;
  /** Hash this many blobs at once (default 2). */
  concurrency?: number;
  onProgress?: (event: { type: 'hash'; done: number; total: number; bytes: number; totalBytes: number }) => void;
  signal?: AbortSignal;
  clock?: () => Date;
}

export interface ValidateResult {
  ok: boolean;
  versions: number;
  blobs: number;
  bytes: number;
  problems: Problem[];
  /**
   * What gc reclaims, reported as git fsck reports dangling objects: not damage. A register killed between placing
   * its blobs and writing its manifest leaves orphan blobs; a killed copy leaves temporary files (staleTmpFiles
   * counts files and folders: a pull's staging folder, a view being built, an upload); a killed rm leaves views,
   * usage records or baselines of removed versions (staleRecords), or a model folder without versions.
   */
  garbage: {
    orphanBlobs: number;
    orphanBytes: number;
    staleTmpFiles: number;
    staleTmpBytes: number;
    activeTmpFiles: number;
    staleViews: number;
    staleRecords: number;
    emptyModels: string[];
  };
}

async function listBlobs(store: Store): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  let shards: string[];
  try {
    shards = await readdir(store.layout.blobsDir);
  } catch (err) {
    if (isEnoent(err)) return found;
    throw err;
  }
  for (const shard of shards) {
    const names = await readdir(join(store.layout.blobsDir, shard)).catch(() => [] as string[]);
    for (const n of names) found.set(n, join(store.layout.blobsDir, shard, n));
  }
  return found;
}

/** Everything validate checks about one blob: present, right size, right hash, and an ONNX file that parses. */
async function checkBlob(
  store: Store,
  sha256: string,
  users: Array<{ m: Manifest; path: string; size: number }>,
  signal?: AbortSignal,
): Promise<Problem[]> {
  const path = store.layout.blob(sha256);
  const first = users[0] as { m: Manifest; path: string; size: number };
  const ref = `${first.m.name}:${first.m.version}`;
  let actual: { sha256: string; size: number };
  try {
    actual = await hashBlob(store.layout, sha256, signal); // a good blob's fingerprint is refreshed (verify.ts)
  } catch (err) {
    if (!isEnoent(err)) throw err;
    // Removed while we looked (rm + gc running beside us) is not damage: check the manifest still exists.
    const still = await stat(store.layout.manifest(first.m.name, first.m.version)).then(
      () => true,
      () => false,
    );
    return still
      ? users.map((u) => ({
          kind: 'missing-blob' as const,
          ref: `${u.m.name}:${u.m.version}`,
          path,
          message: `${u.path}: blob ${sha256.slice(0, 12)} is missing`,
        }))
      : [];
  }
  if (actual.sha256 !== sha256 || actual.size !== first.size) {
    return [
      {
        kind: 'corrupt-blob',
        ref,
        path,
        message: `${first.path}: blob ${sha256.slice(0, 12)} is corrupt (its content hashes to ${actual.sha256.slice(0, 12)}, ${actual.size} bytes)`,
      },
    ];
  }
  const onnx = users.find((u) => u.path.toLowerCase().endsWith('.onnx'));
  if (onnx) {
    try {
      await readOnnxSummary(path);
    } catch (err) {
      if (!(err instanceof ModelctlError)) throw err;
      return [
        { kind: 'bad-onnx', ref: `${onnx.m.name}:${onnx.m.version}`, path, message: `${onnx.path}: ${err.message.replace(path, 'blob')}` },
      ];
    }
  }
  return [];
}

/** Re-hashes every blob, checks manifests, aliases and ONNX files; changes nothing but good blobs' fingerprints. */
export async function validateRegistry(store: Store, options: ValidateOptions = {}): Promise<ValidateResult> {
  const problems: Problem[] = [];
  const ref = options.ref;
  let manifests: Manifest[];
  if (ref?.version || ref?.alias) {
    try {
      manifests = [await store.resolve(ref)];
    } catch (err) {
      if (!(err instanceof ModelctlError) || err.code !== 'CORRUPT_MANIFEST') throw err;
      manifests = [];
      problems.push({
        kind: 'corrupt-manifest',
        ref: ref.version ? `${ref.name}:${ref.version}` : `${ref.name}@${ref.alias}`,
        message: err.message,
      });
    }
  } else {
    const listed = await store.manifests(ref?.name);
    if (ref && listed.manifests.length === 0 && listed.failures.length === 0) {
      throw new ModelctlError('NOT_FOUND', `no model named ${ref.name}`, { hint: 'run `modelctl list`' });
    }
    manifests = listed.manifests;
    for (const f of listed.failures)
      problems.push({ kind: 'corrupt-manifest', ref: `${f.name}:${f.version}`, path: f.path, message: f.error.message });
  }
  const names = ref ? [ref.name] : await store.names();
  for (const name of names) {
    try {
      // Versions before aliases: rm drops aliases before manifests, so this order never sees a false dangling alias.
      const versions = new Set(await store.versions(name));
      const aliases = await store.aliases(name);
      for (const [alias, version] of Object.entries(aliases)) {
        if (!versions.has(version))
          problems.push({ kind: 'dangling-alias', ref: `${name}@${alias}`, message: `alias points at ${version}, which does not exist` });
      }
    } catch (err) {
      if (!(err instanceof ModelctlError)) throw err;
      problems.push({ kind: 'corrupt-aliases', ref: name, path: store.layout.aliases(name), message: err.message });
    }
  }
  const users = new Map<string, Array<{ m: Manifest; path: string; size: number }>>();
  for (const m of manifests)
    for (const f of m.files) users.set(f.sha256, [...(users.get(f.sha256) ?? []), { m, path: f.path, size: f.size }]);
  const digests = [...users.keys()];
  const totalBytes = digests.reduce((n, d) => n + (users.get(d)?.[0]?.size ?? 0), 0);
  let done = 0;
  let bytes = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < digests.length) {
      const digest = digests[next++] as string;
      const u = users.get(digest) ?? [];
      problems.push(...(await checkBlob(store, digest, u, options.signal)));
      done++;
      bytes += u[0]?.size ?? 0;
      options.onProgress?.({ type: 'hash', done, total: digests.length, bytes, totalBytes });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 2) }, worker));

  const garbage: ValidateResult['garbage'] = {
    orphanBlobs: 0,
    orphanBytes: 0,
    staleTmpFiles: 0,
    staleTmpBytes: 0,
    activeTmpFiles: 0,
    staleViews: 0,
    staleRecords: 0,
    emptyModels: [],
  };
  if (!ref) {
    const referencedAnywhere = new Set(digests);
    for (const [digest, path] of await listBlobs(store)) {
      if (referencedAnywhere.has(digest)) continue;
      garbage.orphanBlobs++;
      garbage.orphanBytes += await stat(path).then(
        (s) => s.size,
        () => 0,
      );
    }
    const now = (options.clock ?? (() => new Date()))().getTime();
    const tmp = await scanTmp(store, DEFAULT_GRACE_MS, now);
    garbage.staleTmpFiles = tmp.stale.length;
    garbage.staleTmpBytes = tmp.stale.reduce((n, f) => n + f.size, 0);
    garbage.activeTmpFiles = tmp.active;
    // Counted as gc would remove them (a dry run of its sweeps), so that `--strict` is clean after one gc.
    const exists = new Set<string>();
    for (const n of await store.names()) for (const v of await store.versions(n)) exists.add(`${n}:${v}`);
    garbage.staleRecords =
      (await sweepPerVersion(store.layout.usageDir, exists, true)) + (await sweepPerVersion(store.layout.benchDir, exists, true));
    garbage.staleViews = await sweepViews(store, manifests, true);
    garbage.emptyModels = await sweepEmptyModels(store, true);
  }
  problems.sort((a, b) => a.ref.localeCompare(b.ref) || a.message.localeCompare(b.message));
  const dirty =
    options.strict === true &&
    (garbage.orphanBlobs > 0 ||
      garbage.staleTmpFiles > 0 ||
      garbage.staleViews > 0 ||
      garbage.staleRecords > 0 ||
      garbage.emptyModels.length > 0);
  return { ok: problems.length === 0 && !dirty, versions: manifests.length, blobs: digests.length, bytes: totalBytes, problems, garbage };
}
