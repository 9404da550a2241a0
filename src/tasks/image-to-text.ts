import type { Seq2SeqSettings } from './generation/seq2seq-config.js';
import { imageInput } from './image-classification.js';
import { preprocessImage, type ImageProcessorConfig } from './image.js';
import { decodeSeq2Seq, encoderStates, type Seq2SeqPrediction, type Seq2SeqSetup } from './seq2seq.js';
import type { RunContext } from './tensors.js';

/**
 * image-to-text with a VisionEncoderDecoder model (a ViT-like encoder, a GPT-2-like decoder with cross-attention),
 * exported as encoder_model.onnx + decoder_model_merged.onnx, as transformers' pipeline("image-to-text") runs it:
 * the image made into pixel_values by the model's image processor (image.ts, as image-classification makes them),
 * the encoder run once, then the shared encoder-decoder loop (seq2seq.ts) from the decoder_start_token_id, greedy
 * unless asked otherwise, the text decoded without special tokens. One image at a time, as the pipeline generates.
 */

export interface ImageToTextSetup {
  seq2seq: Seq2SeqSetup;
  processor: ImageProcessorConfig;
  settings: Seq2SeqSettings;
}

/** The pipeline's answer for one image ({generated_text}), with the tokens, finish reason and timings of the others. */
export type ImageToTextPrediction = Seq2SeqPrediction & { generated_text: string };

export async function describeImage(
  encoder: RunContext,
  setup: ImageToTextSetup,
  file: string,
  options: { onText?: (piece: string) => void; signal?: AbortSignal; bytes?: Buffer } = {},
): Promise<ImageToTextPrediction> {
  const input = imageInput(encoder.inputs, setup.processor, true);
  // `bytes`: the image's content already read (bench's synthetic image); `file` then only names it.
  const image = await preprocessImage(file, setup.processor, options.bytes);
  const t0 = performance.now();
  // A float16 encoder's pixels are given in float16 by encoderStates.
  const feeds = { [input.name]: new encoder.Tensor('float32', image.data, [1, 3, image.height, image.width]) };
  const states = await encoderStates(encoder, feeds);
  const encoded = {
    states,
    prompt: [setup.settings.decoderStartTokenId],
    promptTokens: states.dims[1] as number,
    t0,
    encoderMs: performance.now() - t0,
  };
  const p = await decodeSeq2Seq(setup.seq2seq, encoded, setup.settings, 'image-to-text', options);
  return { ...p, generated_text: p.generated_text ?? '' };
}
