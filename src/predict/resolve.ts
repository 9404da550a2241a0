import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ModelctlError, fsError } from '../errors.js';
import { refuseNonOnnx } from '../formats/not-onnx.js';
import { detectTaskFromOnnx } from '../formats/task.js';
import { decodeHfMetadata } from '../onnx/metadata.js';
import { readOnnxSummary, type OnnxValueInfo } from '../onnx/summary.js';
import { companions } from '../registry/companion-files.js';
import type { Registry } from '../registry/index.js';
import { modelArg } from '../registry/model-arg.js';
import { detectTaskBeside } from './text.js';
import type { AutoConvert, ResolvedModel } from './types.js';
import { convertedVersion } from './auto-convert.js';
import { expandHome } from '../util/paths.js';

/**
 * Which model and which task: a path or a registry reference made into a file ONNX Runtime can open (its blobs
 * checked first), the task chosen from the flags, the embedded metadata, the registry or the files beside it, and a
 * ZipMap classifier's probabilities exposed as tensors.
 */

/**
 * A path, or a registry reference whose ONNX file (and companions) is made available by path, every file checked
 * first (registry/verify.ts; `verify` re-hashes them all).
 */
export async function resolveModel(
  model: string,
  registry?: Registry,
  options: { verify?: boolean; autoConvert?: AutoConvert } = {},
): Promise<ResolvedModel> {
  const ref = await modelArg(model);
  if (ref.kind === 'path') {
    const path = resolve(expandHome(ref.path));
    const st = await stat(path).catch((err: unknown) => {
      throw fsError(err, model);
    });
    if (!st.isFile()) throw new ModelctlError('INVALID_INPUT', `${model} is not a file`, { hint: 'give the .onnx file itself' });
    refuseNonOnnx(path, st.size, model, 'ONNX Runtime runs ONNX models');
    const summary = await readOnnxSummary(path);
    const embedded = decodeHfMetadata(summary.metadataProps);
    return { path, summary, ...(embedded ? { embedded } : {}) };
  }
  if (ref.kind !== 'registry' || !registry)
    throw new ModelctlError('INVALID_REFERENCE', `${model} is neither an ONNX file nor a registry model`);
  let manifest = await registry.resolve(ref);
  let converted: ResolvedModel['converted'];
  if (manifest.format !== 'onnx') {
    const from = `${manifest.name}:${manifest.version}`;
    const found = await convertedVersion(registry, manifest, options.autoConvert);
    manifest = found.manifest;
    converted = { from, to: `${manifest.name}:${manifest.version}`, reused: found.reused };
  }
  const primary =
    typeof manifest.metadata.primary === 'string' ? manifest.metadata.primary : manifest.files.find((f) => f.path.endsWith('.onnx'))?.path;
  const file = manifest.files.find((f) => f.path === primary);
  if (manifest.format !== 'onnx' || !file) {
    throw new ModelctlError('INVALID_INPUT', `${manifest.name}:${manifest.version} is a ${manifest.format} model; predict runs ONNX`, {
      hint: `convert it first: \`modelctl export ${manifest.name}:${manifest.version}\``,
    });
  }
  const verified = await registry.verify(manifest, { force: options.verify === true });
  const blob = registry.store.layout.blob(file.sha256);
  const summary = await readOnnxSummary(blob);
  const path = summary.externalData.length > 0 ? join(await registry.materialize(manifest), file.path) : blob;
  const embedded = decodeHfMetadata(summary.metadataProps);
  return { path, summary, manifest, verified, ...(embedded ? { embedded } : {}), ...(converted ? { converted } : {}) };
}

/** --task, else the embedded task, else the registered one, else the graph or the files beside it; "raw" when nothing says. */
export async function chooseTask(
  explicit: string | undefined,
  m: ResolvedModel,
  registry?: Registry,
): Promise<{ task: string; reason: string }> {
  if (explicit) return { task: explicit, reason: '--task' };
  if (m.embedded?.task) return { task: m.embedded.task, reason: 'embedded metadata' };
  if (m.manifest?.task) return { task: m.manifest.task, reason: 'registry' };
  const detected = detectTaskFromOnnx(m.summary) ?? (await detectTaskBeside(companions(m, registry?.store.layout)));
  if (detected) return detected;
  return { task: 'raw', reason: 'no task known: raw tensors' };
}

/** Models larger than this are not read into memory to expose a ZipMap's input: their labels still come back. */
const ZIPMAP_READ_LIMIT = 512 * 1024 * 1024;

/** A classifier ending in ZipMap: the model with the tensors the ZipMaps read declared as outputs, and their labels. */
export async function zipMapOutputs(
  m: ResolvedModel,
): Promise<{ bytes: Uint8Array; outputs: OnnxValueInfo[]; labels: Record<string, Array<string | number>> } | undefined> {
  if (!m.summary.outputs.some((o) => o.kind !== 'tensor') || m.summary.externalData.length > 0) return undefined;
  const st = await stat(m.path);
  if (st.size > ZIPMAP_READ_LIMIT) return undefined;
  const original = await readFile(m.path).catch((err: unknown) => {
    throw fsError(err, m.path);
  });
  const { findZipMaps, withFloatOutputs } = await import('../onnx/zipmap.js');
  const known = new Set(m.summary.outputs.map((o) => o.name));
  const zipmaps = findZipMaps(original).filter((z) => !known.has(z.input));
  if (zipmaps.length === 0) return undefined;
  return {
    bytes: withFloatOutputs(
      original,
      zipmaps.map((z) => z.input),
    ),
    outputs: zipmaps.map((z) => ({ name: z.input, kind: 'tensor', dtype: 'float32' })),
    labels: Object.fromEntries(zipmaps.map((z) => [z.input, z.labels])),
  };
}
