import { createHash } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelctlError } from '../errors.js';
import { extractTar } from '../util/tar-read.js';

/**
 * The base image of `deploy image --base`: an OCI image layout folder (`oci:DIR[:TAG]`) or one archived as a tar
 * (`oci-archive:FILE[:TAG]`, what `skopeo copy docker://node:20-slim oci-archive:node.tar` writes). Its manifest and
 * config are read and checked against their digests; its layers are taken as they are (same bytes, same digests,
 * compressed or not), and its config is the start of the built image's.
 */

export interface BaseLayer {
  mediaType: string;
  digest: string;
  size: number;
  /** The blob's file in the layout. */
  path: string;
}

export interface BaseImage {
  ref: string;
  layers: BaseLayer[];
  /** The base's image config (os, architecture, config, rootfs, history...). */
  config: Record<string, unknown> & {
    os?: string;
    architecture?: string;
    config?: Record<string, unknown>;
    rootfs?: { type?: string; diff_ids?: string[] };
    history?: unknown[];
  };
}

interface Descriptor {
  mediaType?: string;
  digest?: string;
  size?: number;
  annotations?: Record<string, string>;
  platform?: { os?: string; architecture?: string };
}

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);
const HOST_ARCH = process.arch === 'arm64' ? 'arm64' : 'amd64';

/** `oci:DIR[:TAG]` or `oci-archive:FILE[:TAG]`: the kind, the path and the tag (when given). */
export function parseBaseRef(ref: string): { kind: 'oci' | 'oci-archive'; path: string; tag?: string } {
  const m = /^(oci|oci-archive):(.+)$/.exec(ref);
  if (!m) {
    throw new ModelctlError('USAGE', `--base takes oci:DIR[:TAG] or oci-archive:FILE[:TAG], got "${ref}"`, {
      hint: 'make one without Docker: skopeo copy docker://node:20-slim oci-archive:node.tar',
    });
  }
  const kind = m[1] as 'oci' | 'oci-archive';
  const rest = m[2] as string;
  const colon = rest.lastIndexOf(':');
  const tag = colon === -1 ? '' : rest.slice(colon + 1);
  if (colon > 0 && /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(tag)) return { kind, path: rest.slice(0, colon), tag };
  return { kind, path: rest };
}

/** Reads the base image `ref`; an archive is unpacked into `staging` first. */
export async function readBase(ref: string, staging: string, signal?: AbortSignal): Promise<BaseImage> {
  const { kind, path, tag } = parseBaseRef(ref);
  const bad = (why: string) => new ModelctlError('INVALID_INPUT', `the base image ${ref} ${why}`);
  let dir = path;
  if (kind === 'oci-archive') {
    if (!(await stat(path).catch(() => undefined))?.isFile()) throw bad('is not there (no such archive)');
    dir = join(staging, 'base');
    await mkdir(dir, { recursive: true });
    await extractTar(path, dir, signal);
  } else if (!(await stat(path).catch(() => undefined))?.isDirectory()) throw bad('is not there (no such folder)');
  const blobPath = (d: Descriptor): string => {
    const m = /^sha256:([0-9a-f]{64})$/.exec(d.digest ?? '');
    if (!m) throw bad(`names a blob by an unsupported digest: ${String(d.digest)}`);
    return join(dir, 'blobs', 'sha256', m[1] as string);
  };
  const readJson = async <T>(d: Descriptor): Promise<T> => {
    const bytes = await readFile(blobPath(d)).catch(() => {
      throw bad(`lacks the blob ${d.digest}`);
    });
    if (`sha256:${createHash('sha256').update(bytes).digest('hex')}` !== d.digest)
      throw bad(`has a blob that does not match its digest: ${d.digest}`);
    try {
      return JSON.parse(bytes.toString('utf8')) as T;
    } catch {
      throw bad(`has a blob that is not JSON: ${d.digest}`);
    }
  };
  let index: { manifests?: Descriptor[] };
  try {
    index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests?: Descriptor[] };
  } catch {
    throw bad('is not an OCI image layout (no readable index.json)');
  }
  const entries = index.manifests ?? [];
  const tagged = tag === undefined ? entries : entries.filter((d) => d.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (tagged.length !== 1) {
    const names = entries.map((d) => d.annotations?.['org.opencontainers.image.ref.name']).filter((n) => n !== undefined);
    throw bad(
      tagged.length === 0
        ? `has no image tagged ${tag} (tags: ${names.join(', ') || 'none'})`
        : `holds ${tagged.length} images: name one with :TAG`,
    );
  }
  let chosen = tagged[0] as Descriptor;
  if (INDEX_TYPES.has(chosen.mediaType ?? '')) {
    // A multi-platform image: the entry for this machine's architecture.
    const inner = (await readJson<{ manifests?: Descriptor[] }>(chosen)).manifests ?? [];
    const match = inner.find((d) => d.platform?.os === 'linux' && d.platform.architecture === HOST_ARCH);
    if (!match) throw bad(`has no linux/${HOST_ARCH} image`);
    chosen = match;
  }
  const manifest = await readJson<{ config?: Descriptor; layers?: Descriptor[] }>(chosen);
  if (!manifest.config || !Array.isArray(manifest.layers)) throw bad('has a manifest without config or layers');
  const config = await readJson<BaseImage['config']>(manifest.config);
  if (config.os !== 'linux') throw bad(`is for ${String(config.os)}, and the image modelctl builds runs on linux`);
  const layers: BaseLayer[] = [];
  for (const d of manifest.layers) {
    const file = blobPath(d);
    const st = await stat(file).catch(() => undefined);
    if (!st || st.size !== d.size) throw bad(`lacks the layer ${d.digest} (or holds it with another size)`);
    layers.push({
      mediaType: d.mediaType ?? 'application/vnd.oci.image.layer.v1.tar',
      digest: d.digest as string,
      size: d.size,
      path: file,
    });
  }
  if ((config.rootfs?.diff_ids ?? []).length !== layers.length) throw bad('has a config whose rootfs does not list one diff id per layer');
  // The official node images (and most built on them) say their Node.js version in NODE_VERSION: modelctl needs 20.
  const env = (config.config?.Env ?? []) as unknown[];
  const declared = env.find((e): e is string => typeof e === 'string' && e.startsWith('NODE_VERSION='));
  const major = /^NODE_VERSION=v?(\d+)\./.exec(declared ?? '')?.[1];
  if (major !== undefined && Number(major) < 20) {
    throw new ModelctlError('INVALID_INPUT', `the base image ${ref} has Node.js ${declared?.slice(13)}; modelctl needs 20 or newer`, {
      hint: 'use a newer base: skopeo copy docker://node:20-slim oci-archive:node.tar',
    });
  }
  return { ref, layers, config };
}
