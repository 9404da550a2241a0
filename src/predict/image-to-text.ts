import { ModelctlError } from '../errors.js';
import { seq2seqSettings } from '../tasks/generation/seq2seq-config.js';
import type { ImageToTextPrediction, ImageToTextSetup } from '../tasks/image-to-text.js';
import { maxPositionsOf } from '../tasks/text-generation.js';
import type { RunContext } from '../tasks/tensors.js';
import { prepareGeneration, warnIgnored } from './generation.js';
import { prepareImage } from './image.js';
import { openSeq2SeqDecoder } from './seq2seq.js';
import type { PredictOptions, ResolvedModel } from './types.js';

/**
 * predict's image-to-text (VisionEncoderDecoder): the tokenizer and generation_config.json as for the other
 * generative tasks, the image processor's preprocessor_config.json as for image classification, the merged decoder
 * opened beside the encoder as for encoder-decoder text models; then the image files described one after the other
 * (src/tasks/image-to-text.ts).
 */

export interface ImageToTextRunner {
  run(encoder: RunContext, files: readonly string[]): Promise<ImageToTextPrediction[]>;
  close(): Promise<void>;
}

const PIPELINE_MAX_NEW_TOKENS = 256;

function record(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** predict's preparation of an image-to-text model (the decoder opened), shared with bench. */
export async function imageToTextParts(
  model: string,
  m: ResolvedModel,
  options: Omit<PredictOptions, 'input'>,
): Promise<{ setup: ImageToTextSetup; release: () => Promise<void> }> {
  const g = options.generation ?? {};
  if (g.chat) throw new ModelctlError('USAGE', '--chat is for text-generation models, not image-to-text');
  const base = await prepareGeneration(model, m, options.registry);
  // transformers' pipeline("image-to-text") generates 256 new tokens at most unless generation_config.json bounds
  // the length (within the decoder's positions here, where the pipeline would index past them).
  const config = record(base.generationConfig);
  const bounded = g.maxNewTokens !== undefined || config.max_new_tokens !== undefined || config.max_length !== undefined;
  const settings = seq2seqSettings(bounded ? g : { ...g, maxNewTokens: PIPELINE_MAX_NEW_TOKENS }, config, base.modelConfig);
  warnIgnored(settings, g.onWarning);
  const image = await prepareImage(model, m, options.registry, 'image-to-text');
  if (!('processor' in image)) throw new ModelctlError('INVALID_INPUT', `${model} has no image processor`);
  // A VisionEncoderDecoder's config.json nests the decoder's: its positions bound the generated length.
  const maxPositions = maxPositionsOf(record(base.modelConfig).decoder) ?? maxPositionsOf(base.modelConfig);
  const { decoder, layout, release } = await openSeq2SeqDecoder(model, m, options);
  const setup: ImageToTextSetup = {
    seq2seq: { tokenizer: base.tokenizer, decoder, layout, ...(maxPositions !== undefined ? { maxPositions } : {}) },
    processor: image.processor,
    settings,
  };
  return { setup, release };
}

export async function prepareImageToText(
  model: string,
  m: ResolvedModel,
  options: Omit<PredictOptions, 'input'>,
): Promise<ImageToTextRunner> {
  const g = options.generation ?? {};
  const { setup, release } = await imageToTextParts(model, m, options);
  return {
    async run(encoder, files) {
      if (files.length === 0)
        throw new ModelctlError('INVALID_INPUT', 'no images given', { hint: 'give image files as arguments or --file IMAGE' });
      const { describeImage } = await import('../tasks/image-to-text.js');
      const out: ImageToTextPrediction[] = [];
      for (const [index, file] of files.entries()) {
        const onText = g.onText;
        out.push(
          await describeImage(encoder, setup, file, {
            ...(onText ? { onText: (piece: string) => onText(piece, index) } : {}),
            ...(options.signal ? { signal: options.signal } : {}),
          }),
        );
      }
      return out;
    },
    close: release,
  };
}
