import type { Agent as HttpsAgent } from 'node:https';
import { ModelctlError } from '../errors.js';
import type { Registry } from '../registry/index.js';
import type { Manifest } from '../registry/manifest.js';
import { findCredentials, type Credentials } from './auth.js';
import { OciClient } from './client.js';
import { buildArtifact, OCI_MANIFEST } from './modelpack.js';
import { parseOciRef, tagFromVersion, type OciRef } from './ref.js';

/**
 * `modelctl push REF oci://HOST/REPO:TAG`: a registry version as a ModelPack artifact. Every blob is asked for
 * first (HEAD) and only sent when the registry lacks it; a blob the version was pulled from another repository of
 * the same registry (or one named with `mountFrom`) is mounted from there instead of sent. The version's blobs are
 * verified before any byte leaves, so a damaged store never reaches the registry.
 */

export interface OciPushOptions {
  registry: Registry;
  /** name[:version|@alias] in the local registry. */
  ref: string;
  /** oci://HOST[:PORT]/REPO[:TAG]; the tag defaults to the version. */
  target: string;
  credentials?: Credentials;
  insecure?: boolean;
  /** Other repositories of the same registry to mount blobs from. */
  mountFrom?: string[];
  /** Blobs larger than this go up in PATCH chunks of this size (default 256 MiB). */
  chunkSize?: number;
  env?: NodeJS.ProcessEnv;
  httpsAgent?: HttpsAgent;
  signal?: AbortSignal;
  onProgress?: (event: OciPushEvent) => void;
}

export type OciPushEvent =
  | { type: 'resolved'; files: number; bytes: number }
  | { type: 'bytes'; done: number; total: number }
  | { type: 'manifest' };

export type BlobOutcome = 'uploaded' | 'exists' | 'mounted';

export interface OciPushResult {
  manifest: Manifest;
  /** oci://HOST/REPO:TAG and the pushed manifest's digest (also reachable as oci://HOST/REPO@DIGEST). */
  reference: string;
  digest: string;
  tag: string;
  blobs: Array<{ path: string; digest: string; size: number; outcome: BlobOutcome; from?: string }>;
  uploadedBytes: number;
}

export const DEFAULT_CHUNK = 256 * 1024 * 1024;

/** Where the version came from, when that is another repository of this registry: its blobs are there. */
function lineageRepo(m: Manifest, target: OciRef): string | undefined {
  const s = m.lineage.source ?? {};
  return s.kind === 'oci' && s.host === target.host && typeof s.repository === 'string' && s.repository !== target.repo
    ? s.repository
    : undefined;
}

export async function pushOci(o: OciPushOptions): Promise<OciPushResult> {
  const target = parseOciRef(o.target, o.insecure ? { insecure: true } : {});
  if (target.digest) {
    throw new ModelctlError('USAGE', `push to ${target.text}: a digest is what the registry computes, not a target`, {
      hint: 'push to oci://HOST/REPO:TAG (or without a tag: the version becomes the tag)',
    });
  }
  const m = await o.registry.resolve(o.ref);
  const tag = target.tag ?? tagFromVersion(m.version);
  const from = [...new Set([lineageRepo(m, target), ...(o.mountFrom ?? [])].filter((r): r is string => r !== undefined))];
  for (const repo of from) parseOciRef(`oci://${target.host}/${repo}`);
  await o.registry.verify(m, o.signal ? { signal: o.signal } : {});
  // Looked up when the registry first asks (a 401): an open registry needs no helper, no Docker config.
  const credentials = () => findCredentials(target.host, o.env ?? process.env, o.credentials);
  const client = new OciClient(target, {
    push: true,
    mountFrom: from,
    credentials,
    ...(o.httpsAgent ? { httpsAgent: o.httpsAgent } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  const artifact = buildArtifact(m);
  const chunk = o.chunkSize ?? DEFAULT_CHUNK;
  const total = m.size;
  o.onProgress?.({ type: 'resolved', files: m.files.length, bytes: total });
  let done = 0;
  let uploaded = 0;
  const advance = (n: number): void => {
    done += n;
    o.onProgress?.({ type: 'bytes', done, total });
  };
  const blobs: OciPushResult['blobs'] = [];
  // One layer per distinct blob: two paths with the same content are one blob.
  const sent = new Map<string, { outcome: BlobOutcome; from?: string }>();
  for (const layer of artifact.layers) {
    let result = sent.get(layer.digest);
    if (!result) {
      result = await sendBlob(client, layer.digest, o.registry.store.layout.blob(layer.sha256), layer.size, from, chunk, (n) => {
        uploaded += n;
        advance(n);
      });
      if (result.outcome !== 'uploaded') advance(layer.size);
      sent.set(layer.digest, result);
    }
    blobs.push({ path: layer.path, digest: layer.digest, size: layer.size, ...result });
  }
  if (!(await client.hasBlob(artifact.configDescriptor.digest))) {
    await client.putBytes(await client.startUpload(), artifact.configDescriptor.digest, artifact.config);
  }
  o.onProgress?.({ type: 'manifest' });
  const digest = await client.putManifest(tag, artifact.manifest, OCI_MANIFEST);
  return { manifest: m, reference: `oci://${target.host}/${target.repo}:${tag}`, digest, tag, blobs, uploadedBytes: uploaded };
}

async function sendBlob(
  client: OciClient,
  digest: string,
  file: string,
  size: number,
  from: string[],
  chunk: number,
  onBytes: (n: number) => void,
): Promise<{ outcome: BlobOutcome; from?: string }> {
  if (await client.hasBlob(digest)) return { outcome: 'exists' };
  let upload: URL | undefined;
  for (const repo of from) {
    const tried = await client.mount(digest, repo);
    if (tried.mounted) return { outcome: 'mounted', from: repo };
    // A mount that did not happen opened an ordinary upload: the last one is used (the registry purges the rest).
    upload = tried.location;
  }
  await client.upload(upload ?? (await client.startUpload()), digest, file, size, chunk, onBytes);
  return { outcome: 'uploaded' };
}
