import { SEQ2SEQ_TASKS, isSeq2SeqTask } from '../tasks/seq2seq.js';
import type { RunContext } from '../tasks/tensors.js';
import { settingsFor } from '../tasks/text-generation.js';
import { generateTexts, prepareGeneration, warnIgnored } from './generation.js';
import { prepareSeq2Seq, refuseSeq2SeqOptions } from './seq2seq.js';
import type { PredictOptions, Prediction, ResolvedModel } from './types.js';

/**
 * The tasks that generate text, for predict: a decoder-only model's (text-generation, ./generation.ts) and an
 * encoder-decoder model's (text2text-generation, translation, summarization, ./seq2seq.ts), behind one interface.
 */

export const GENERATIVE_TASKS = ['text-generation', ...SEQ2SEQ_TASKS] as const;

export function isGenerativeTask(task: string): boolean {
  return task === 'text-generation' || isSeq2SeqTask(task);
}

export interface Generative {
  /** The texts (prompts, or inputs to transform) generated from, one after the other. */
  run(ctx: RunContext, texts: readonly string[]): Promise<Prediction[]>;
  close(): Promise<void>;
}

/**
 * What generation needs, loaded before the model (tokenizer, configs, an encoder-decoder's decoder session);
 * undefined for the other tasks, which are refused the beam-search options.
 */
export async function prepareGenerative(
  task: string,
  model: string,
  m: ResolvedModel,
  options: Omit<PredictOptions, 'input'>,
): Promise<Generative | undefined> {
  refuseSeq2SeqOptions(task, options.generation);
  if (task === 'text-generation') {
    const base = await prepareGeneration(model, m, options.registry);
    warnIgnored(settingsFor(base, options.generation ?? {}), options.generation?.onWarning);
    return { run: (ctx, texts) => generateTexts(ctx, base, texts, options), close: async () => {} };
  }
  if (!isSeq2SeqTask(task)) return undefined;
  const runner = await prepareSeq2Seq(model, m, task, options);
  return { run: (ctx, texts) => runner.run(ctx, texts), close: () => runner.close() };
}
