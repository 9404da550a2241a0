import { unlink } from 'node:fs/promises';
import { ModelctlError } from '../errors.js';
import { downloadUrl, discardFetched, type FetchedFile } from '../hub/download/index.js';
import type { Manifest } from '../registry/manifest.js';
import { checkNewName, checkNewVersion, checkSemverVersion } from '../registry/names.js';
import { blobIntact } from '../registry/verify.js';
import { commitPull, pullResult } from '../pull/inspect-and-commit.js';
import type { PullOptions, PullResult } from '../pull/options.js';
import { findCredentials } from './auth.js';
import { OciClient } from './client.js';
import { OCI_MANIFEST, readArtifact, type PulledLayer } from './modelpack.js';
import { unpackLayer } from './packed-layer.js';
import { manifestReference, parseOciRef, type OciRef } from './ref.js';

/**
 * `modelctl pull oci://HOST/REPO[:TAG|@sha256:...]`: the manifest (checked against its digest), then each layer's
 * blob streamed into the registry's tmp/ and hashed on the way; a blob whose sha256 is not its digest stops the
 * pull and nothing is registered. Blobs the store already holds are not downloaded. A tar layer (ModelPack's
 * `.tar[+gzip|+zstd]` kinds, an ORAS folder) is verified the same way, then unpacked into its files (packed-layer.ts). A version modelctl pushed
 * comes back under its name and version with its tags, metrics and description; the lineage names the reference
 * and the manifest digest.
 */

const ACCEPT = [
  OCI_MANIFEST,
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
];

function nameOf(ref: OciRef): string {
  try {
    return checkNewName(ref.repo);
  } catch {
    throw new ModelctlError('USAGE', `cannot make a model name from the repository ${ref.repo}`, { hint: 'give one with --name' });
  }
}

function validOrUndefined(v: unknown, check: (v: string) => string): string | undefined {
  if (typeof v !== 'string') return undefined;
  try {
    return check(v);
  } catch {
    return undefined;
  }
}

/** What a modelctl manifest carried that a new version keeps, with every value of the type it must have. */
function labelsOf(m: Manifest | undefined): {
  tags: Record<string, string>;
  metrics: Record<string, number>;
  description?: string;
  license?: string;
} {
  const tags = Object.fromEntries(Object.entries(m?.tags ?? {}).filter(([, v]) => typeof v === 'string'));
  const metrics = Object.fromEntries(Object.entries(m?.metrics ?? {}).filter(([, v]) => typeof v === 'number' && Number.isFinite(v)));
  return {
    tags,
    metrics,
    ...(typeof m?.description === 'string' ? { description: m.description } : {}),
    ...(typeof m?.license === 'string' ? { license: m.license } : {}),
  };
}

/** A tag that is not there: the hint names the tags that are (the repository's tag list). */
async function withTags(client: OciClient, err: ModelctlError): Promise<ModelctlError> {
  const tags = await client.tags().catch(() => undefined);
  if (tags === undefined) return err;
  const shown = tags.length > 10 ? `${tags.slice(0, 10).join(', ')} and ${tags.length - 10} more` : tags.join(', ');
  return new ModelctlError('NOT_FOUND', err.message, {
    hint: tags.length ? `tags of ${client.ref.repo}: ${shown}` : `${client.ref.repo} has no tags`,
    ...(err.details ? { details: err.details } : {}),
  });
}

export async function pullOci(o: PullOptions): Promise<PullResult> {
  const ref = parseOciRef(o.source, o.insecure ? { insecure: true } : {});
  if (o.version !== undefined) checkSemverVersion(o.version);
  // Looked up when the registry first asks (a 401): an open registry needs no helper, no Docker config.
  const credentials = () => findCredentials(ref.host, o.env ?? process.env, o.credentials);
  const client = new OciClient(ref, {
    credentials,
    ...(o.httpsAgent ? { httpsAgent: o.httpsAgent } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  o.onProgress?.({ type: 'resolving', source: ref.text });
  const got = await client.getManifest(manifestReference(ref), ACCEPT).catch(async (err: unknown) => {
    throw ref.digest === undefined && err instanceof ModelctlError && err.code === 'NOT_FOUND' ? await withTags(client, err) : err;
  });
  const artifact = readArtifact(got.bytes, ref.text);
  const pushed = artifact.modelctl;
  const name = checkNewName(o.name ?? (typeof pushed?.name === 'string' ? pushed.name : nameOf(ref)));
  // A version modelctl pushed keeps its version (a Hub pull's commit id too); a plain tag is taken when it is semver.
  const version = o.version ?? validOrUndefined(pushed?.version, checkNewVersion) ?? validOrUndefined(ref.tag, checkSemverVersion);
  const total = artifact.layers.reduce((n, l) => n + l.size, 0);
  o.onProgress?.({ type: 'resolved', source: ref.text, commit: got.digest, files: artifact.layers.length, bytes: total });
  let done = 0;
  let downloaded = 0;
  let resumed = 0;
  const layout = o.registry.store.layout;
  const fetchBlob = async (l: PulledLayer): Promise<FetchedFile> => {
    if (await blobIntact(layout, l.sha256, l.size)) {
      done += l.size;
      o.onProgress?.({ type: 'bytes', done, total });
      return { path: l.path, origin: 'store', sha256: l.sha256, size: l.size };
    }
    const got = await downloadUrl(client.url(`blobs/sha256:${l.sha256}`), {
      tmpDir: layout.tmpDir,
      size: l.size,
      ...(client.auth ? { authorization: client.auth } : {}),
      ...(o.httpsAgent ? { httpsAgent: o.httpsAgent } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.retries !== undefined ? { retries: o.retries } : {}),
      ...(o.backoff ? { backoff: o.backoff } : {}),
      onBytes: (n) => {
        done += n;
        o.onProgress?.({ type: 'bytes', done, total });
      },
    });
    downloaded += got.received;
    resumed += got.resumed;
    if (got.file.sha256 !== l.sha256 || got.file.size !== l.size) {
      await unlink(got.file.tmpPath).catch(() => {});
      throw new ModelctlError(
        'INTEGRITY',
        `${l.path} from ${ref.text} does not match its digest (expected sha256:${l.sha256}, got sha256:${got.file.sha256})`,
        {
          hint: 'the registry or something between sent other bytes; nothing was registered',
        },
      );
    }
    return { path: l.path, origin: 'network', file: got.file };
  };
  // A layer is one file, or a tar (ModelPack tar layers, ORAS folders) unpacked into its files once verified.
  const fetchOne = async (l: PulledLayer): Promise<FetchedFile[]> => {
    const got = await fetchBlob(l);
    if (!l.packed) return [got];
    const blob = got.origin === 'store' ? layout.blob(l.sha256) : got.file.tmpPath;
    let single = false;
    try {
      return await unpackLayer(blob, l.sha256, l.packed, {
        tmpDir: layout.tmpDir,
        display: `${l.packed.label} of ${ref.text}`,
        ...(o.signal ? { signal: o.signal } : {}),
      });
    } catch (err) {
      // A tar+gzip file named by its title (pushed as one file, not a folder): the file itself.
      single = l.packed.guessed === true && err instanceof ModelctlError && err.code === 'INVALID_INPUT';
      if (single) return [got];
      throw err;
    } finally {
      if (got.origin !== 'store' && !single) await unlink(blob).catch(() => {});
    }
  };
  // Per layer, in the manifest's order, whatever order the downloads finish in.
  const perLayer: FetchedFile[][] = [];
  const fetched: FetchedFile[] = [];
  try {
    // A few blobs at once; the first failure stops the others from starting.
    const queue = artifact.layers.map((l, i) => [l, i] as const);
    let failed = false;
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next && !failed; next = queue.shift()) {
        try {
          perLayer[next[1]] = await fetchOne(next[0]);
        } catch (err) {
          failed = true;
          throw err;
        }
      }
    };
    const results = await Promise.allSettled(Array.from({ length: Math.min(o.concurrency ?? 4, queue.length) }, worker));
    fetched.push(...perLayer.flat());
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (rejected) throw rejected.reason;
    const paths = new Set<string>();
    for (const f of fetched) {
      if (paths.has(f.path)) throw new ModelctlError('INVALID_INPUT', `${ref.text} holds ${f.path} twice (in two layers)`);
      paths.add(f.path);
    }
  } catch (err) {
    await discardFetched(fetched);
    throw err;
  }
  o.onProgress?.({ type: 'committing' });
  const committed = await commitPull({
    registry: o.registry,
    name,
    ...(version !== undefined ? { version } : {}),
    files: fetched,
    display: ref.text,
    single: fetched.length === 1,
    source: {
      kind: 'oci',
      ref: ref.text,
      host: ref.host,
      repository: ref.repo,
      ...(ref.tag ? { tag: ref.tag } : {}),
      digest: got.digest,
      ...(pushed ? { pushedFrom: `${String(pushed.name)}:${String(pushed.version)}` } : {}),
    },
    labels: labelsOf(pushed),
    clock: o.clock ?? (() => new Date()),
    ...(o.signal ? { signal: o.signal } : {}),
    onWait: () => o.onProgress?.({ type: 'waiting-for-lock' }),
    idempotent: true,
  });
  return pullResult(committed, fetched, downloaded, resumed);
}
