import { ModelctlError } from '../errors.js';
import { companions, readCompanionJson } from '../registry/companion-files.js';
import type { Registry } from '../registry/index.js';
import type { ResolvedModel } from './types.js';

/**
 * The processor file a task reads before it can run, from the one place it may come from: the embedded
 * hf_processor_config first, else the file beside the model or in its registry version; config.json from the same
 * places. preprocessor_config.json for the image and audio tasks (the caller parses it as an image processor or a
 * feature extractor), tokenizer.json for the text tasks. `kind` words the error when there is none, naming the
 * files `modelctl embed-metadata --from-dir` would take.
 */

export type ProcessorKind = 'image processor' | 'feature extractor' | 'tokenizer';

const FILES: Record<ProcessorKind, { file: string; beside: string }> = {
  'image processor': { file: 'preprocessor_config.json', beside: 'config.json' },
  'feature extractor': { file: 'preprocessor_config.json', beside: 'config.json' },
  tokenizer: { file: 'tokenizer.json', beside: 'tokenizer_config.json' },
};

export interface ProcessorFileSource {
  /** The file as parsed JSON, not yet checked. */
  raw: unknown;
  /** Where it came from, for the parser's messages ("the embedded tokenizer.json", "tokenizer.json of DIR"). */
  where: string;
  /** The place alone: "the embedded metadata", or the folder or registry version beside the model. */
  from: string;
  modelConfig: unknown;
  /** Another file from the same place (embedded when the first was, else beside the model); undefined when absent. */
  read(path: string): Promise<unknown>;
}

export async function loadProcessorFile(
  kind: ProcessorKind,
  model: string,
  m: ResolvedModel,
  registry: Registry | undefined,
): Promise<ProcessorFileSource> {
  const { file, beside } = FILES[kind];
  const files = companions(m, registry?.store.layout);
  const embedded = m.embedded?.processorConfig;
  const modelConfig = m.embedded?.modelConfig ?? (await readCompanionJson(files, 'config.json'));
  if (embedded?.[file] !== undefined) {
    const read = async (path: string): Promise<unknown> => embedded[path];
    return { raw: embedded[file], where: `the embedded ${file}`, from: 'the embedded metadata', modelConfig, read };
  }
  const raw = await readCompanionJson(files, file);
  if (raw === undefined) {
    throw new ModelctlError(
      'INVALID_INPUT',
      `no ${kind} for ${model}: ${file} is neither embedded in the model (hf_processor_config) nor beside it (${files.where})`,
      {
        hint: `embed it from the Hugging Face folder the model came from: \`modelctl embed-metadata ${model} --from-dir DIR\` (DIR holds ${file} and ${beside})`,
      },
    );
  }
  return { raw, where: `${file} of ${files.where}`, from: files.where, modelConfig, read: (path) => readCompanionJson(files, path) };
}
