import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, posix } from 'node:path';
import { ModelctlError, fsError } from '../errors.js';
import { detectTaskFromConfig, detectTaskFromFolderFiles, type DetectedTask } from '../formats/task.js';
import type { Registry } from '../registry/index.js';
import type { EmbeddingPrediction } from '../tasks/feature-extraction.js';
import { decodeUtf8, looksLikeJsonLines, parseJsonText, readInputBytes, readStdin, tryJson } from '../tasks/inputs.js';
import type { RunContext } from '../tasks/tensors.js';
import { classifyTexts, type TextClassificationPrediction } from '../tasks/text-classification.js';
import { tagTexts, type Aggregation, type TokenClassificationPrediction } from '../tasks/token-classification.js';
import { loadTokenizer, type TextTokenizer, type TokenizerFiles } from '../tasks/tokenize.js';
import { folderReader, type FileReader } from '../embed-metadata/companion-files.js';
import type { ResolvedModel } from './predict.js';

/**
 * The text tasks of predict: where a model's tokenizer and config come from (the embedded metadata, else the
 * files beside the model), how texts are given, and running them in batches.
 */

export const TEXT_TASKS = ['text-classification', 'token-classification', 'feature-extraction'] as const;

export function isTextTask(task: string): boolean {
  return (TEXT_TASKS as readonly string[]).includes(task);
}

export const DEFAULT_BATCH_SIZE = 32;
/** More texts per run than this only costs memory (and one tokenizer pass builds the whole padded batch). */
export const MAX_BATCH_SIZE = 4096;

/** The files that came with the model: a registry version's (beside its ONNX file, then at its root), or the ONNX file's folder. */
export interface Companions {
  read: FileReader;
  where: string;
}

export function companions(m: ResolvedModel, registry?: Registry): Companions {
  if (m.manifest && registry) {
    const manifest = m.manifest;
    const primary = typeof manifest.metadata.primary === 'string' ? manifest.metadata.primary : (manifest.files.find((f) => f.path.endsWith('.onnx'))?.path ?? '');
    const dirs = [...new Set([posix.dirname(primary), '.'])];
    return {
      where: `${manifest.name}:${manifest.version}`,
      read: async (name) => {
        for (const dir of dirs) {
          const file = manifest.files.find((f) => f.path === posix.join(dir, name));
          if (file) return readFile(registry.store.layout.blob(file.sha256)).catch((err: unknown) => { throw fsError(err, file.path); });
        }
        return undefined;
      },
    };
  }
  const dir = dirname(m.path);
  // Hub repos that carry an ONNX export keep it in onnx/, with the tokenizer and config at the top.
  const dirs = basename(dir) === 'onnx' ? [dir, dirname(dir)] : [dir];
  return {
    where: dirs.join(' or '),
    read: async (name) => {
      for (const d of dirs) {
        const bytes = await folderReader(d)(name);
        if (bytes !== undefined) return bytes;
      }
      return undefined;
    },
  };
}

async function readJson(files: Companions, name: string): Promise<unknown> {
  const bytes = await files.read(name);
  if (bytes === undefined) return undefined;
  const where = `${name} of ${files.where}`;
  return parseJsonText(decodeUtf8(bytes, where), where);
}

/**
 * For a model without an embedded or registered task: a sentence-transformers folder, else config.json's
 * architectures. Only a guess: a file that cannot be read here is no reason to refuse a model run as raw tensors.
 */
export async function detectTaskBeside(files: Companions): Promise<DetectedTask | undefined> {
  try {
    for (const marker of ['modules.json', 'sentence_bert_config.json']) {
      if ((await files.read(marker)) !== undefined) return detectTaskFromFolderFiles([marker]);
    }
    return detectTaskFromConfig(await readJson(files, 'config.json'));
  } catch (err) {
    if (err instanceof ModelctlError) return undefined;
    throw err;
  }
}

export interface TextSetup {
  tokenizer: TextTokenizer;
  modelConfig: unknown;
  /** feature-extraction: whether vectors are scaled to unit length. */
  normalize: boolean;
}

/** sentence-transformers lists its pipeline in modules.json; a Normalize module means unit-length embeddings. */
function hasNormalizeModule(modules: unknown): boolean {
  return Array.isArray(modules) && modules.some((m) => typeof (m as { type?: unknown })?.type === 'string' && /(^|\.)Normalize$/.test((m as { type: string }).type));
}

/** The tokenizer (embedded hf_processor_config first, else tokenizer.json beside the model) and config.json. */
export async function prepareText(model: string, m: ResolvedModel, registry: Registry | undefined, normalize?: boolean): Promise<TextSetup> {
  const files = companions(m, registry);
  const embedded = m.embedded?.processorConfig;
  const modelConfig = m.embedded?.modelConfig ?? (await readJson(files, 'config.json'));
  let tokenizerFiles: TokenizerFiles;
  if (embedded?.['tokenizer.json'] !== undefined) {
    tokenizerFiles = { tokenizer: embedded['tokenizer.json'], config: embedded['tokenizer_config.json'] ?? {}, where: 'the embedded metadata' };
  } else {
    const tokenizer = await readJson(files, 'tokenizer.json');
    if (tokenizer === undefined) {
      throw new ModelctlError('INVALID_INPUT', `no tokenizer for ${model}: tokenizer.json is neither embedded in the model (hf_processor_config) nor beside it (${files.where})`, {
        hint: `embed it from the Hugging Face folder the model came from: \`modelctl embed-metadata ${model} --from-dir DIR\` (DIR holds tokenizer.json and tokenizer_config.json)`,
      });
    }
    tokenizerFiles = { tokenizer, config: (await readJson(files, 'tokenizer_config.json')) ?? {}, where: files.where };
  }
  const modules = embedded?.['modules.json'] ?? (await readJson(files, 'modules.json'));
  return { tokenizer: await loadTokenizer(tokenizerFiles, modelConfig, m.summary.inputs), modelConfig, normalize: normalize ?? hasNormalizeModule(modules) };
}

export type TextPrediction = TextClassificationPrediction | EmbeddingPrediction | TokenClassificationPrediction;

/** Texts in batches of `batchSize` (the last one shorter), predictions in the order of the texts. */
export async function predictTexts(
  ctx: RunContext,
  setup: TextSetup,
  task: string,
  texts: readonly string[],
  options: { batchSize?: number; topK?: number; aggregation?: Aggregation },
): Promise<TextPrediction[]> {
  const size = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isSafeInteger(size) || size < 1 || size > MAX_BATCH_SIZE) {
    throw new ModelctlError('USAGE', `batch size must be a whole number from 1 to ${MAX_BATCH_SIZE}, not ${String(size)}`, { hint: `--batch-size ${DEFAULT_BATCH_SIZE} is the default` });
  }
  if (options.topK !== undefined && !(Number.isSafeInteger(options.topK) && options.topK >= 1)) {
    throw new ModelctlError('USAGE', `top-k must be a whole number of at least 1, not ${String(options.topK)}`);
  }
  if (texts.length === 0) throw new ModelctlError('INVALID_INPUT', 'no texts given', { hint: 'give texts as arguments, --input \'["text", ...]\', or --file texts.txt' });
  const out: TextPrediction[] = [];
  const { embedTexts } = task === 'feature-extraction' ? await import('../tasks/feature-extraction.js') : { embedTexts: undefined };
  for (let i = 0; i < texts.length; i += size) {
    const chunk = texts.slice(i, i + size);
    if (embedTexts) out.push(...(await embedTexts(ctx, setup.tokenizer, chunk, setup.normalize)));
    else if (task === 'token-classification') out.push(...(await tagTexts(ctx, setup.tokenizer, chunk, setup.modelConfig, options.aggregation)));
    else out.push(...(await classifyTexts(ctx, setup.tokenizer, chunk, setup.modelConfig, options.topK)));
  }
  return out;
}

const TEXT_HINT = 'give "text", ["text", ...] or [{"text": "..."}, ...]';

/** `"text"`, `["text", ...]`, `{"text": ...}` or `[{"text": ...}, ...]`. */
export function textsFromJson(value: unknown, where: string): string[] {
  const one = (v: unknown, i: number): string => {
    if (typeof v === 'string') return v;
    const text = v && typeof v === 'object' ? (v as { text?: unknown }).text : undefined;
    if (typeof text === 'string') return text;
    throw new ModelctlError('INVALID_INPUT', `${where}${i >= 0 ? ` item ${i + 1}` : ''} is not a text`, { hint: TEXT_HINT });
  };
  return Array.isArray(value) ? value.map(one) : [one(value, -1)];
}

function lines(text: string): string[] {
  return text.split(/\r?\n/).filter((l) => l.trim() !== '');
}

function jsonLines(text: string, where: string): string[] {
  return text.split(/\r?\n/).flatMap((line, i) => (line.trim() === '' ? [] : textsFromJson(parseJsonText(line, `${where} line ${i + 1}`), `${where} line ${i + 1}`)));
}

function nonEmpty(texts: string[], where: string): string[] {
  if (texts.length === 0) throw new ModelctlError('INVALID_INPUT', `no texts in ${where}`, { hint: 'give at least one text' });
  return texts;
}

/**
 * stdin: one JSON value (pretty-printed or not) holding texts; else JSON Lines (several lines, each starting with
 * { or [, or each a "string"); else one text per line.
 */
function textsFromStdin(raw: string): string[] {
  const text = raw.startsWith('\uFEFF') ? raw.slice(1) : raw;
  const json = tryJson(text);
  // A lone number, true or null is a line of text, not JSON meant for predict.
  if (json && (typeof json.value === 'string' || (json.value !== null && typeof json.value === 'object'))) return textsFromJson(json.value, 'stdin');
  if (!json) {
    if (looksLikeJsonLines(text)) return jsonLines(text, 'stdin');
    if (looksLikeJsonLines(text, '"')) {
      try {
        return jsonLines(text, 'stdin');
      } catch {
        // Lines that merely start with a quote: plain text.
      }
    }
    const body = text.trim();
    // Several lines that open and close like one JSON value: a broken JSON document, not texts.
    if (body.includes('\n') && ((body.startsWith('[') && body.endsWith(']')) || (body.startsWith('{') && body.endsWith('}')))) parseJsonText(body, 'stdin');
  }
  return lines(text);
}

/** --file for text: .txt (one text per line), .jsonl ({"text": ...} per line), .json; `-` reads stdin (JSON, JSON Lines, else lines). */
export async function readTextFile(path: string, stdin: () => Promise<string> = readStdin): Promise<string[]> {
  if (path === '-') return nonEmpty(textsFromStdin(await stdin()), 'stdin');
  const bytes = await readInputBytes(path);
  switch (extname(path).toLowerCase()) {
    case '.txt':
      return nonEmpty(lines(decodeUtf8(bytes, path)), path);
    case '.jsonl':
    case '.ndjson':
      return nonEmpty(jsonLines(decodeUtf8(bytes, path), path), path);
    case '.json':
      return nonEmpty(textsFromJson(parseJsonText(decodeUtf8(bytes, path), path), path), path);
    default:
      throw new ModelctlError('INVALID_INPUT', `cannot read ${path} as texts`, { hint: 'use .txt (one text per line), .jsonl ({"text": ...} per line) or .json' });
  }
}
