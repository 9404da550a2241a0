import { copyFile, mkdir, readFile, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ModelctlError, fsError } from '../errors.js';
import { embedOnnxFile } from '../onnx/embed.js';
import { readOnnxSummary, type OnnxSummary } from '../onnx/summary.js';
import { hashFile } from '../registry/blobs.js';
import { commitVersion } from '../registry/commit.js';
import { tempName } from '../registry/fsutil.js';
import type { Registry } from '../registry/index.js';
import type { Manifest } from '../registry/manifest.js';
import { parseRef } from '../registry/names.js';
import { chooseTask, featureConfig, folderReader, gatherFrom, gatherProcessor, readJsonArg, type FileReader, type Gathered } from './gather.js';

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

function registryReader(registry: Registry, m: Manifest): FileReader {
  const byPath = new Map(m.files.map((f) => [f.path, f]));
  const base = m.metadata.primary && typeof m.metadata.primary === 'string' ? dirname(m.metadata.primary) : '.';
  return async (name) => {
    const f = byPath.get(base === '.' ? name : `${base}/${name}`) ?? byPath.get(name);
    return f ? readFile(registry.store.layout.blob(f.sha256)) : undefined;
  };
}

function primaryOnnx(m: Manifest): Manifest['files'][number] {
  const primary = typeof m.metadata.primary === 'string' ? m.metadata.primary : undefined;
  const f = m.files.find((x) => x.path === primary) ?? (m.files.filter((x) => x.path.endsWith('.onnx')).length === 1 ? m.files.find((x) => x.path.endsWith('.onnx')) : undefined);
  if (m.format !== 'onnx' || !f) {
    throw new ModelctlError('INVALID_INPUT', `${m.name}:${m.version} is a ${m.format} model, not ONNX`, {
      hint: `convert it first: \`modelctl export ${m.name}:${m.version}\``,
    });
  }
  return f;
}

async function collect(options: EmbedMetadataOptions, fallback: { read: FileReader; where: string } | undefined, summary: OnnxSummary) {
  const gathered: Gathered = options.fromDir
    ? await gatherFrom(folderReader(resolve(options.fromDir)), options.fromDir)
    : fallback
      ? await gatherFrom(fallback.read, fallback.where)
      : { sources: [], sentenceTransformers: false };
  if (options.config) {
    gathered.modelConfig = await readJsonArg(options.config, '--config');
    gathered.sources.push(options.config);
  }
  if (options.processor) {
    gathered.processorConfig = { ...gathered.processorConfig, ...(await gatherProcessor(options.processor)) };
    gathered.sources.push(options.processor);
  }
  const task = chooseTask(options.task, gathered, summary);
  const tabular = task?.task.startsWith('tabular-') ?? false;
  const features = tabular || options.features ? featureConfig(summary, options.features) : undefined;
  return { gathered, task, features };
}

/**
 * Embeds schema 2.0 metadata into an ONNX model. A file is rewritten (or written to --out) with its graph bytes
 * untouched; a registry model gets a new version whose ONNX file is the rewritten one and whose other files are the
 * same blobs, with lineage naming the version it came from. Blobs are never modified.
 */
export async function embedMetadata(options: EmbedMetadataOptions): Promise<EmbedMetadataResult> {
  let ref = parseRef(options.model);
  // `model.onnx` reads as a registry name; an existing file of that name is what the user meant.
  if (ref.kind === 'registry' && !ref.version && !ref.alias && (await stat(options.model).then((s) => s.isFile(), () => false))) {
    ref = { kind: 'path', path: options.model };
  }
  const clock = options.clock ?? (() => new Date());
  const signal = options.signal ? { signal: options.signal } : {};
  if (ref.kind === 'path') {
    const input = resolve(ref.path.replace(/^~(?=$|\/)/, process.env.HOME ?? '~'));
    await stat(input).catch((err: unknown) => {
      throw fsError(err, ref.path);
    });
    const summary = await readOnnxSummary(input);
    const dir = dirname(input);
    const { gathered, task, features } = await collect(options, { read: folderReader(dir), where: dir }, summary);
    const output = resolve(options.out ?? input);
    await mkdir(dirname(output), { recursive: true });
    // Replacing a file must survive a crash (fsync before the rename); a new file need not, as with cp.
    const replacing = await stat(output).then(() => true, () => false);
    const r = await embedOnnxFile(input, output, meta(gathered, task?.task, features), { clock, durable: replacing, ...(options.set ? { set: options.set } : {}), ...signal });
    return result(input, output, r.props, gathered.sources, task);
  }
  if (ref.kind !== 'registry' || !options.registry) {
    throw new ModelctlError('INVALID_REFERENCE', `${options.model} is neither an ONNX file nor a registry model`, { hint: 'give a path (./model.onnx) or name[:version]' });
  }
  const registry = options.registry;
  const parent = await registry.resolve(ref);
  const primary = primaryOnnx(parent);
  const blob = registry.store.layout.blob(primary.sha256);
  const summary = await readOnnxSummary(blob);
  const { gathered, task, features } = await collect(options, { read: registryReader(registry, parent), where: `${parent.name}:${parent.version}` }, summary);
  await mkdir(registry.store.layout.tmpDir, { recursive: true });
  const tmp = join(registry.store.layout.tmpDir, tempName('embed'));
  try {
    const r = await embedOnnxFile(blob, tmp, meta(gathered, task?.task, features), { clock, ...(options.set ? { set: options.set } : {}), ...signal });
    const { sha256, size } = await hashFile(tmp, options.signal);
    const after = await readOnnxSummary(tmp);
    const committed = await commitVersion(
      registry.store,
      {
        name: parent.name,
        ...(options.version !== undefined ? { version: options.version } : {}),
        format: 'onnx',
        task: task?.task ?? parent.task,
        files: parent.files.map((f) => (f.path === primary.path ? { path: f.path, file: { sha256, size, tmpPath: tmp } } : f)),
        metadata: { ...parent.metadata, metadataProps: after.metadataProps, ...(task ? { taskReason: task.reason } : {}) },
        tags: parent.tags,
        metrics: parent.metrics,
        ...(parent.description !== undefined ? { description: parent.description } : {}),
        ...(parent.license !== undefined ? { license: parent.license } : {}),
        lineage: { operation: 'embed-metadata', parent: `${parent.name}:${parent.version}`, source: { kind: 'registry', file: primary.path, sha256: primary.sha256, keys: Object.keys(r.props) } },
        aliases: [],
        latest: true,
      },
      { clock, lock: { purpose: `embed-metadata ${parent.name}` }, ...signal },
    );
    let output: string | undefined;
    if (options.out) {
      output = resolve(options.out);
      await mkdir(dirname(output), { recursive: true });
      await copyFile(registry.store.layout.blob(sha256), output);
    }
    return { ...result(blob, output, r.props, gathered.sources, task), manifest: committed.manifest, parent: `${parent.name}:${parent.version}` };
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

function meta(g: Gathered, task: string | undefined, features: Record<string, unknown> | undefined) {
  return {
    ...(task ? { task } : {}),
    ...(g.modelConfig !== undefined ? { modelConfig: g.modelConfig } : {}),
    ...(g.processorConfig ? { processorConfig: g.processorConfig } : {}),
    ...(features ? { featureConfig: features } : {}),
  };
}

function result(input: string, output: string | undefined, props: Record<string, string>, sources: string[], task: EmbedMetadataResult['task']): EmbedMetadataResult {
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
