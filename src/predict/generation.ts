import { ModelctlError } from '../errors.js';
import { companions, readCompanionJson } from '../registry/companion-files.js';
import type { Registry } from '../registry/index.js';
import { chatTemplateOf } from '../tasks/generation/chat.js';
import { loadGenerationTokenizer } from '../tasks/generation/text.js';
import type { RunContext } from '../tasks/tensors.js';
import {
  checkDecoder,
  generate,
  maxPositionsOf,
  settingsFor,
  type GenerationPrediction,
  type GenerationSetup,
} from '../tasks/text-generation.js';
import type { GenerationSettings } from '../tasks/generation/config.js';
import { loadProcessorFile } from './preprocessor.js';
import type { PredictOptions, ResolvedModel } from './types.js';

/**
 * predict's text-generation: where the tokenizer, generation_config.json and the chat template come from (the
 * embedded metadata first, else the version's or folder's files), and the prompts run one after the other.
 */

export async function prepareGeneration(
  model: string,
  m: ResolvedModel,
  registry: Registry | undefined,
): Promise<Omit<GenerationSetup, 'layout'>> {
  const files = companions(m, registry?.store.layout);
  const embedded = m.embedded?.processorConfig ?? {};
  const json = async (name: string): Promise<unknown> => embedded[name] ?? (await readCompanionJson(files, name));
  const { raw: tokenizer, modelConfig } = await loadProcessorFile('tokenizer', model, m, registry);
  const tokenizerConfig = (await json('tokenizer_config.json')) ?? {};
  const jinja = (await files.read('chat_template.jinja'))?.toString('utf8');
  const chatTemplate = chatTemplateOf(tokenizerConfig, jinja, await json('chat_template.json'));
  const maxPositions = maxPositionsOf(modelConfig);
  return {
    tokenizer: await loadGenerationTokenizer({ tokenizer, config: tokenizerConfig, where: files.where }),
    tokenizerConfig,
    modelConfig,
    generationConfig: (await json('generation_config.json')) ?? {},
    ...(chatTemplate !== undefined ? { chatTemplate } : {}),
    ...(maxPositions !== undefined ? { maxPositions } : {}),
  };
}

/** Warns, once, of generation_config.json's settings that would change the output and that are not applied. */
export function warnIgnored(settings: Pick<GenerationSettings, 'ignored'>, onWarning: ((message: string) => void) | undefined): void {
  if (settings.ignored.length === 0) return;
  onWarning?.(
    `generation_config.json sets ${settings.ignored.join(', ')}, which modelctl does not apply: the output may differ from transformers' generate()`,
  );
}

/** The prompts (texts, or the one chat conversation of options.generation.chat) continued in order. */
export async function generateTexts(
  ctx: RunContext,
  base: Omit<GenerationSetup, 'layout'>,
  texts: readonly string[],
  options: Pick<PredictOptions, 'model' | 'generation' | 'signal'>,
): Promise<GenerationPrediction[]> {
  const setup: GenerationSetup = { ...base, layout: checkDecoder(ctx) };
  const g = options.generation ?? {};
  const settings = settingsFor(setup, g);
  const prompts = g.chat ? [{ messages: g.chat }] : texts.map((text) => ({ text }));
  if (prompts.length === 0) {
    throw new ModelctlError('INVALID_INPUT', 'no prompt given', { hint: 'give the prompt as an argument, --file prompts.txt, or --chat' });
  }
  const out: GenerationPrediction[] = [];
  for (const [index, prompt] of prompts.entries()) {
    const onText = g.onText;
    out.push(
      await generate(ctx, setup, prompt, settings, {
        model: options.model,
        ...(onText ? { onText: (piece: string) => onText(piece, index) } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      }),
    );
  }
  return out;
}
