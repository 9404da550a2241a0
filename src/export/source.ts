import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { FORMAT_FRAMEWORK, FRAMEWORKS, type Framework } from '../convert/families.js';
import { ModelctlError, fsError } from '../errors.js';
import { inspectModel } from '../formats/index.js';
import type { Inspection } from '../formats/types.js';
import { hashFile } from '../registry/blobs.js';
import type { Registry } from '../registry/index.js';
import type { Manifest } from '../registry/manifest.js';
import { expandHome } from '../util/paths.js';
import { modelArg } from '../registry/model-arg.js';

/** What export converts: where it is on disk, what it is, and how lineage names it. */
export interface ExportSource {
  /** The file or folder the converter loads. */
  path: string;
  inspection: Inspection;
  framework: Framework;
  /** For lineage: a registry reference with its manifest digest, or a path with the sha256 of its content. */
  lineage: Record<string, unknown>;
  manifest?: Manifest;
  /** A default name for the exported model. */
  defaultName?: string;
}

/** Where the converter should look: the folder for folder formats, else the model's own file. */
function loadPath(root: string, inspection: Inspection, isDir: boolean): string {
  if (!isDir) return root;
  if (inspection.format === 'transformers' || inspection.format === 'tf-savedmodel') return root;
  return inspection.primary ? join(root, inspection.primary) : root;
}

/** The framework the content says it is; pickles are told apart by the classes they reference. */
export function sourceFramework(inspection: Inspection): Framework {
  const m = inspection.metadata;
  const known = Object.hasOwn(FORMAT_FRAMEWORK, inspection.format) ? FORMAT_FRAMEWORK[inspection.format] : undefined;
  if (known === 'pickle') {
    const text = JSON.stringify([m.topClass, m.framework, m.globals, m.classes]).toLowerCase();
    if (text.includes('xgboost')) return 'xgboost';
    if (text.includes('lightgbm')) return 'lightgbm';
    return 'sklearn';
  }
  if (known) return known;
  if (inspection.format === 'onnx') {
    throw new ModelctlError('INVALID_INPUT', 'the model is already ONNX: there is nothing to export', {
      hint: 'register it (`modelctl register`), or add metadata with `modelctl embed-metadata`',
    });
  }
  throw new ModelctlError('UNKNOWN_FORMAT', `cannot tell which framework made this ${inspection.format} model`, {
    hint: `pass --framework (${FRAMEWORKS.join(', ')})`,
  });
}

/** sha256 over each file's path and sha256, in order: a folder's content digest. */
async function contentDigest(inspection: Inspection, signal?: AbortSignal): Promise<string> {
  if (inspection.files.length === 1) return (await hashFile((inspection.files[0] as Inspection['files'][number]).abs, signal)).sha256;
  const h = createHash('sha256');
  for (const f of inspection.files) h.update(`${f.path}\0${(await hashFile(f.abs, signal)).sha256}\n`);
  return h.digest('hex');
}

function nameFromPath(path: string): string | undefined {
  const base = basename(path.replace(/[/\\]+$/, ''), extname(path))
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[-._]+|[-._]+$/g, '');
  return base && base !== 'model' ? base : undefined;
}

export async function resolveSource(
  text: string,
  registry: Registry,
  framework: Framework | 'auto',
  signal?: AbortSignal,
  verify = false,
): Promise<ExportSource> {
  const ref = await modelArg(text);
  if (ref.kind === 'registry') {
    const manifest = await registry.resolve(ref);
    await registry.verify(manifest, { force: verify, ...(signal ? { signal } : {}) });
    const root = await registry.materialize(manifest);
    const inspection = await inspectModel(root, signal ? { signal } : {});
    const isDir = true;
    return {
      path: loadPath(root, inspection, isDir),
      inspection,
      framework: framework === 'auto' ? sourceFramework(inspection) : framework,
      lineage: { kind: 'registry', ref: `${manifest.name}:${manifest.version}`, digest: manifest.digest, format: manifest.format },
      manifest,
      defaultName: manifest.name,
    };
  }
  if (ref.kind !== 'path') {
    throw new ModelctlError('INVALID_REFERENCE', `${text} is neither a path nor a registry model`, {
      hint: 'give a path (./model.joblib) or name[:version]; `modelctl pull` fetches Hub models first',
    });
  }
  const abs = resolve(expandHome(ref.path));
  const st = await stat(abs).catch((err: unknown) => {
    throw fsError(err, ref.path);
  });
  const inspection = await inspectModel(abs, signal ? { signal } : {});
  const fw = framework === 'auto' ? sourceFramework(inspection) : framework;
  const source: ExportSource = {
    path: loadPath(abs, inspection, st.isDirectory()),
    inspection,
    framework: fw,
    lineage: { kind: 'path', path: abs, sha256: await contentDigest(inspection, signal), format: inspection.format },
  };
  const name = nameFromPath(abs) ?? nameFromPath(resolve(abs, '..'));
  if (name) source.defaultName = name;
  return source;
}
