import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { Tensor } from 'onnxruntime-node';
import { ModelctlError, fsError } from '../errors.js';
import { embeddingOutput, embeddingTexts, poolEmbeddings } from '../tasks/feature-extraction.js';
import type { SentencePipeline } from '../tasks/sentence-transformers.js';
import { imageInput } from '../tasks/image-classification.js';
import { mapImages, preprocessImage, type ImageProcessorConfig } from '../tasks/image.js';
import { runSession, tensorOutputs } from '../tasks/tensors.js';
import { rankLabels, scoreFunction, scores } from '../tasks/text-classification.js';
import { textFeeds, type TextTokenizer } from '../tasks/tokenize.js';
import { runContext, type InputDescription, type WorkloadFactory } from './workload.js';

/**
 * --e2e: the task pipeline on real inputs, each stage timed apart: text to tensors (tokenization), the model, and
 * tensors to answers (scores, labels, pooled vectors); or image bytes to pixels (decode, resize, normalize). The
 * stages call the same functions predict uses. Setup (loading the tokenizer, reading files) is done once, not timed.
 */

export const E2E_TASKS = [
  'text-classification',
  'feature-extraction',
  'image-classification',
  'token-classification',
  'question-answering',
  'object-detection',
  'tabular-classification',
  'tabular-regression',
] as const;

/** Texts for --e2e when none are given: ordinary sentences of varied length. */
export const SAMPLE_TEXTS = [
  'The delivery arrived two days late, but the support team sorted it out quickly.',
  'I would not recommend this product to anyone.',
  'An excellent, thoughtful book that rewards a second reading.',
  'The battery lasts all day and the screen is bright enough to read in sunlight, which is more than I expected at this price.',
  'Terrible.',
  'Service was fine; the food was cold.',
  'Setup took five minutes and it has worked without a hitch since.',
  'The manual is confusing and several pages are missing.',
];

export function cycle<T>(items: readonly T[], n: number): T[] {
  return Array.from({ length: n }, (_, i) => items[i % items.length] as T);
}

function describeFeeds(feeds: Record<string, Tensor>, fill: string): InputDescription[] {
  return Object.entries(feeds).map(([name, t]) => ({ name, type: t.type, dims: [...t.dims], fill }));
}

export interface TextE2E {
  task: 'text-classification' | 'feature-extraction';
  tokenizer: TextTokenizer;
  modelConfig: unknown;
  normalize: boolean;
  /** A sentence-transformers model's pooling, prompt and lowercasing (feature extraction). */
  sentence?: SentencePipeline;
  texts: string[];
}

export function textWorkload(setup: TextE2E): WorkloadFactory {
  if (setup.texts.length === 0)
    throw new ModelctlError('INVALID_INPUT', 'no texts to benchmark', { hint: 'give --file texts.txt with one text per line' });
  return async (ctx) => {
    const rc = runContext(ctx);
    const embedding = setup.task === 'feature-extraction';
    // The texts as predict feeds them (a sentence-transformers prompt and lowercasing applied once, not timed).
    const texts = embedding
      ? [...embeddingTexts(cycle(setup.texts, ctx.request.batch), setup.sentence)]
      : cycle(setup.texts, ctx.request.batch);
    const name = embedding ? embeddingOutput(rc) : (tensorOutputs(rc).find((n) => n === 'logits') ?? (tensorOutputs(rc)[0] as string));
    const probe = textFeeds(rc, setup.tokenizer.encodeBatch(texts));
    return {
      kind: `e2e:${setup.task}`,
      items: texts.length,
      inputs: describeFeeds(probe, `${setup.texts.length} real text${setup.texts.length === 1 ? '' : 's'}, tokenized and padded`),
      async run() {
        const t0 = performance.now();
        const batch = setup.tokenizer.encodeBatch(texts);
        const feeds = textFeeds(rc, batch);
        const t1 = performance.now();
        const out = (await runSession(rc, feeds, [name]))[name] as Tensor;
        const t2 = performance.now();
        if (embedding) {
          poolEmbeddings(name, out, batch, setup.normalize, setup.sentence);
        } else {
          const width = out.dims.at(-1) as number;
          const values = Array.from(out.data as Float32Array, Number);
          const fn = scoreFunction(setup.modelConfig, width);
          texts.forEach((_, i) => rankLabels(scores(values.slice(i * width, (i + 1) * width), fn), setup.modelConfig));
        }
        const t3 = performance.now();
        return { tokenize: t1 - t0, inference: t2 - t1, postprocess: t3 - t2 };
      },
    };
  };
}

export interface ImageE2E {
  processor: ImageProcessorConfig;
  modelConfig: unknown;
  files: string[];
}

export async function imageWorkload(setup: ImageE2E): Promise<WorkloadFactory> {
  if (setup.files.length === 0)
    throw new ModelctlError('INVALID_INPUT', 'no images to benchmark', { hint: 'give image files: --file IMAGE (repeatable)' });
  // The bytes are read once: the benchmark times decoding and resizing, not the disk.
  const bytes = await Promise.all(
    setup.files.map((f) =>
      readFile(f).catch((err: unknown) => {
        throw fsError(err, f);
      }),
    ),
  );
  return async (ctx) => {
    const rc = runContext(ctx);
    const n = ctx.request.batch;
    const files = cycle(setup.files, n);
    const data = cycle(bytes, n);
    const input = imageInput(rc.inputs, setup.processor);
    const fetch = tensorOutputs(rc);
    const name = fetch.find((o) => o === 'logits') ?? (fetch[0] as string);
    const first = await preprocessImage(files[0] as string, setup.processor, data[0]);
    const plane = 3 * first.height * first.width;
    return {
      kind: 'e2e:image-classification',
      items: n,
      inputs: [
        {
          name: input.name,
          type: 'float32',
          dims: [n, 3, first.height, first.width],
          fill: `${setup.files.length} real image${setup.files.length === 1 ? '' : 's'}, decoded and preprocessed`,
        },
      ],
      async run() {
        const t0 = performance.now();
        const pixels = new Float32Array(n * plane);
        // concurrently, as predict preprocesses a batch (tasks/image-classification.ts)
        await mapImages(files, async (file, i) => {
          const im = await preprocessImage(file, setup.processor, data[i]);
          if (im.data.length !== plane)
            throw new ModelctlError('INVALID_INPUT', `${file} preprocesses to another size than ${files[0]}`, {
              hint: 'benchmark images of one size, or one image',
            });
          pixels.set(im.data, i * plane);
        });
        const t1 = performance.now();
        const out = (
          await runSession(rc, { [input.name]: new ctx.ort.Tensor('float32', pixels, [n, 3, first.height, first.width]) }, [name])
        )[name] as Tensor;
        const t2 = performance.now();
        const labels = out.dims.at(-1) as number;
        const values = Array.from(out.data as Float32Array, Number);
        const fn = scoreFunction(setup.modelConfig, labels);
        for (let i = 0; i < n; i++) rankLabels(scores(values.slice(i * labels, (i + 1) * labels), fn), setup.modelConfig);
        const t3 = performance.now();
        return { preprocess: t1 - t0, inference: t2 - t1, postprocess: t3 - t2 };
      },
    };
  };
}
