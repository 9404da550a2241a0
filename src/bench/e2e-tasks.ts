import { ModelctlError } from '../errors.js';
import { prepareImage } from '../predict/image.js';
import { prepareText } from '../predict/text.js';
import type { ResolvedModel } from '../predict/types.js';
import type { Registry } from '../registry/index.js';
import { detectObjects } from '../tasks/object-detection.js';
import { answerQuestions, type QuestionContext } from '../tasks/question-answering.js';
import { featureSpec, predictTabular, type Row } from '../tasks/tabular.js';
import { tagTexts } from '../tasks/token-classification.js';
import { SAMPLE_TEXTS, cycle } from './e2e.js';
import { pipelineWorkload } from './e2e-pipeline.js';
import type { WorkloadFactory } from './workload.js';

/** --e2e for entities, answers, detections and tabular rows, through the functions predict runs. */

/** What --e2e runs on: texts, image files or rows, read from --file as predict reads them (bench/index.ts). */
export interface E2EInputs {
  model: string;
  registry?: Registry;
  texts?: string[];
  images?: string[];
  rows?: { rows: Row[]; columns?: string[] };
}

/** Questions for --e2e on a question-answering model: short and long contexts (the long one spans windows). */
export const SAMPLE_QUESTIONS: QuestionContext[] = [
  { question: 'Who lives in Paris?', context: 'Alice lives in Paris and works at a bakery near the river.' },
  {
    question: 'When did the delivery arrive?',
    context:
      'The order was placed on Monday. The delivery arrived on Thursday, two days later than promised, but the support team sorted it out quickly and refunded the shipping.',
  },
  { question: 'What does the battery do?', context: `${SAMPLE_TEXTS.join(' ')} The battery lasts all day.` },
];

/** Deterministic rows of `width` values in [0, 10) when no rows are given: a table-shaped workload. */
function syntheticRows(n: number, width: number): Row[] {
  let seed = 0x9e3779b9;
  const next = (): number => {
    seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x297a2d39) >>> 0;
    return (seed % 10_000) / 1000;
  };
  return Array.from({ length: n }, () => Array.from({ length: width }, next));
}

export async function otherPipeline(task: string, options: E2EInputs, m: ResolvedModel): Promise<WorkloadFactory | undefined> {
  if (task === 'token-classification') {
    const setup = await prepareText(options.model, m, options.registry);
    return pipelineWorkload(task, async (_rc, batch) => {
      const texts = cycle(options.texts ?? SAMPLE_TEXTS, batch);
      return {
        items: batch,
        inputs: [{ name: 'texts', type: 'string', dims: [batch], fill: `${new Set(texts).size} real texts, entities grouped (simple)` }],
        call: (rc) => tagTexts(rc, setup.tokenizer, texts, setup.modelConfig, 'simple'),
      };
    });
  }
  if (task === 'question-answering') {
    const setup = await prepareText(options.model, m, options.registry);
    return pipelineWorkload(task, async (_rc, batch) => {
      const pairs = cycle(SAMPLE_QUESTIONS, batch);
      return {
        items: batch,
        inputs: [
          {
            name: 'questions',
            type: 'string',
            dims: [batch],
            fill: `${Math.min(batch, SAMPLE_QUESTIONS.length)} question/context pairs, long contexts in windows`,
          },
        ],
        call: (rc) => answerQuestions(rc, setup.tokenizer, pairs, { batchSize: batch }),
      };
    });
  }
  if (task === 'object-detection') {
    const setup = await prepareImage(options.model, m, options.registry, task);
    if (!('detection' in setup)) throw new ModelctlError('NOT_AVAILABLE', 'bench --e2e does not run this detection model');
    const files = options.images ?? [];
    if (files.length === 0)
      throw new ModelctlError('USAGE', '--e2e on an object-detection model needs images', { hint: 'give --file IMAGE (repeatable)' });
    return pipelineWorkload(task, async (_rc, batch) => {
      const images = cycle(files, batch);
      return {
        items: batch,
        inputs: [
          {
            name: 'images',
            type: 'image',
            dims: [batch],
            fill: `${new Set(images).size} real image${files.length === 1 ? '' : 's'}: decode, letterbox, NMS`,
          },
        ],
        call: async (rc) => {
          // A static export takes exactly its batch size: the images go through in runs of that size, as predict does.
          const step = setup.detection.batch ?? images.length;
          for (let i = 0; i < images.length; i += step) await detectObjects(rc, setup.detection, images.slice(i, i + step));
        },
      };
    });
  }
  if (task === 'tabular-classification' || task === 'tabular-regression') {
    const given = options.rows?.rows ?? [];
    const columns = options.rows?.columns;
    return pipelineWorkload(task, async (rc, batch) => {
      const width = featureSpec(m.embedded?.featureConfig, rc).count ?? 1;
      const rows = given.length > 0 ? cycle(given, batch) : syntheticRows(batch, width);
      return {
        items: batch,
        inputs: [
          {
            name: 'rows',
            type: 'number',
            dims: [batch, width],
            fill: given.length > 0 ? `${given.length} real rows` : 'seeded rows of values in [0, 10)',
          },
        ],
        call: (rc2) =>
          predictTabular(rc2, rows, task, {
            featureConfig: m.embedded?.featureConfig,
            ...(given.length > 0 && columns ? { columns } : {}),
          }),
      };
    });
  }
  return undefined;
}
