import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ModelctlError, fsError } from '../errors.js';
import { transformerModulePath } from '../formats/transformers.js';
import { detectTaskFromConfig, detectTaskFromFolderFiles, detectTaskFromOnnx, type DetectedTask } from '../formats/task.js';
import type { OnnxSummary } from '../onnx/summary.js';
import { folderReader, type FileReader } from '../registry/companion-files.js';
import { SENTENCE_TRANSFORMERS_FILES } from '../tasks/sentence-transformers.js';

/**
 * Collects what embed-metadata writes into an ONNX file, from the places a user keeps it: an HF folder
 * (config.json and the processor files beside it), explicit files, or a registered version's files.
 */

/** The files a runtime needs to turn raw input into tensors, in the names transformers writes them under. */
export const PROCESSOR_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'preprocessor_config.json',
  'processor_config.json',
  'feature_extractor_config.json',
  // text-generation: end tokens and sampling defaults (the chat template travels in tokenizer_config.json).
  'generation_config.json',
] as const;

/** Marker files of a sentence-transformers folder: the model is an embedder whatever its architecture. */
export const SENTENCE_TRANSFORMERS_MARKERS = ['modules.json', 'sentence_bert_config.json'] as const;

/** The module configs modules.json points at (1_Pooling/config.json, ...), by their paths in the folder. */
function moduleConfigPaths(modules: unknown, transformer: string | undefined): string[] {
  if (!Array.isArray(modules)) return [];
  const paths: string[] = [];
  for (const m of modules) {
    const path = (m as { path?: unknown } | null)?.path;
    if (typeof path !== 'string') continue;
    const clean = path.replace(/\\/g, '/').replace(/\/+$/, '');
    // The transformer sits at the root (its config.json is the model's); a path leaving the folder is not read.
    if (clean === '' || clean === transformer || clean.startsWith('/') || clean.split('/').includes('..')) continue;
    paths.push(`${clean}/config.json`);
  }
  return paths;
}

async function parseJsonFile(read: FileReader, name: string, where: string): Promise<unknown> {
  const bytes = await read(name);
  if (bytes === undefined) return undefined;
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ModelctlError('INVALID_INPUT', `${where}/${name} is not valid JSON`, { hint: 'fix or remove the file' });
  }
}

export interface Gathered {
  modelConfig?: unknown;
  processorConfig?: Record<string, unknown>;
  /** Which files were found where, for the user. */
  sources: string[];
  sentenceTransformers: boolean;
}

/** config.json and the processor files a folder (or a registered version) holds. */
export async function gatherFrom(read: FileReader, where: string, options: { skipConfig?: boolean } = {}): Promise<Gathered> {
  const out: Gathered = { sources: [], sentenceTransformers: false };
  const modules = await parseJsonFile(read, 'modules.json', where);
  // A sentence-transformers folder may keep its transformer (config, tokenizer, sentence_bert_config.json) in a
  // module folder such as 0_Transformer/: what the root lacks is read from there, under its plain name.
  const sub = transformerModulePath(modules);
  const take = async (name: string, as = name): Promise<void> => {
    let path = name;
    let value = await parseJsonFile(read, name, where);
    if (value === undefined && sub) {
      path = `${sub}/${name}`;
      value = await parseJsonFile(read, path, where);
    }
    if (value === undefined) return;
    if (as === 'config.json') out.modelConfig = value;
    else (out.processorConfig ??= {})[as] = value;
    out.sources.push(`${where}/${path}`);
  };
  if (!options.skipConfig) await take('config.json');
  for (const name of PROCESSOR_FILES) await take(name);
  // What sentence-transformers reads to pool, normalise and truncate (src/tasks/sentence-transformers.ts), kept under
  // the same paths so that predict follows it from the ONNX file alone.
  if (modules !== undefined) {
    (out.processorConfig ??= {})['modules.json'] = modules;
    out.sources.push(`${where}/modules.json`);
  }
  for (const name of SENTENCE_TRANSFORMERS_FILES) if (name !== 'modules.json') await take(name);
  for (const name of moduleConfigPaths(modules, sub)) {
    const value = await parseJsonFile(read, name, where);
    if (value === undefined) continue;
    (out.processorConfig ??= {})[name] = value;
    out.sources.push(`${where}/${name}`);
  }
  out.sentenceTransformers = modules !== undefined || 'sentence_bert_config.json' in (out.processorConfig ?? {});
  return out;
}

/** --processor FILE|DIR: one JSON file under its own name, or the processor files of a folder. */
export async function gatherProcessor(path: string): Promise<Record<string, unknown>> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    throw fsError(err, path);
  }
  if (st.isDirectory()) {
    const found = (await gatherFrom(folderReader(path), path)).processorConfig;
    if (!found) {
      const names = await readdir(path);
      throw new ModelctlError('INVALID_INPUT', `${path} holds none of ${PROCESSOR_FILES.join(', ')}`, {
        hint: names.length ? `it holds: ${names.slice(0, 8).join(', ')}` : 'the folder is empty',
      });
    }
    return found;
  }
  const value = await parseJsonFile(folderReader(join(path, '..')), basename(path), '.');
  return { [basename(path)]: value };
}

export async function readJsonArg(path: string, flag: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw fsError(err, path);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ModelctlError('INVALID_INPUT', `${flag} ${path} is not valid JSON`);
  }
}

/** --task wins; then config.json's architectures; then a sentence-transformers folder; then the ONNX graph itself. */
export function taskToEmbed(explicit: string | undefined, gathered: Gathered, summary: OnnxSummary): DetectedTask | undefined {
  if (explicit) return { task: explicit, reason: '--task' };
  if (gathered.sentenceTransformers) return detectTaskFromFolderFiles([...SENTENCE_TRANSFORMERS_MARKERS]);
  return detectTaskFromConfig(gathered.modelConfig) ?? detectTaskFromOnnx(summary);
}

/** Feature names and order for tabular models: what predict needs to turn rows into the input tensor. */
export function featureConfig(summary: OnnxSummary, names: string[] | undefined): Record<string, unknown> | undefined {
  const input = summary.inputs[0];
  if (!input) return undefined;
  const width = input.shape?.at(-1);
  const nFeatures = typeof width === 'number' && width > 0 ? width : summary.inputs.length > 1 ? summary.inputs.length : undefined;
  if (names && nFeatures !== undefined && names.length !== nFeatures) {
    throw new ModelctlError('INVALID_INPUT', `${names.length} feature names given, but the model takes ${nFeatures} features`);
  }
  const perInput = summary.inputs.length > 1;
  return {
    input_names: summary.inputs.map((i) => i.name),
    ...(nFeatures !== undefined ? { n_features: nFeatures } : {}),
    ...(names ? { feature_names: names } : perInput ? { feature_names: summary.inputs.map((i) => i.name) } : {}),
    dtype: input.dtype ?? 'float32',
  };
}
