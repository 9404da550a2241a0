import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, posix, relative, resolve } from 'node:path';
import { ModelctlError, ioError } from '../errors.js';
import type { Registry } from '../registry/index.js';
import { Layout } from '../registry/layout.js';
import { packageRoot } from '../util/package-root.js';
import { TarWriter } from '../util/tar.js';
import { type BaseImage, readBase } from './image-base.js';
import { runtimeDependencyItems } from './image-deps.js';
import { SERVE_PORT } from './kserve.js';
import { resolveOnnxVersion } from './onnx-version.js';
import { writeOutput, type WriteOutcome } from './output.js';

/**
 * `deploy image`: an OCI image (an OCI image layout, archived as one tar: what `skopeo` calls oci-archive) built
 * without Docker. One layer holds a registry home with the version (its blobs and its sealed manifest, byte for
 * byte), one holds modelctl (bin/, the bundled dist/, package.json) with `modelctl` on PATH, one the npm packages it
 * needs at run time (image-deps.ts), and the config runs `modelctl serve` on port 8080. Layers are plain tars with
 * fixed owners and times (the version's creation time), so the same version and modelctl give the same image digest.
 * Node.js itself comes from `--base` (image-base.ts): the base's layers go first, as they are, and its config (Env,
 * WorkingDir, User, platform, history) is the start of ours. Without a base the image holds no Node.js.
 */

export interface ImageOptions {
  out: string;
  /** The tag in the layout's index (default: the version). */
  tag?: string;
  /** A base image holding Node.js >= 20: oci:DIR[:TAG] or oci-archive:FILE[:TAG]. */
  base?: string;
  force?: boolean;
  signal?: AbortSignal;
}

export interface ImageResult {
  ref: string;
  out: string;
  tag: string;
  /** sha256:... of the image manifest. */
  digest: string;
  layers: Array<{ digest: string; size: number; what: string }>;
  /** The image's platform (the base's, or this machine's without one). */
  platform: string;
  outcome: WriteOutcome;
}

/** What each of modelctl's own layers holds, in order (the result's `what`). */
const WHAT = ['model', 'modelctl', 'dependencies'];

export const IMAGE_HOME = '/var/lib/modelctl';
const APP_DIR = 'opt/modelctl';
const MEDIA = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
} as const;

interface Blob {
  digest: string;
  size: number;
  /** A staged file, or bytes. */
  path?: string;
  bytes?: Buffer;
  /** The layer's media type when it is not an uncompressed tar (a base's layers are kept as they are). */
  mediaType?: string;
  what?: string;
}

const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const jsonBlob = (value: unknown): Blob => {
  const bytes = Buffer.from(JSON.stringify(value));
  return { digest: sha256(bytes), size: bytes.length, bytes };
};

/** Every parent folder of `paths`, each once, parents first. */
function parents(paths: readonly string[]): string[] {
  const dirs = new Set<string>();
  for (const p of paths) for (let d = posix.dirname(p); d !== '.' && d !== '/'; d = posix.dirname(d)) dirs.add(d);
  return [...dirs].sort();
}

async function filesUnder(root: string, dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(join(root, dir), { withFileTypes: true })) {
    const rel = posix.join(dir, d.name);
    if (d.isDirectory()) out.push(...(await filesUnder(root, rel)));
    else if (d.isFile()) out.push(rel);
  }
  return out.sort();
}

type Item = { path: string; source: string; size: number; mode: number } | { path: string; link: string };

async function writeLayer(path: string, items: Item[], mtime: number, signal?: AbortSignal): Promise<Blob> {
  const tar = await TarWriter.create(path);
  try {
    for (const dir of parents(items.map((i) => i.path))) await tar.directory(dir, { mtime });
    for (const item of items) {
      // Ctrl-C between files: the staging folder is removed by the caller.
      signal?.throwIfAborted();
      if ('link' in item) await tar.symlink(item.path, item.link, { mtime });
      else await tar.file(item.path, item.source, item.size, { mode: item.mode, mtime });
    }
    const { sha256: hex, size } = await tar.finish();
    return { digest: `sha256:${hex}`, size, path };
  } catch (err) {
    await tar.abort();
    throw err;
  }
}

/** The folder of the modelctl that is running, checked to hold the built bundle. */
async function builtRoot(): Promise<string> {
  const root = packageRoot();
  const bundle = root === null ? undefined : await stat(join(root, 'dist', 'bundle')).catch(() => undefined);
  if (root === null || !bundle?.isDirectory()) {
    throw new ModelctlError('NOT_AVAILABLE', 'deploy image needs the built modelctl (dist/bundle), and it is not beside this one', {
      hint: 'run `npm run build` in the modelctl checkout, or use an installed modelctl',
    });
  }
  return root;
}

/** The modelctl that is running: its launcher, bundle and package.json. */
async function modelctlItems(root: string): Promise<Item[]> {
  const files = ['package.json', 'bin/modelctl.cjs', ...(await filesUnder(root, 'dist/bundle'))];
  const items: Item[] = [];
  for (const f of files) {
    const st = await stat(join(root, f));
    items.push({ path: `${APP_DIR}/${f}`, source: join(root, f), size: st.size, mode: f.startsWith('bin/') ? 0o755 : 0o644 });
  }
  items.push({ path: 'usr/local/bin/modelctl', link: `/${APP_DIR}/bin/modelctl.cjs` });
  return items;
}

/** The npm packages modelctl runs with, under /opt/modelctl/node_modules, for the image's platform. */
async function dependencyItems(root: string, os: string, arch: string): Promise<Item[]> {
  return (await runtimeDependencyItems(root, os, arch)).map((d) =>
    'link' in d ? { path: `${APP_DIR}/node_modules/${d.rel}`, link: d.link } : { ...d, path: `${APP_DIR}/node_modules/${d.rel}` },
  );
}

/** The image config: the base's (Env with its PATH, WorkingDir, User, platform, history) with ours on top. */
function imageConfig(base: BaseImage | undefined, ours: Blob[], created: string, ref: string, manifestDigest: string): Blob {
  const from = base?.config ?? {};
  const baseRun = (from.config ?? {}) as { Env?: string[] };
  const env = (baseRun.Env ?? ['PATH=/usr/local/bin:/usr/bin:/bin']).filter((e) => !e.startsWith('MODELCTL_HOME='));
  const { Cmd: _cmd, Entrypoint: _entrypoint, Healthcheck: _health, ...kept } = baseRun as Record<string, unknown>;
  return jsonBlob({
    ...from,
    created,
    architecture: from.architecture ?? (process.arch === 'arm64' ? 'arm64' : 'amd64'),
    os: from.os ?? 'linux',
    config: {
      ...kept,
      Entrypoint: ['modelctl', 'serve', '--host', '0.0.0.0', '--port', String(SERVE_PORT)],
      Env: [...env, `MODELCTL_HOME=${IMAGE_HOME}`],
      ExposedPorts: { [`${SERVE_PORT}/tcp`]: {} },
      Labels: { 'modelctl.dev/model': ref, 'modelctl.dev/manifest-digest': manifestDigest },
    },
    rootfs: { type: 'layers', diff_ids: [...(base?.config.rootfs?.diff_ids ?? []), ...ours.map((l) => l.digest)] },
    history: [...(base?.config.history ?? []), ...ours.map((l) => ({ created, created_by: `modelctl deploy image: ${l.what}` }))],
  });
}

export async function deployImage(registry: Registry, ref: string, options: ImageOptions): Promise<ImageResult> {
  const version = await resolveOnnxVersion(registry, ref, 'the image', options.signal);
  const { manifest } = version;
  const tag = options.tag ?? manifest.version;
  if (!/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(tag)) {
    throw new ModelctlError('USAGE', `"${tag}" is not an image tag`, { hint: 'a tag is letters, digits, _ . and -, at most 128' });
  }
  const mtime = Math.floor(Date.parse(manifest.createdAt) / 1000);
  const staging = join(registry.store.layout.tmpDir, `image-${process.pid}-${randomBytes(4).toString('hex')}`);
  let archiveStaged: string | undefined;
  try {
    await mkdir(staging, { recursive: true });
    // The version as a registry home inside the image: its blobs and its sealed manifest, as they are in the store.
    const inside = new Layout(IMAGE_HOME);
    const strip = (p: string): string => relative('/', p).split('\\').join('/');
    const seen = new Set<string>();
    const modelItems: Item[] = [];
    for (const f of manifest.files) {
      if (seen.has(f.sha256)) continue;
      seen.add(f.sha256);
      modelItems.push({ path: strip(inside.blob(f.sha256)), source: registry.store.layout.blob(f.sha256), size: f.size, mode: 0o444 });
    }
    const manifestFile = registry.store.layout.manifest(manifest.name, manifest.version);
    const manifestSize = (await stat(manifestFile)).size;
    modelItems.push({
      path: strip(inside.manifest(manifest.name, manifest.version)),
      source: manifestFile,
      size: manifestSize,
      mode: 0o444,
    });
    const aliasesPath = join(staging, 'aliases.json');
    await writeFile(aliasesPath, `${JSON.stringify({ latest: manifest.version }, null, 2)}\n`);
    modelItems.push({ path: strip(inside.aliases(manifest.name)), source: aliasesPath, size: (await stat(aliasesPath)).size, mode: 0o644 });
    const base = options.base === undefined ? undefined : await readBase(options.base, staging, options.signal);
    const os = base?.config.os ?? 'linux';
    const arch = base?.config.architecture ?? (process.arch === 'arm64' ? 'arm64' : 'amd64');
    const root = await builtRoot();
    const ours: Blob[] = [
      { ...(await writeLayer(join(staging, 'model.tar'), modelItems, mtime, options.signal)), what: version.ref },
      { ...(await writeLayer(join(staging, 'modelctl.tar'), await modelctlItems(root), mtime, options.signal)), what: 'modelctl' },
      {
        ...(await writeLayer(join(staging, 'deps.tar'), await dependencyItems(root, os, arch), mtime, options.signal)),
        what: 'npm dependencies',
      },
    ];
    const created = new Date(mtime * 1000).toISOString();
    const config = imageConfig(base, ours, created, version.ref, manifest.digest);
    const layers: Blob[] = [
      ...(base?.layers ?? []).map((l) => ({ digest: l.digest, size: l.size, path: l.path, mediaType: l.mediaType, what: 'base' })),
      ...ours,
    ];
    const imageManifest = jsonBlob({
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config: { mediaType: MEDIA.config, digest: config.digest, size: config.size },
      layers: layers.map((l) => ({ mediaType: l.mediaType ?? MEDIA.layer, digest: l.digest, size: l.size })),
      annotations: { 'org.opencontainers.image.created': created, 'org.opencontainers.image.title': manifest.name },
    });
    const index = {
      schemaVersion: 2,
      mediaType: MEDIA.index,
      manifests: [
        {
          mediaType: MEDIA.manifest,
          digest: imageManifest.digest,
          size: imageManifest.size,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    };
    // Built beside the output when its folder exists (one rename into place, not a copy of the whole archive).
    const outDir = dirname(resolve(options.out));
    const besideOut = await stat(outDir).then(
      (st) => st.isDirectory(),
      () => false,
    );
    const archivePath = besideOut
      ? join(outDir, `.${basename(options.out)}.modelctl-build-${process.pid}-${randomBytes(4).toString('hex')}`)
      : join(staging, 'image.tar');
    archiveStaged = archivePath;
    const archive = await TarWriter.create(archivePath);
    try {
      await archive.bytes('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })), { mtime });
      await archive.bytes('index.json', Buffer.from(JSON.stringify(index)), { mtime });
      await archive.directory('blobs', { mtime });
      await archive.directory('blobs/sha256', { mtime });
      const names = new Set<string>();
      for (const blob of [imageManifest, config, ...layers]) {
        // A base may hold one layer twice (an empty one, say): one blob in the archive.
        if (names.has(blob.digest)) continue;
        names.add(blob.digest);
        const name = `blobs/sha256/${blob.digest.slice('sha256:'.length)}`;
        if (blob.bytes) await archive.bytes(name, blob.bytes, { mtime });
        else await archive.file(name, blob.path as string, blob.size, { mtime });
      }
    } catch (err) {
      await archive.abort();
      throw err;
    }
    const done = await archive.finish();
    const outcome = await writeOutput(options.out, [{ relPath: '', blob: archivePath, sha256: done.sha256, size: done.size, move: true }], {
      single: true,
      force: options.force === true,
      what: 'image archive',
    });
    return {
      ref: version.ref,
      out: options.out,
      tag,
      digest: imageManifest.digest,
      layers: layers.map((l, i) => ({
        digest: l.digest,
        size: l.size,
        what: i < layers.length - ours.length ? 'base' : (WHAT[i - layers.length + ours.length] as string),
      })),
      platform: `${os}/${arch}`,
      outcome,
    };
  } catch (err) {
    throw ioError(err);
  } finally {
    await rm(staging, { recursive: true, force: true });
    if (archiveStaged !== undefined) await rm(archiveStaged, { force: true });
  }
}
