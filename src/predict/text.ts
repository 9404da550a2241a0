import { ModelctlError } from '../errors.js';
import { detectTaskFromConfig, detectTaskFromFolderFiles, type DetectedTask } from '../formats/task.js';
import { companions, readCompanionJson, type Companions } from '../registry/companion-files.js';
import type { Registry } from '../registry/index.js';
import { readSentencePipeline, type SentencePipeline } from '../tasks/sentence-transformers.js';
import { loadTokenizer, type TextTokenizer, type TokenizerFiles } from '../tasks/tokenize.js';
import type { ResolvedModel } from './types.js';

/**
 * The text tasks of predict: where a model's tokenizer and config come from (the embedded metadata, else the
 * files beside the model). Texts are read by src/inputs and run in batches by predict.ts.
 */

export const TEXT_TASKS = ['text-classification', 'token-classification', 'feature-extraction'] as const;

export function isTextTask(task: string): boolean {
  return (TEXT_TASKS as readonly string[]).includes(task);
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
    return detectTaskFromConfig(await readCompanionJson(files, 'config.json'));
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
  /** feature-extraction of a sentence-transformers model: its pooling, normalisation, length, prompt. */
  sentence?: SentencePipeline;
}

/**
 * The tokenizer (embedded hf_processor_config first, else tokenizer.json beside the model) and config.json; for
 * feature-extraction (or no task named) also a sentence-transformers pipeline, from the same places, whose
 * max_seq_length cuts the texts and whose Normalize module decides `normalize` unless the caller does.
 */
export async function prepareText(
  model: string,
  m: ResolvedModel,
  registry: Registry | undefined,
  normalize?: boolean,
  task?: string,
): Promise<TextSetup> {
  const files = companions(m, registry?.store.layout);
  const embedded = m.embedded?.processorConfig;
  const modelConfig = m.embedded?.modelConfig ?? (await readCompanionJson(files, 'config.json'));
  let tokenizerFiles: TokenizerFiles;
  if (embedded?.['tokenizer.json'] !== undefined) {
    tokenizerFiles = {
      tokenizer: embedded['tokenizer.json'],
      config: embedded['tokenizer_config.json'] ?? {},
      where: 'the embedded metadata',
    };
  } else {
    const tokenizer = await readCompanionJson(files, 'tokenizer.json');
    if (tokenizer === undefined) {
      throw new ModelctlError(
        'INVALID_INPUT',
        `no tokenizer for ${model}: tokenizer.json is neither embedded in the model (hf_processor_config) nor beside it (${files.where})`,
        {
          hint: `embed it from the Hugging Face folder the model came from: \`modelctl embed-metadata ${model} --from-dir DIR\` (DIR holds tokenizer.json and tokenizer_config.json)`,
        },
      );
    }
    tokenizerFiles = { tokenizer, config: (await readCompanionJson(files, 'tokenizer_config.json')) ?? {}, where: files.where };
  }
  const sentence =
    task === undefined || task === 'feature-extraction'
      ? await readSentencePipeline(async (path) => embedded?.[path] ?? (await readCompanionJson(files, path)))
      : undefined;
  const maxLength = sentence ? (sentence.maxSeqLength ?? sentenceDefaultLength(tokenizerFiles.config, modelConfig)) : undefined;
  return {
    tokenizer: await loadTokenizer(tokenizerFiles, modelConfig, m.summary.inputs, maxLength !== undefined ? { maxLength } : {}),
    modelConfig,
    normalize: normalize ?? sentence?.normalize ?? false,
    ...(sentence ? { sentence } : {}),
  };
}

/** Without max_seq_length, sentence-transformers caps the tokenizer's model_max_length at max_position_embeddings. */
function sentenceDefaultLength(tokenizerConfig: unknown, modelConfig: unknown): number | undefined {
  const lengths = [
    (tokenizerConfig as { model_max_length?: unknown })?.model_max_length,
    (modelConfig as { max_position_embeddings?: unknown })?.max_position_embeddings,
  ];
  const valid = lengths.filter((n): n is number => typeof n === 'number' && Number.isInteger(n) && n > 0 && n < 1_000_000);
  return valid.length ? Math.min(...valid) : undefined;
}
