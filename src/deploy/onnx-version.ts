import { posix } from 'node:path';
import { ModelctlError } from '../errors.js';
import { readOnnxSummary, type OnnxSummary } from '../onnx/summary.js';
import { onnxPartPaths, primaryPath } from '../registry/companion-files.js';
import type { Registry } from '../registry/index.js';
import { isSafeRelativePath, type Manifest } from '../registry/manifest.js';
import { formatRef } from '../registry/names.js';

/**
 * What every deploy target starts from: a registry reference made into one ONNX version whose blobs were checked
 * (registry/verify.ts), its graph summary, and the files a runtime needs beside the model file (external data),
 * each named by where it goes relative to the model file and where its bytes live in the store.
 */

export interface DeployFile {
  /** Where the file goes, relative to the model file's folder ("weights.bin"); the model file itself is "". */
  relPath: string;
  /** The blob holding its bytes (read-only: always copied, never linked). */
  blob: string;
  sha256: string;
  size: number;
}

export interface OnnxVersion {
  manifest: Manifest;
  /** name:version */
  ref: string;
  summary: OnnxSummary;
  model: DeployFile;
  /** External data files, in the order the graph names them. */
  externalData: DeployFile[];
}

/** A version that is not ONNX: the same advice predict gives, naming the command that converts it. */
function notOnnx(m: Manifest, target: string): ModelctlError {
  const ref = formatRef(m.name, m.version);
  return new ModelctlError('INVALID_INPUT', `${ref} is a ${m.format} model; ${target} serves ONNX`, {
    hint: `convert it first: \`modelctl export ${ref}\`, then deploy the version it makes`,
  });
}

export async function resolveOnnxVersion(registry: Registry, refText: string, target: string, signal?: AbortSignal): Promise<OnnxVersion> {
  const manifest = await registry.resolve(refText);
  const ref = formatRef(manifest.name, manifest.version);
  const primary = primaryPath(manifest);
  const file = manifest.files.find((f) => f.path === primary);
  if (manifest.format !== 'onnx' || !file) throw notOnnx(manifest, target);
  if (onnxPartPaths(manifest)) {
    throw new ModelctlError(
      'NOT_AVAILABLE',
      `${ref} is an encoder-decoder exported as several ONNX files; ${target} takes one graph per model`,
      {
        hint: 'deploy a single-graph export of the model, or serve it with `modelctl serve`',
      },
    );
  }
  await registry.verify(manifest, { ...(signal ? { signal } : {}) });
  const blob = (sha256: string): string => registry.store.layout.blob(sha256);
  const summary = await readOnnxSummary(blob(file.sha256));
  const dir = posix.dirname(file.path);
  const externalData = summary.externalData.map((location): DeployFile => {
    const inVersion = posix.normalize(posix.join(dir, location));
    const found = manifest.files.find((f) => f.path === inVersion);
    if (!isSafeRelativePath(location) || !found) {
      throw new ModelctlError('CORRUPT_MODEL', `${ref}: ${file.path} names external data "${location}" that the version does not hold`, {
        hint: 'register the model folder with its external data files beside the .onnx file',
      });
    }
    return { relPath: location, blob: blob(found.sha256), sha256: found.sha256, size: found.size };
  });
  return { manifest, ref, summary, model: { relPath: '', blob: blob(file.sha256), sha256: file.sha256, size: file.size }, externalData };
}
