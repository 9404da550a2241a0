import zlib from 'node:zlib';
import { ModelctlError } from '../errors.js';
import type { Manifest } from '../registry/manifest.js';
import { sha256Digest } from './client.js';

/**
 * A registry version as a CNCF ModelPack artifact (github.com/modelpack/model-spec): an OCI image manifest whose
 * artifactType is the model manifest type, a config in the model config type (descriptor, config, modelfs), and
 * one uncompressed layer per file, so that a file shared by two versions is one blob in the registry. Each layer
 * names its path in `org.cncf.model.filepath` (and `org.opencontainers.image.title`, which ORAS reads); modelctl's
 * own sealed manifest travels in the manifest annotation `dev.modelctl.manifest`.
 */

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MODEL_ARTIFACT = 'application/vnd.cncf.model.manifest.v1+json';
export const MODEL_CONFIG = 'application/vnd.cncf.model.config.v1+json';
export const WEIGHT = 'application/vnd.cncf.model.weight.v1.raw';
export const WEIGHT_CONFIG = 'application/vnd.cncf.model.weight.config.v1.raw';
export const DOC = 'application/vnd.cncf.model.doc.v1.raw';
export const CODE = 'application/vnd.cncf.model.code.v1.raw';
export const FILEPATH = 'org.cncf.model.filepath';
export const FILE_METADATA = 'org.cncf.model.file.metadata+json';
export const TITLE = 'org.opencontainers.image.title';
export const MODELCTL_MANIFEST = 'dev.modelctl.manifest';

const WEIGHT_EXT =
  /\.(onnx|onnx_data|onnx\.data|data|safetensors|bin|pt|pth|ckpt|h5|hdf5|keras|pb|gguf|tflite|joblib|pkl|pickle|msgpack|npz|ubj)$/i;
const DOC_NAME = /(^|\/)(readme|license|licence|notice|model_card)(\.[a-z]+)?$|\.md$/i;

/** The layer media type of a file: weights, their configuration (tokenizer, config.json...), docs or code. */
export function layerMediaType(path: string, single: boolean): string {
  if (single || WEIGHT_EXT.test(path) || /(^|\/)variables\//.test(path)) return WEIGHT;
  if (DOC_NAME.test(path)) return DOC;
  if (/\.py$/i.test(path)) return CODE;
  return WEIGHT_CONFIG;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface Artifact {
  config: Buffer;
  configDescriptor: Descriptor;
  layers: Array<Descriptor & { path: string; sha256: string }>;
  manifest: Buffer;
  digest: string;
}

export function buildArtifact(m: Manifest): Artifact {
  const single = m.files.length === 1;
  const layers = m.files.map((f) => ({
    path: f.path,
    sha256: f.sha256,
    mediaType: layerMediaType(f.path, single),
    digest: `sha256:${f.sha256}`,
    size: f.size,
    annotations: {
      [FILEPATH]: f.path,
      [TITLE]: f.path,
      [FILE_METADATA]: JSON.stringify({ name: f.path, mode: 0o644, uid: 0, gid: 0, size: f.size, mtime: m.createdAt, typeflag: 48 }),
    },
  }));
  const config = Buffer.from(
    JSON.stringify({
      descriptor: {
        createdAt: m.createdAt,
        name: m.name,
        version: m.version,
        ...(m.description ? { description: m.description } : {}),
        ...(m.license ? { licenses: [m.license] } : {}),
      },
      config: { format: m.format },
      modelfs: { type: 'layers', diffIds: layers.map((l) => l.digest) },
    }),
  );
  const configDescriptor = { mediaType: MODEL_CONFIG, digest: sha256Digest(config), size: config.length };
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: MODEL_ARTIFACT,
      config: configDescriptor,
      layers: layers.map(({ mediaType, digest, size, annotations }) => ({ mediaType, digest, size, annotations })),
      annotations: {
        'org.opencontainers.image.created': m.createdAt,
        'org.opencontainers.image.title': m.name,
        'org.opencontainers.image.version': m.version,
        [MODELCTL_MANIFEST]: JSON.stringify(m),
      },
    }),
  );
  return { config, configDescriptor, layers, manifest, digest: sha256Digest(manifest) };
}

export interface PulledLayer {
  /** The file's path; for a packed layer, what names it (the ORAS folder, the ModelPack file path or its digest). */
  path: string;
  sha256: string;
  size: number;
  /** A tar layer, unpacked into the version's files (src/oci/packed-layer.ts). */
  packed?: PackedLayer;
}

export interface PackedLayer {
  /** What messages call it: `layer NAME` (its annotation), else `layer N` (its place in the manifest). */
  label: string;
  mediaType: string;
  compression: 'none' | 'gzip' | 'zstd';
  /** An ORAS folder: every entry lies under this folder, as `oras pull` writes it. */
  folder?: string;
  /** ORAS' io.deis.oras.content.digest: the sha256 of the uncompressed tar. */
  tarSha256?: string;
  /**
   * Taken for an ORAS folder by its media type alone (the Python client's folders carry no unpack annotation): a
   * layer that does not unpack as one (not a tar of that folder) is pulled as the single file its title names.
   */
  guessed?: true;
}

export const ORAS_UNPACK = 'io.deis.oras.content.unpack';
export const ORAS_DIGEST = 'io.deis.oras.content.digest';
/** What ORAS writes for a folder (the Go client with ORAS_UNPACK, the Python client without it). */
const ORAS_FOLDER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const MODELPACK_TAR = /^application\/vnd\.(cncf|cnai)\.model\.[a-z.]+\.v1\.tar(\+(gzip|zstd))?$/;

/** Whether node:zlib decompresses zstd here (Node 22.15 and 23.8 on). */
export function zstdAvailable(): boolean {
  return typeof (zlib as unknown as { createZstdDecompress?: unknown }).createZstdDecompress === 'function';
}

/** A layer packed as tar (ModelPack tar layers, ORAS folders), or undefined for a layer that is one file. */
function packedOf(l: Descriptor, path: string | undefined, ref: string, index: number): PackedLayer | undefined {
  const label = `layer ${path ?? index + 1}`;
  const where = `${label} of ${ref}`;
  const mediaType = String(l.mediaType);
  const annotated = l.annotations?.[ORAS_UNPACK] === 'true';
  const oras = annotated || (mediaType === ORAS_FOLDER && !l.annotations?.[FILEPATH] && !!path);
  if (!oras && !MODELPACK_TAR.test(mediaType)) return undefined;
  const compression = /\+zstd$/.test(mediaType) ? 'zstd' : /\.tar$/.test(mediaType) ? 'none' : 'gzip';
  if (compression === 'zstd' && !zstdAvailable()) {
    throw new ModelctlError(
      'NOT_AVAILABLE',
      `${where} is compressed with zstd (${mediaType}): node:zlib has no zstd on Node ${process.version}`,
      {
        hint: 'run modelctl on Node 22.15 / 23.8 or later, or push the layer as .tar or .tar+gzip',
      },
    );
  }
  const tarSha256 = /^sha256:([0-9a-f]{64})$/.exec(l.annotations?.[ORAS_DIGEST] ?? '')?.[1];
  if (oras && !path) throw bad(`of ${ref}: layer ${index + 1} is an ORAS folder without its ${TITLE} annotation`);
  return {
    label,
    mediaType,
    compression,
    ...(oras ? { folder: path } : {}),
    ...(oras && tarSha256 ? { tarSha256 } : {}),
    ...(oras && !annotated ? { guessed: true as const } : {}),
  };
}

export interface ReadArtifact {
  layers: PulledLayer[];
  /** modelctl's manifest of the version pushed, when modelctl pushed it. */
  modelctl?: Manifest;
  /** The config's descriptor name and version (ModelPack), when there are. */
  name?: string;
  version?: string;
}

function bad(what: string): ModelctlError {
  return new ModelctlError('INVALID_INPUT', `the OCI manifest ${what}`, {
    hint: 'modelctl pulls OCI artifacts of files and tar layers (ModelPack, or ORAS files and folders)',
  });
}

/**
 * The files an OCI manifest holds: each layer's path annotation and sha256. A tar layer (ModelPack
 * `application/vnd.cncf.model.*.v1.tar[+gzip|+zstd]`, an ORAS folder) is unpacked at pull; zstd is refused (exit 9)
 * where node:zlib lacks it.
 */
export function readArtifact(bytes: Buffer, ref: string): ReadArtifact {
  let doc: { schemaVersion?: number; mediaType?: string; layers?: Descriptor[]; annotations?: Record<string, string>; manifests?: unknown };
  try {
    doc = JSON.parse(bytes.toString('utf8')) as typeof doc;
  } catch {
    throw bad(`of ${ref} is not JSON`);
  }
  if (doc.manifests !== undefined) throw bad(`of ${ref} is an index (several platforms), not an artifact`);
  if (doc.schemaVersion !== 2 || !Array.isArray(doc.layers))
    throw bad(`of ${ref} is not an OCI image manifest (schemaVersion 2 with layers)`);
  if (doc.layers.length === 0) throw bad(`of ${ref} has no layers: there is no file to pull`);
  const seen = new Set<string>();
  const layers = doc.layers.map((l, i): PulledLayer => {
    const named = l.annotations?.[FILEPATH] ?? l.annotations?.[TITLE];
    const hex = /^sha256:([0-9a-f]{64})$/.exec(String(l.digest))?.[1];
    const packed = packedOf(l, named, ref, i);
    // A ModelPack tar layer names its files inside; the annotation, when there, only names it in messages.
    const path = named ?? (packed ? `layer ${i + 1}` : undefined);
    if (!path) throw bad(`of ${ref}: layer ${i + 1} names no file (${FILEPATH} or ${TITLE} annotation)`);
    if (!hex) throw bad(`of ${ref}: layer ${path} has no sha256 digest`);
    if (!Number.isSafeInteger(l.size) || l.size < 0) throw bad(`of ${ref}: layer ${path} has no valid size`);
    if (seen.has(path)) throw bad(`of ${ref} names ${path} twice`);
    seen.add(path);
    return { path, sha256: hex, size: l.size, ...(packed ? { packed } : {}) };
  });
  let modelctl: Manifest | undefined;
  const embedded = doc.annotations?.[MODELCTL_MANIFEST];
  if (embedded) {
    try {
      modelctl = JSON.parse(embedded) as Manifest;
    } catch {
      throw bad(`of ${ref} holds a ${MODELCTL_MANIFEST} annotation that is not JSON`);
    }
  }
  return {
    layers,
    ...(modelctl ? { modelctl } : {}),
    ...(doc.annotations?.['org.opencontainers.image.title'] ? { name: doc.annotations['org.opencontainers.image.title'] } : {}),
    ...(doc.annotations?.['org.opencontainers.image.version'] ? { version: doc.annotations['org.opencontainers.image.version'] } : {}),
  };
}
