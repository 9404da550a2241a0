import { chmod, mkdir, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ModelctlError, fsError } from '../errors.js';
import { refuseNonOnnx } from '../formats/not-onnx.js';
import { externalDataFiles, safeExternalPath } from '../formats/onnx.js';
import { embedOnnxFile } from '../onnx/embed.js';
import { readOnnxMetadata, readOnnxSummary, type OnnxSummary } from '../onnx/summary.js';
import { hashFile } from '../registry/blobs.js';
import { commitVersion } from '../registry/commit.js';
import { isEnoent, tempName } from '../registry/fsutil.js';
import type { Registry } from '../registry/index.js';
import type { Manifest } from '../registry/manifest.js';
import type { ModelRef } from '../registry/names.js';
import { modelArg } from '../registry/model-arg.js';
import { kernelCopy } from '../util/fs.js';
import { expandHome, isInside } from '../util/paths.js';
import { folderReader, versionReader, type FileReader } from '../registry/companion-files.js';
import { taskToEmbed, featureConfig, gatherFrom, gatherProcessor, readJsonArg, type Gathered } from './companion-files.js';

export interface EmbedMetadataOptions {
  /** A path to an ONNX file, or a registry reference (name, name:version, name@alias). */
  model: string;
  registry?: Registry;
  task?: string;
  /** config.json to embed (beats the one found beside the model). */
  config?: string;
  /** A processor/tokenizer JSON file, or a folder holding them. */
  processor?: string;
  /** An HF folder: config.json and processor files. Default: the model's own folder, or its registered files. */
  fromDir?: string;
  /** Feature names, in input order, for tabular models. */
  features?: string[];
  /** Extra metadata_props (hf_* keys join the schema's extras; others are plain props). */
  set?: Record<string, string>;
  /** Where to write. For a path, default: replace the file (atomically). For a registry model: a copy. */
  out?: string;
  /** For a registry model: the new version (default: next patch). */
  version?: string;
  /** For a registry model: re-hash its files before reading them, whatever their fingerprints say. */
  verify?: boolean;
  clock?: () => Date;
  signal?: AbortSignal;
}

export interface EmbedMetadataResult {
  input: string;
  output?: string;
  /** The version created, for a registry model. */
  manifest?: Manifest;
  parent?: string;
  task?: { task: string; reason: string };
  /** Stored bytes of each property written. */
  written: Record<string, number>;
  totalBytes: number;
  sources: string[];
}

function primaryOnnx(m: Manifest): Manifest['files'][number] {
  const primary = typeof m.metadata.primary === 'string' ? m.metadata.primary : undefined;
  const f =
    m.files.find((x) => x.path === primary) ??
    (m.files.filter((x) => x.path.endsWith('.onnx')).length === 1 ? m.files.find((x) => x.path.endsWith('.onnx')) : undefined);
  if (m.format !== 'onnx' || !f) {
    throw new ModelctlError('INVALID_INPUT', `${m.name}:${m.version} is a ${m.format} model, not ONNX`, {
      hint: `convert it first: \`modelctl export ${m.name}:${m.version}\``,
    });
  }
  return f;
}

async function collect(options: EmbedMetadataOptions, fallback: { read: FileReader; where: string } | undefined, summary: OnnxSummary) {
  const skipConfig = options.config !== undefined; // an explicit --config wins, even over a broken config.json
  const gathered: Gathered = options.fromDir
    ? await gatherFrom(folderReader(resolve(expandHome(options.fromDir))), options.fromDir, { skipConfig })
    : fallback
      ? await gatherFrom(fallback.read, fallback.where, { skipConfig })
      : { sources: [], sentenceTransformers: false };
  if (options.config) {
    const config = await readJsonArg(expandHome(options.config), '--config');
    if (!config || typeof config !== 'object' || Array.isArray(config)) {
      throw new ModelctlError('INVALID_INPUT', `--config ${options.config} is not a JSON object`, {
        hint: 'give a config.json as transformers writes it',
      });
    }
    gathered.modelConfig = config;
    gathered.sources.push(options.config);
  }
  if (options.processor) {
    gathered.processorConfig = { ...gathered.processorConfig, ...(await gatherProcessor(expandHome(options.processor))) };
    gathered.sources.push(options.processor);
  }
  const task = taskToEmbed(options.task, gathered, summary);
  const tabular = task?.task.startsWith('tabular-') ?? false;
  const features = tabular || options.features ? featureConfig(summary, options.features) : undefined;
  return { gathered, task, features };
}

/** Registry files are written only by the registry: a path inside its home is refused, in or out. */
async function guardHome(registry: Registry | undefined, path: string, what: string): Promise<void> {
  if (registry && (await isInside(path, registry.home))) {
    throw new ModelctlError('INVALID_INPUT', `${what} ${path} is inside the registry at ${registry.home}`, {
      hint: 'registry files never change: name the model (name:version) to make a new version, and --out a path outside the registry',
    });
  }
}

/**
 * Writes `source` to `out` atomically (temporary file beside it, then rename), readable and writable by the user,
 * with the model's external data files beside it when it has any (taken from `companion`).
 */
async function copyCompanions(external: string[], companion: (name: string) => string, dir: string): Promise<void> {
  for (const name of external) {
    const target = join(dir, name);
    if (
      await stat(target).then(
        () => true,
        () => false,
      )
    )
      continue;
    await mkdir(dirname(target), { recursive: true });
    await kernelCopy(companion(name), target);
    await chmod(target, 0o644);
  }
}

async function placeOut(source: string, out: string, external: string[], companion: (name: string) => string): Promise<void> {
  await mkdir(dirname(out), { recursive: true });
  await copyCompanions(external, companion, dirname(out));
  const tmp = join(dirname(out), `.${tempName('out')}`);
  try {
    await kernelCopy(source, tmp);
    await chmod(tmp, 0o644);
    await rename(tmp, out);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw fsError(err, out, 'write');
  }
}

async function embedPath(options: EmbedMetadataOptions, path: string, clock: () => Date): Promise<EmbedMetadataResult> {
  const input = resolve(expandHome(path));
  const st = await stat(input).catch((err: unknown) => {
    throw fsError(err, path);
  });
  if (!st.isFile())
    throw new ModelctlError('INVALID_INPUT', `${path} is not a file`, { hint: 'give the .onnx file itself (e.g. ./onnx/model.onnx)' });
  await guardHome(options.registry, input, 'the model');
  refuseNonOnnx(input, st.size, path, 'the metadata goes into ONNX files');
  const summary = await readOnnxSummary(input);
  // The external data locations come from the file: confined to its folder and checked to exist (as info and
  // register do) before anything is written, so a copy never lands outside --out and a missing file creates nothing.
  const external = await externalDataFiles(summary, input, path);
  const { gathered, task, features } = await collect(options, { read: folderReader(dirname(input)), where: dirname(input) }, summary);
  const output = resolve(expandHome(options.out ?? input));
  await guardHome(options.registry, output, '--out');
  await mkdir(dirname(output), { recursive: true });
  // The weights may live in files beside the model: a copy elsewhere needs them beside it too.
  if (dirname(output) !== dirname(input)) {
    const byPath = new Map(external.map((f) => [f.path, f.abs]));
    await copyCompanions([...byPath.keys()], (name) => byPath.get(name) as string, dirname(output));
  }
  // Replacing a file must survive a crash (fsync before the rename); a new file need not, as with cp.
  const replacing = await stat(output).then(
    () => true,
    () => false,
  );
  const r = await embedOnnxFile(input, output, meta(gathered, task?.task, features), {
    clock,
    durable: replacing,
    ...(options.set ? { set: options.set } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return result(input, output, r.props, gathered.sources, taskOf(r.props, task));
}

/** The task actually written (--set hf_pipeline_task may override --task), with its reason. */
function taskOf(props: Record<string, string>, detected: EmbedMetadataResult['task']): EmbedMetadataResult['task'] {
  const written = props.hf_pipeline_task;
  if (written === undefined) return detected;
  return detected?.task === written ? detected : { task: written, reason: '--set hf_pipeline_task' };
}

/**
 * A registered model's external data files, by location. register confined them already; they are checked again
 * because --out copies them by the file's own locations, which must never lead outside --out's folder.
 */
function registeredExternal(m: Manifest, primaryPath: string, summary: OnnxSummary) {
  const where = `${m.name}:${m.version}`;
  const byPath = new Map(m.files.map((f) => [f.path, f]));
  const base = dirname(primaryPath);
  const companions = new Map<string, Manifest['files'][number]>();
  for (const location of summary.externalData) {
    const rel = safeExternalPath(location, where);
    const file = byPath.get(base === '.' ? rel : `${base}/${rel}`);
    if (!file) {
      throw new ModelctlError('INTEGRITY', `${where} stores tensors in ${rel}, which is not one of its files`, {
        hint: 'run `modelctl validate` and register the model again',
      });
    }
    companions.set(rel, file);
  }
  return { external: [...companions.keys()], companions };
}

function gone(parent: Manifest): ModelctlError {
  return new ModelctlError('NOT_FOUND', `${parent.name}:${parent.version} was removed while embed-metadata was reading it`, {
    hint: 'nothing was changed; run the command again',
  });
}

async function embedRegistry(
  options: EmbedMetadataOptions,
  registry: Registry,
  ref: Extract<ModelRef, { kind: 'registry' }>,
  clock: () => Date,
): Promise<EmbedMetadataResult> {
  const parent = await registry.resolve(ref);
  const wasLatest = (await registry.resolve({ kind: 'registry', name: parent.name })).version === parent.version;
  const primary = primaryOnnx(parent);
  await registry.verify(parent, { force: options.verify === true, ...(options.signal ? { signal: options.signal } : {}) });
  const layout = registry.store.layout;
  const blob = layout.blob(primary.sha256);
  const out = options.out ? resolve(expandHome(options.out)) : undefined;
  if (out) await guardHome(registry, out, '--out');
  const summary = await readOnnxSummary(blob).catch((err: unknown) => {
    throw (err as ModelctlError).code === 'PATH_NOT_FOUND' ? gone(parent) : err;
  });
  const { external, companions } = registeredExternal(parent, primary.path, summary);
  const read = versionReader(registry.store.layout, parent, (err) => (isEnoent(err) ? gone(parent) : err));
  const { gathered, task, features } = await collect(options, { read, where: `${parent.name}:${parent.version}` }, summary);
  await mkdir(layout.tmpDir, { recursive: true });
  const tmp = join(layout.tmpDir, tempName('embed'));
  try {
    const r = await embedOnnxFile(blob, tmp, meta(gathered, task?.task, features), {
      clock,
      ...(options.set ? { set: options.set } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const { sha256, size } = await hashFile(tmp, options.signal).catch((err: unknown) => {
      if (!isEnoent(err)) throw err;
      throw new ModelctlError('INTEGRITY', 'a temporary file of this embed-metadata was removed before it could be stored', {
        hint: 'was `modelctl gc --grace` run with a short grace? run the command again',
      });
    });
    // --out is written before the commit, so a bad --out fails the command before any version exists.
    if (out) await placeOut(tmp, out, external, (name) => layout.blob((companions.get(name) as { sha256: string }).sha256));
    const after = await readOnnxMetadata(tmp);
    const written = taskOf(r.props, task);
    const committed = await commitVersion(
      registry.store,
      {
        name: parent.name,
        ...(options.version !== undefined ? { version: options.version } : {}),
        format: 'onnx',
        task: written?.task ?? parent.task,
        files: parent.files.map((f) => (f.path === primary.path ? { path: f.path, file: { sha256, size, tmpPath: tmp } } : f)),
        metadata: { ...parent.metadata, metadataProps: after.metadataProps, ...(written ? { taskReason: written.reason } : {}) },
        tags: parent.tags,
        metrics: parent.metrics,
        ...(parent.description !== undefined ? { description: parent.description } : {}),
        ...(parent.license !== undefined ? { license: parent.license } : {}),
        lineage: {
          operation: 'embed-metadata',
          parent: `${parent.name}:${parent.version}`,
          source: { kind: 'registry', file: primary.path, sha256: primary.sha256, keys: Object.keys(r.props) },
        },
        aliases: [],
        // latest stays where it was unless this derives from the latest version.
        latest: wasLatest,
      },
      { clock, lock: { purpose: `embed-metadata ${parent.name}` }, ...(options.signal ? { signal: options.signal } : {}) },
    );
    return {
      ...result(blob, out, r.props, gathered.sources, written),
      manifest: committed.manifest,
      parent: `${parent.name}:${parent.version}`,
    };
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

/**
 * Embeds schema 2.0 metadata into an ONNX model. A file is rewritten (or written to --out) with its graph bytes
 * untouched; a registry model gets a new version whose ONNX file is the rewritten one and whose other files are the
 * same blobs, with lineage naming the version it came from. Blobs are never modified.
 */
export async function embedMetadata(options: EmbedMetadataOptions): Promise<EmbedMetadataResult> {
  const ref = await modelArg(options.model);
  const clock = options.clock ?? (() => new Date());
  if (ref.kind === 'path') return embedPath(options, ref.path, clock);
  if (ref.kind !== 'registry' || !options.registry) {
    throw new ModelctlError('INVALID_REFERENCE', `${options.model} is neither an ONNX file nor a registry model`, {
      hint: 'give a path (./model.onnx) or name[:version]',
    });
  }
  return embedRegistry(options, options.registry, ref, clock);
}

function meta(g: Gathered, task: string | undefined, features: Record<string, unknown> | undefined) {
  return {
    ...(task ? { task } : {}),
    ...(g.modelConfig !== undefined ? { modelConfig: g.modelConfig } : {}),
    ...(g.processorConfig ? { processorConfig: g.processorConfig } : {}),
    ...(features ? { featureConfig: features } : {}),
  };
}

function result(
  input: string,
  output: string | undefined,
  props: Record<string, string>,
  sources: string[],
  task: EmbedMetadataResult['task'],
): EmbedMetadataResult {
  const written = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, Buffer.byteLength(v)]));
  return {
    input,
    ...(output ? { output } : {}),
    ...(task ? { task } : {}),
    written,
    totalBytes: Object.values(written).reduce((a, b) => a + b, 0),
    sources,
  };
}
