import { ModelctlError } from '../errors.js';
import type { OnnxValueInfo } from '../onnx/summary.js';
import { mapImages, outputSize, preprocessImage, type ImageProcessorConfig } from './image.js';
import { runSession, tensorOutputs, type RunContext } from './tensors.js';
import { rankLabels, scoreFunction, scores, type LabelScore } from './text-classification.js';

/**
 * Image classification heads (ViTForImageClassification and kin): pixel_values -> logits -> labels, scored as the
 * transformers image-classification pipeline does (softmax over the labels, a sigmoid for multi-label or
 * single-logit models), names from config.json's id2label.
 */

export interface ImageClassificationPrediction {
  /** Every label (or the top K), highest score first. */
  labels: LabelScore[];
}

/**
 * The model's image input: a float tensor of rank 4, channels first ([batch, 3, height, width]), pixel_values by
 * preference; float32, or float16 too when `half` (an image-to-text encoder, whose feeds encoderStates converts).
 */
export function imageInput(
  inputs: readonly OnnxValueInfo[],
  config: ImageProcessorConfig,
  half = false,
): { name: string; height?: number; width?: number } {
  const float = inputs.filter((i) => (i.dtype ?? 'float32') === 'float32' || (half && i.dtype === 'float16'));
  const input = float.find((i) => i.name === 'pixel_values') ?? (float.length === 1 ? float[0] : undefined);
  const takes = inputs.map((i) => `${i.name} ${i.dtype ?? '?'}[${(i.shape ?? []).map((d) => d ?? '?').join(', ')}]`).join(', ');
  if (!input || inputs.length !== 1) {
    throw new ModelctlError('INVALID_INPUT', `the model does not take one image tensor (it takes ${takes || 'nothing'})`, {
      hint: 'image-classification needs one float32 input such as pixel_values [batch, 3, height, width]; try --task raw',
    });
  }
  const shape = input.shape;
  const dim = (i: number): number | undefined => (typeof shape?.[i] === 'number' ? (shape[i] as number) : undefined);
  if (shape && (shape.length !== 4 || (dim(1) !== undefined && dim(1) !== 3))) {
    throw new ModelctlError(
      'INVALID_INPUT',
      `input ${input.name} has shape [${shape.map((d) => d ?? '?').join(', ')}]; image-classification needs [batch, 3, height, width]`,
      {
        hint:
          dim(3) === 3
            ? 'the model takes channels-last images, which predict does not make; run it with --task raw'
            : 'run it with --task raw',
      },
    );
  }
  const size = outputSize(config);
  const [height, width] = [dim(2), dim(3)];
  if (size && ((height !== undefined && height !== size.height) || (width !== undefined && width !== size.width))) {
    throw new ModelctlError(
      'INVALID_INPUT',
      `the image processor makes ${size.height}x${size.width} images but input ${input.name} takes ${height ?? '?'}x${width ?? '?'}`,
      {
        hint: 'preprocessor_config.json does not belong to this model: embed the right one with `modelctl embed-metadata MODEL --from-dir DIR`',
      },
    );
  }
  return { name: input.name, ...(height !== undefined ? { height } : {}), ...(width !== undefined ? { width } : {}) };
}

/** One batch of image files through the model; one prediction per image, in order. */
export async function classifyImages(
  ctx: RunContext,
  config: ImageProcessorConfig,
  files: readonly string[],
  modelConfig: unknown,
  topK?: number,
): Promise<ImageClassificationPrediction[]> {
  if (files.length === 0) return [];
  const input = imageInput(ctx.inputs, config);
  const images = await mapImages(files, (file) => preprocessImage(file, config));
  const { height, width } = images[0] as { height: number; width: number };
  const odd = images.findIndex((im) => im.height !== height || im.width !== width);
  if (odd >= 0) {
    throw new ModelctlError(
      'INVALID_INPUT',
      `${files[odd]} becomes ${images[odd]!.height}x${images[odd]!.width} but ${files[0]} ${height}x${width}: images of one batch must have one size`,
      {
        hint: 'the processor keeps the aspect ratio without cropping: run such images with --batch-size 1',
      },
    );
  }
  const plane = 3 * height * width;
  const pixels = new Float32Array(files.length * plane);
  images.forEach((im, i) => pixels.set(im.data, i * plane));
  const fetch = tensorOutputs(ctx);
  const name = fetch.find((n) => n === 'logits') ?? fetch[0];
  if (!name) throw new ModelctlError('INVALID_INPUT', 'the model has no tensor output');
  const feeds = { [input.name]: new ctx.Tensor('float32', pixels, [files.length, 3, height, width]) };
  const out = (await runSession(ctx, feeds, [name]))[name];
  const dims = out?.dims ?? [];
  if (!out || dims.length !== 2 || dims[0] !== files.length) {
    throw new ModelctlError('INVALID_INPUT', `output ${name} has shape [${dims.join(', ')}]; image classification needs [batch, labels]`, {
      hint: 'the model is not an image classifier: try --task raw',
    });
  }
  const labels = dims[1] as number;
  const data = Array.from(out.data as ArrayLike<number>, Number);
  const fn = scoreFunction(modelConfig, labels);
  return files.map((_, i) => ({ labels: rankLabels(scores(data.slice(i * labels, (i + 1) * labels), fn), modelConfig, topK) }));
}
