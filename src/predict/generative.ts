import { SEQ2SEQ_TASKS, isSeq2SeqTask } from '../tasks/seq2seq.js';
import type { RunContext } from '../tasks/tensors.js';
import { settingsFor } from '../tasks/text-generation.js';
import { generateTexts, prepareGeneration, warnIgnored } from './generation.js';
import { prepareSeq2Seq, refuseSeq2SeqOptions } from './seq2seq.js';
import { ModelctlError } from '../errors.js';
import type { PredictInput, PredictOptions, Prediction, ResolvedModel } from './types.js';

/**
 * The tasks that generate text, for predict: a decoder-only model's (text-generation, ./generation.ts) and an
 * encoder-decoder model's (text2text-generation, translation, summarization, ./seq2seq.ts; automatic-speech-recognition
 * from audio files, ./speech.ts; image-to-text from image files, ./image-to-text.ts), behind one interface.
 */

export const GENERATIVE_TASKS = ['text-generation', ...SEQ2SEQ_TASKS] as const;

export function isGenerativeTask(task: string): boolean {
  return task === 'text-generation' || isSeq2SeqTask(task);
}

export interface Generative {
  /** The texts (prompts, or inputs to transform) or audio files (speech recognition) generated from, one after the other. */
  run(ctx: RunContext, input: PredictInput): Promise<Prediction[]>;
  close(): Promise<void>;
}

function texts(input: PredictInput): readonly string[] {
  if (input.kind !== 'texts') throw new ModelctlError('INVALID_INPUT', 'a text generation model takes texts');
  return input.texts;
}

/** A runner of files of one input kind (speech's audio, image-to-text's images) as a generative task's runner. */
function overFiles(
  runner: { run(ctx: RunContext, files: readonly string[]): Promise<unknown[]>; close(): Promise<void> },
  kind: 'audio' | 'images',
  refusal: string,
): Generative {
  return {
    run: async (ctx, input) => {
      if (input.kind !== kind) throw new ModelctlError('INVALID_INPUT', refusal);
      return (await runner.run(ctx, input.files)) as Prediction[];
    },
    close: () => runner.close(),
  };
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
    return { run: (ctx, input) => generateTexts(ctx, base, texts(input), options), close: async () => {} };
  }
  if (task === 'automatic-speech-recognition') {
    const { prepareSpeech } = await import('./speech.js');
    return overFiles(await prepareSpeech(model, m, options), 'audio', 'a speech recognition model takes audio files');
  }
  if (task === 'image-to-text') {
    const { prepareImageToText } = await import('./image-to-text.js');
    return overFiles(await prepareImageToText(model, m, options), 'images', 'an image-to-text model takes image files');
  }
  if (!isSeq2SeqTask(task)) return undefined;
  const runner = await prepareSeq2Seq(model, m, task, options);
  return { run: (ctx, input) => runner.run(ctx, texts(input)), close: () => runner.close() };
}
