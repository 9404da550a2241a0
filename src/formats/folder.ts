import { join, posix } from 'node:path';
import { ModelctlError } from '../errors.js';
import { sniff } from './detect.js';
import { inspectFile, unknownFormat } from './file.js';
import { listFolder } from './folder-walk.js';
import { readHead, throwIfAborted } from './io.js';
import { onnxMetadata, readOnnxFacts } from './onnx.js';
import { readSavedModel } from './savedmodel.js';
import { detectTaskFromConfig, detectTaskFromFolderFiles } from './task.js';
import { TableError, readVariablesIndex } from './tf-variables.js';
import { hfConfigFacts, hfSideFiles, inspectTransformers, readJsonFile, readJsonValue, transformerModulePath } from './transformers.js';
import type { InspectedFile, Inspection } from './types.js';

/**
 * A model given as a folder. In order: a TensorFlow SavedModel (saved_model.pb at the root); an ONNX export (any
 * .onnx file, with Hugging Face facts when config.json is there); a Hugging Face transformers folder (config.json
 * plus weights); else a folder holding exactly one recognisable model file, which is inspected as that file.
 */

const MAX_SNIFFED = 1000;

function byPath(a: InspectedFile, b: InspectedFile): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

function mergeFiles(...lists: InspectedFile[][]): InspectedFile[] {
  const merged = new Map<string, InspectedFile>();
  for (const list of lists) for (const f of list) if (!merged.has(f.path)) merged.set(f.path, f);
  return [...merged.values()].sort(byPath);
}

function inspectSavedModel(root: string, display: string, files: InspectedFile[], warnings: string[]): Inspection {
  const summary = readSavedModel(join(root, 'saved_model.pb'), `${display}/saved_model.pb`);
  const [first] = summary.metaGraphs;
  let variables;
  if (files.some((f) => f.path === 'variables/variables.index')) {
    try {
      variables = readVariablesIndex(join(root, 'variables', 'variables.index'));
    } catch (err) {
      if (!(err instanceof TableError)) throw err;
      warnings.push(`${display}/variables/variables.index could not be read (${err.message}); the parameter count is unknown`);
    }
  }
  const signatures = Object.fromEntries(Object.entries(first?.signatures ?? {}).filter(([name]) => !name.startsWith('__')));
  return {
    format: 'tf-savedmodel',
    files,
    primary: 'saved_model.pb',
    metadata: {
      schemaVersion: summary.schemaVersion,
      metaGraphs: summary.metaGraphs.length,
      tags: first?.tags ?? [],
      ...(summary.metaGraphs.length > 1 ? { metaGraphTags: summary.metaGraphs.map((m) => m.tags) } : {}),
      ...(first?.tensorflowVersion ? { tensorflowVersion: first.tensorflowVersion } : {}),
      ...(first?.tensorflowGitVersion ? { tensorflowGitVersion: first.tensorflowGitVersion } : {}),
      signatureNames: Object.keys(first?.signatures ?? {}).sort(),
      signatures,
      ...(variables ? { variables: variables.variables, variableNames: variables.names } : {}),
      ...(variables?.duplicates ? { duplicateVariables: variables.duplicates } : {}),
    },
    ...(variables ? { parameters: variables.parameters, dtypes: variables.dtypes } : {}),
    pickle: false,
    warnings,
  };
}

/**
 * An encoder-decoder model as optimum writes it (encoder_model.onnx beside decoder_model_merged.onnx, or beside
 * decoder_model.onnx and decoder_with_past_model.onnx), in one folder: its files by role, the encoder first.
 */
export function onnxParts(onnx: readonly InspectedFile[]): Record<string, string> | undefined {
  for (const dir of ['', 'onnx/']) {
    const has = (name: string) => onnx.some((f) => f.path === dir + name);
    if (!has('encoder_model.onnx')) continue;
    if (has('decoder_model_merged.onnx')) return { encoder: `${dir}encoder_model.onnx`, decoder: `${dir}decoder_model_merged.onnx` };
    if (has('decoder_model.onnx'))
      return {
        encoder: `${dir}encoder_model.onnx`,
        decoder: `${dir}decoder_model.onnx`,
        ...(has('decoder_with_past_model.onnx') ? { decoder_with_past: `${dir}decoder_with_past_model.onnx` } : {}),
      };
  }
  return undefined;
}

/** model.onnx, else onnx/model.onnx, else an encoder-decoder's encoder, else the only .onnx, else the largest (and say so). */
function primaryOnnx(onnx: InspectedFile[], warnings: string[]): InspectedFile {
  const encoder = onnxParts(onnx)?.encoder;
  const named =
    onnx.find((f) => f.path === 'model.onnx') ?? onnx.find((f) => f.path === 'onnx/model.onnx') ?? onnx.find((f) => f.path === encoder);
  if (named) return named;
  const largest = [...onnx].sort((a, b) => b.size - a.size || byPath(a, b))[0] as InspectedFile;
  if (onnx.length > 1) {
    warnings.push(
      `several ONNX files (${onnx.map((f) => f.path).join(', ')}) and none named model.onnx; using the largest, ${largest.path}`,
    );
  }
  return largest;
}

async function inspectOnnxFolder(root: string, display: string, files: InspectedFile[], warnings: string[]): Promise<Inspection> {
  const onnx = files.filter((f) => f.path.toLowerCase().endsWith('.onnx'));
  const primary = primaryOnnx(onnx, warnings);
  const parts = onnxParts(onnx);
  const relDir = posix.dirname(primary.path) === '.' ? '' : posix.dirname(primary.path);
  const facts = await readOnnxFacts(primary.abs, `${display}/${primary.path}`, relDir);
  let config: Record<string, unknown> | undefined;
  if (files.some((f) => f.path === 'config.json')) {
    try {
      config = readJsonFile(join(root, 'config.json'), `${display}/config.json`);
    } catch (err) {
      if (!(err instanceof ModelctlError)) throw err;
      warnings.push(`${err.message}; Hugging Face facts left out`);
    }
  }
  const paths = files.map((f) => f.path);
  const task = facts.task ?? detectTaskFromFolderFiles(paths) ?? (config ? detectTaskFromConfig(config) : undefined);
  return {
    format: 'onnx',
    files: mergeFiles(files, facts.external),
    primary: primary.path,
    metadata: {
      ...onnxMetadata(facts.summary),
      ...(onnx.length > 1 ? { onnxFiles: onnx.map((f) => f.path) } : {}),
      ...(parts && primary.path === parts.encoder ? { onnxParts: parts } : {}),
      ...(config ? { huggingface: { ...hfConfigFacts(config), ...hfSideFiles(paths) } } : {}),
    },
    parameters: facts.summary.parameterCount,
    ...(Object.keys(facts.summary.parameterDtypes).length > 0 ? { dtypes: facts.summary.parameterDtypes } : {}),
    ...(task ? { task: task.task, taskReason: task.reason } : {}),
    pickle: false,
    warnings,
  };
}

/**
 * A sentence-transformers folder whose transformer lives in a module folder (modules.json's `0_Transformer/`, as
 * older versions saved them): the transformers inspection of that folder, with the whole folder's files.
 */
function inspectSentenceTransformersModule(
  root: string,
  display: string,
  files: InspectedFile[],
  signal?: AbortSignal,
): Inspection | undefined {
  const sub = transformerModulePath(readJsonValue(join(root, 'modules.json'), `${display}/modules.json`));
  if (!sub || !files.some((f) => f.path === `${sub}/config.json`)) return undefined;
  const prefix = `${sub}/`;
  const inner = files.filter((f) => f.path.startsWith(prefix)).map((f) => ({ ...f, path: f.path.slice(prefix.length) }));
  const config = readJsonFile(join(root, sub, 'config.json'), `${display}/${sub}/config.json`);
  const hf = inspectTransformers(join(root, sub), inner, config, signal);
  if (!hf) return undefined;
  const weights = hf.metadata.weights as { format: string; files: string[] };
  return {
    ...hf,
    files,
    ...(hf.primary ? { primary: prefix + hf.primary } : {}),
    metadata: {
      ...hf.metadata,
      sentenceTransformers: true,
      transformerPath: sub,
      weights: { ...weights, files: weights.files.map((f) => prefix + f) },
    },
  };
}

/** Files whose content (and, for weak signatures, name) marks them as a model. */
function modelCandidates(files: InspectedFile[]): InspectedFile[] {
  return files.slice(0, MAX_SNIFFED).filter((f) => {
    if (f.size === 0) return false;
    const name = posix.basename(f.path);
    const found = sniff(readHead(f.abs, 4096), name, f.size);
    switch (found?.kind) {
      case undefined:
        return false;
      case 'zip':
        return /\.(pt|pth|bin|ckpt|keras)$/i.test(name);
      case 'hdf5':
        return /\.(h5|hdf5|keras)$/i.test(name);
      case 'onnx':
        return /\.onnx$/i.test(name);
      default:
        return true;
    }
  });
}

export async function inspectFolder(root: string, display: string, signal?: AbortSignal): Promise<Inspection> {
  const { files, skipped } = await listFolder(root, signal);
  const warnings = [...skipped];
  if (files.length === 0) {
    throw new ModelctlError('INVALID_INPUT', `${display} is an empty folder`, { hint: 'point at the folder that holds the model files' });
  }
  const paths = new Set(files.map((f) => f.path));
  if (paths.has('saved_model.pb')) return inspectSavedModel(root, display, files, warnings);
  if (files.some((f) => f.path.toLowerCase().endsWith('.onnx'))) return inspectOnnxFolder(root, display, files, warnings);
  if (paths.has('config.json')) {
    const config = readJsonFile(join(root, 'config.json'), `${display}/config.json`);
    const hf = inspectTransformers(root, files, config, signal);
    if (hf) return { ...hf, warnings: [...warnings, ...hf.warnings] };
  } else if (paths.has('modules.json')) {
    const hf = inspectSentenceTransformersModule(root, display, files, signal);
    if (hf) return { ...hf, warnings: [...warnings, ...hf.warnings] };
  }
  throwIfAborted(signal);
  const candidates = modelCandidates(files);
  if (candidates.length === 1) {
    const only = candidates[0] as InspectedFile;
    const inner = await inspectFile(only.abs, posix.basename(only.path), only.size, `${display}/${only.path}`, signal);
    const dir = posix.dirname(only.path);
    const relocated = inner.files.map((f) => ({ ...f, path: dir === '.' ? f.path : `${dir}/${f.path}` }));
    return { ...inner, files: mergeFiles(files, relocated), primary: only.path, warnings: [...warnings, ...inner.warnings] };
  }
  if (candidates.length > 1) {
    const names = candidates
      .slice(0, 6)
      .map((f) => f.path)
      .join(', ');
    throw unknownFormat(display, `a folder with several model files (${names}); register one of them, or a folder with one`);
  }
  if (paths.has('config.json'))
    throw unknownFormat(display, 'has config.json but no weights (model.safetensors, pytorch_model.bin, tf_model.h5)');
  throw unknownFormat(display, `no model file found among its ${files.length} files`);
}
