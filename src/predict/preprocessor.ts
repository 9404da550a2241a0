import { ModelctlError } from '../errors.js';
import { companions, readCompanionJson } from '../registry/companion-files.js';
import type { Registry } from '../registry/index.js';
import type { ResolvedModel } from './types.js';

/**
 * preprocessor_config.json for the image and audio tasks: the embedded hf_processor_config's first, else the file
 * beside the model or in its registry version; with config.json from the same places. The caller parses it as an
 * image processor or a feature extractor; `kind` words the error when there is none.
 */

export type PreprocessorKind = 'image processor' | 'feature extractor';

export interface PreprocessorConfigSource {
  /** preprocessor_config.json as parsed JSON, not yet checked. */
  raw: unknown;
  /** Where it came from, for the parser's messages. */
  where: string;
  modelConfig: unknown;
}

export async function loadPreprocessorConfig(
  kind: PreprocessorKind,
  model: string,
  m: ResolvedModel,
  registry: Registry | undefined,
): Promise<PreprocessorConfigSource> {
  const files = companions(m, registry?.store.layout);
  const embedded = m.embedded?.processorConfig?.['preprocessor_config.json'];
  const modelConfig = m.embedded?.modelConfig ?? (await readCompanionJson(files, 'config.json'));
  if (embedded !== undefined) return { raw: embedded, where: 'the embedded preprocessor_config.json', modelConfig };
  const raw = await readCompanionJson(files, 'preprocessor_config.json');
  if (raw === undefined) {
    throw new ModelctlError(
      'INVALID_INPUT',
      `no ${kind} for ${model}: preprocessor_config.json is neither embedded in the model (hf_processor_config) nor beside it (${files.where})`,
      {
        hint: `embed it from the Hugging Face folder the model came from: \`modelctl embed-metadata ${model} --from-dir DIR\` (DIR holds preprocessor_config.json and config.json)`,
      },
    );
  }
  return { raw, where: `preprocessor_config.json of ${files.where}`, modelConfig };
}
