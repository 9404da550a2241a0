import { ModelctlError } from '../errors.js';
import type { Registry } from '../registry/index.js';
import type { ImageClassificationPrediction } from '../tasks/image-classification.js';
import type { ImageProcessorConfig } from '../tasks/image.js';
import type { DetectionOptions, DetectionPrediction, DetectionSetup } from '../tasks/object-detection.js';
import type { RunContext } from '../tasks/tensors.js';
import { loadProcessorFile } from './preprocessor.js';
import type { ResolvedModel } from './types.js';

/**
 * The image tasks of predict: where a model's image processor config and config.json come from (the embedded
 * metadata, else the files beside the model or in its registry version, as for text tasks), and running image
 * files in batches.
 */

/** image-to-text reads images too; it generates its text through ./image-to-text.ts (prepareGenerative). */
export const IMAGE_TASKS = ['image-classification', 'object-detection', 'image-to-text'] as const;

export function isImageTask(task: string): boolean {
  return (IMAGE_TASKS as readonly string[]).includes(task);
}

/** A classifier's image processor and config.json, or a YOLO detector's input size and class names. */
export type ImageSetup = { processor: ImageProcessorConfig; modelConfig: unknown } | { detection: DetectionSetup };

/** preprocessor_config.json (./preprocessor.ts) as an image processor and config.json, checked against the model's input. */
export async function prepareImage(
  model: string,
  m: ResolvedModel,
  registry: Registry | undefined,
  task = 'image-classification',
): Promise<ImageSetup> {
  // YOLO detectors letterbox as Ultralytics does and carry their class names in metadata_props: no processor config.
  if (task === 'object-detection') {
    const { detectionSetup } = await import('../tasks/object-detection.js');
    return { detection: detectionSetup(m.summary, m.embedded?.modelConfig) };
  }
  // The image tasks' modules load only when an image model runs: a tabular or text prediction's cold start skips them.
  const [{ parseImageProcessorConfig }, { imageInput }] = await Promise.all([
    import('../tasks/image.js'),
    import('../tasks/image-classification.js'),
  ]);
  const { raw, where, modelConfig } = await loadProcessorFile('image processor', model, m, registry);
  const processor = parseImageProcessorConfig(raw, where);
  imageInput(m.summary.inputs, processor, task === 'image-to-text'); // a model that cannot take these images is refused before ONNX Runtime loads it
  return { processor, modelConfig };
}

/** Image files in batches of `batchSize` (the last one shorter; checked by predict), predictions in the order of the files. */
export async function predictImages(
  ctx: RunContext,
  setup: ImageSetup,
  files: readonly string[],
  options: { batchSize: number; topK?: number } & DetectionOptions,
): Promise<Array<ImageClassificationPrediction | DetectionPrediction>> {
  let size = options.batchSize;
  if (files.length === 0)
    throw new ModelctlError('INVALID_INPUT', 'no images given', { hint: 'give image files as arguments or --file IMAGE' });
  const out: Array<ImageClassificationPrediction | DetectionPrediction> = [];
  if ('detection' in setup) {
    const { detectObjects } = await import('../tasks/object-detection.js');
    size = setup.detection.batch ?? size; // a static export takes exactly its batch size (the last batch too)
    for (let i = 0; i < files.length; i += size)
      out.push(...(await detectObjects(ctx, setup.detection, files.slice(i, i + size), options)));
    return out;
  }
  const { classifyImages } = await import('../tasks/image-classification.js');
  for (let i = 0; i < files.length; i += size)
    out.push(...(await classifyImages(ctx, setup.processor, files.slice(i, i + size), setup.modelConfig, options.topK)));
  return out;
}
