import { join } from 'node:path';
import { ModelctlError } from '../errors.js';
import { addCount } from './context.js';
import { MB, corrupt, decodeUtf8, isRecord, readAt, readHead, throwIfAborted, tryParseJson, withSource } from './io.js';
import { safeExternalPath } from './onnx.js';
import { pytorchFileFacts } from './pytorch.js';
import { readSafetensorsHeader } from './safetensors.js';
import { detectTaskFromConfig, detectTaskFromFolderFiles } from './task.js';
import type { InspectedFile, Inspection } from './types.js';

/**
 * Hugging Face model folders: config.json plus weights (safetensors, possibly sharded with an index; PyTorch
 * .bin; TensorFlow .h5). Parameters come from the safetensors headers, or from the .bin pickles when those are
 * the only weights; the config says what the model is and which labels it predicts.
 */

const TOKENIZER_FILES = new Set([
  'tokenizer.json',
  'tokenizer_config.json',
  'vocab.txt',
  'vocab.json',
  'merges.txt',
  'special_tokens_map.json',
  'added_tokens.json',
  'spiece.model',
  'sentencepiece.bpe.model',
  'tokenizer.model',
  'bpe.codes',
  'source.spm',
  'target.spm',
  'chat_template.json',
  'chat_template.jinja',
]);
const PROCESSOR_FILES = new Set([
  'preprocessor_config.json',
  'processor_config.json',
  'image_processor_config.json',
  'feature_extractor_config.json',
  'video_preprocessor_config.json',
]);
const MAX_LABELS = 10_000;

/** A small JSON file of the model (config, index); damaged JSON in a file the format defines is a damaged model. */
export function readJsonFile(abs: string, display: string, maxBytes = 16 * MB): Record<string, unknown> {
  const parsed = readJsonValue(abs, display, maxBytes);
  if (!isRecord(parsed)) throw corrupt(display, 'not a valid JSON object');
  return parsed;
}

/** The same for a file whose JSON need not be an object (modules.json is a list); undefined when it does not parse. */
export function readJsonValue(abs: string, display: string, maxBytes = 16 * MB): unknown {
  return withSource(abs, (source) => {
    if (source.size > maxBytes) throw corrupt(display, `${source.size} bytes is too large for a JSON metadata file`);
    return tryParseJson(decodeUtf8(readAt(source, 0, source.size)));
  });
}

export function hfConfigFacts(config: Record<string, unknown>): Record<string, unknown> {
  const id2label = isRecord(config.id2label) ? Object.fromEntries(Object.entries(config.id2label).slice(0, MAX_LABELS)) : undefined;
  const numLabels =
    typeof config.num_labels === 'number' ? config.num_labels : id2label ? Object.keys(config.id2label as object).length : undefined;
  const text = (key: string): string | undefined => (typeof config[key] === 'string' ? (config[key] as string) : undefined);
  const dtype = text('torch_dtype') ?? text('dtype');
  return {
    ...(Array.isArray(config.architectures) ? { architectures: config.architectures.filter((a) => typeof a === 'string') } : {}),
    ...(text('model_type') ? { modelType: text('model_type') } : {}),
    ...(id2label ? { id2label } : {}),
    ...(numLabels !== undefined ? { numLabels } : {}),
    ...(text('problem_type') ? { problemType: text('problem_type') } : {}),
    ...(text('transformers_version') ? { transformersVersion: text('transformers_version') } : {}),
    ...(dtype ? { configDtype: dtype } : {}),
  };
}

/** Which tokenizer and processor files sit at the folder's root. */
export function hfSideFiles(paths: readonly string[]): Record<string, unknown> {
  const root = paths.filter((p) => !p.includes('/'));
  return {
    tokenizerFiles: root.filter((p) => TOKENIZER_FILES.has(p)),
    processorFiles: root.filter((p) => PROCESSOR_FILES.has(p)),
    generationConfig: root.includes('generation_config.json'),
  };
}

/** The shard files a *.index.json names, confined to the folder and checked to exist. */
function shardsFromIndex(root: string, indexPath: string, present: Set<string>): string[] {
  const index = readJsonFile(join(root, indexPath), indexPath);
  if (!isRecord(index.weight_map)) throw corrupt(indexPath, 'sharded-weights index without a weight_map object');
  const shards = [...new Set(Object.values(index.weight_map).map(String))].sort();
  return shards.map((shard) => {
    const rel = safeExternalPath(shard, indexPath);
    if (!present.has(rel)) {
      throw new ModelctlError('PATH_NOT_FOUND', `${indexPath} lists the shard ${rel}, which is missing from ${root}`, {
        hint: 'download every shard the index names (an interrupted download leaves some out)',
      });
    }
    return rel;
  });
}

/**
 * The folder of a sentence-transformers model's Transformer module, as modules.json names it: "" when the
 * transformer sits at the root (or there is no such module), undefined when the path could leave the folder.
 */
export function transformerModulePath(modules: unknown): string | undefined {
  if (!Array.isArray(modules)) return '';
  const module = modules.find((m) => typeof m?.type === 'string' && (m.type as string).endsWith('.Transformer')) as
    | { path?: unknown }
    | undefined;
  const path = typeof module?.path === 'string' ? module.path.replace(/\\/g, '/').replace(/\/+$/, '') : '';
  return path.startsWith('/') || path.split('/').includes('..') ? undefined : path;
}

type WeightsFormat = 'safetensors' | 'pytorch' | 'tensorflow' | 'flax';

function findWeights(root: string, paths: Set<string>): { format: WeightsFormat; files: string[]; index?: string } | undefined {
  if (paths.has('model.safetensors.index.json')) {
    return {
      format: 'safetensors',
      files: shardsFromIndex(root, 'model.safetensors.index.json', paths),
      index: 'model.safetensors.index.json',
    };
  }
  const safetensors = [...paths].filter((p) => !p.includes('/') && p.endsWith('.safetensors')).sort();
  if (safetensors.length > 0) return { format: 'safetensors', files: safetensors };
  if (paths.has('pytorch_model.bin.index.json')) {
    return {
      format: 'pytorch',
      files: shardsFromIndex(root, 'pytorch_model.bin.index.json', paths),
      index: 'pytorch_model.bin.index.json',
    };
  }
  if (paths.has('pytorch_model.bin')) return { format: 'pytorch', files: ['pytorch_model.bin'] };
  if (paths.has('tf_model.h5')) return { format: 'tensorflow', files: ['tf_model.h5'] };
  if (paths.has('flax_model.msgpack')) return { format: 'flax', files: ['flax_model.msgpack'] };
  return undefined;
}

/** A transformers inspection of a folder with config.json, or undefined when the folder has no weights it knows. */
export function inspectTransformers(
  root: string,
  files: InspectedFile[],
  config: Record<string, unknown>,
  signal?: AbortSignal,
): Inspection | undefined {
  const paths = new Set(files.map((f) => f.path));
  const weights = findWeights(root, paths);
  if (!weights) return undefined;
  const dtypes: Record<string, number> = {};
  const warnings: string[] = [];
  let parameters: number | undefined;
  let tensors: number | undefined;
  let safetensorsMetadata: Record<string, string> | undefined;
  for (const rel of weights.format === 'safetensors' || weights.format === 'pytorch' ? weights.files : []) {
    throwIfAborted(signal);
    const abs = join(root, ...rel.split('/'));
    if (weights.format === 'safetensors') {
      const h = readSafetensorsHeader(abs, rel);
      parameters = (parameters ?? 0) + h.parameters;
      tensors = (tensors ?? 0) + h.tensors;
      safetensorsMetadata ??= h.metadata;
      for (const [k, v] of Object.entries(h.dtypes)) addCount(dtypes, k, v);
    } else {
      const facts = pytorchFileFacts(abs, rel, readHead(abs, 64), signal);
      parameters = (parameters ?? 0) + (facts.parameters ?? 0);
      tensors = (tensors ?? 0) + Number(facts.metadata.tensors ?? 0);
      for (const [k, v] of Object.entries(facts.dtypes ?? {})) addCount(dtypes, k, v);
      warnings.push(...(facts.warnings ?? []));
    }
  }
  const fileNames = files.map((f) => f.path);
  const task = detectTaskFromFolderFiles(fileNames) ?? detectTaskFromConfig(config);
  const primary = weights.index ?? (weights.files.length === 1 ? weights.files[0] : undefined);
  return {
    format: 'transformers',
    files,
    ...(primary ? { primary } : {}),
    metadata: {
      ...hfConfigFacts(config),
      ...hfSideFiles(fileNames),
      sentenceTransformers: paths.has('modules.json') || paths.has('sentence_bert_config.json'),
      weights: { format: weights.format, files: weights.files },
      ...(tensors !== undefined ? { tensors } : {}),
      ...(safetensorsMetadata ? { safetensorsMetadata } : {}),
    },
    ...(parameters !== undefined ? { parameters, dtypes } : {}),
    ...(task ? { task: task.task, taskReason: task.reason } : {}),
    pickle: weights.format === 'pytorch',
    warnings,
  };
}
