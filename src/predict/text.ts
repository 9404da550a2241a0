import { loadProcessorFile } from './preprocessor.js';
import { ModelctlError } from '../errors.js';
import { detectTaskFromConfig, detectTaskFromFolderFiles, type DetectedTask } from '../formats/task.js';
import { companions, readCompanionJson, type Companions } from '../registry/companion-files.js';
import type { Registry } from '../registry/index.js';
import { readSentencePipeline, type SentencePipeline } from '../tasks/sentence-transformers.js';
import { loadTokenizer, type TextTokenizer, type TokenizerFiles } from '../tasks/tokenize.js';
import type { RunContext } from '../tasks/tensors.js';
import { DEFAULT_HYPOTHESIS_TEMPLATE, classifyZeroShot, hypothesis, parseCandidateLabels } from '../tasks/zero-shot-classification.js';
import type { PredictOptions, ResolvedModel } from './types.js';

/**
 * The text tasks of predict: where a model's tokenizer and config come from (the embedded metadata, else the
 * files beside the model). Texts are read by src/inputs and run in batches by predict.ts.
 */

export const TEXT_TASKS = [
  'text-classification',
  'token-classification',
  'feature-extraction',
  'fill-mask',
  'zero-shot-classification',
] as const;

export function isTextTask(task: string): boolean {
  return (TEXT_TASKS as readonly string[]).includes(task);
}

type ZeroShotFlags = Pick<PredictOptions, 'task' | 'candidateLabels' | 'hypothesisTemplate' | 'multiLabel'>;

/**
 * The zero-shot pipeline's keywords in a JSON document (a request body, --input): "candidate_labels" (a list or a
 * comma-separated string), "hypothesis_template", "multi_label". Absent keys stay absent.
 */
export function zeroShotFields(doc: Record<string, unknown>, where: string): Omit<ZeroShotFlags, 'task'> {
  const out: Omit<ZeroShotFlags, 'task'> = {};
  if (doc.candidate_labels !== undefined) out.candidateLabels = parseCandidateLabels(doc.candidate_labels, `${where} "candidate_labels"`);
  const template = doc.hypothesis_template;
  if (template !== undefined) {
    if (typeof template !== 'string') throw new ModelctlError('INVALID_INPUT', `${where}: "hypothesis_template" must be a string`);
    out.hypothesisTemplate = template;
  }
  if (doc.multi_label !== undefined) {
    if (typeof doc.multi_label !== 'boolean') throw new ModelctlError('INVALID_INPUT', `${where}: "multi_label" must be true or false`);
    out.multiLabel = doc.multi_label;
  }
  return out;
}

/** Candidate labels given for a model that is a text classifier (an NLI model exported as one) make it zero-shot. */
export function zeroShotTask(chosen: { task: string; reason: string }, options: ZeroShotFlags): { task: string; reason: string } {
  if (options.task === undefined && options.candidateLabels !== undefined && chosen.task === 'text-classification')
    return { task: 'zero-shot-classification', reason: `${chosen.reason}, and candidate labels were given` };
  return chosen;
}

/** The zero-shot options, refused before anything is loaded: labels for a zero-shot model only, and always for one. */
export function checkZeroShot(task: string, options: ZeroShotFlags): void {
  const given = options.candidateLabels !== undefined || options.hypothesisTemplate !== undefined || options.multiLabel !== undefined;
  if (task !== 'zero-shot-classification') {
    if (given)
      throw new ModelctlError(
        'USAGE',
        `candidate labels, hypothesis template and multi-label are for zero-shot-classification, not ${task}`,
      );
    return;
  }
  const first = options.candidateLabels?.[0];
  if (first === undefined)
    throw new ModelctlError('USAGE', 'zero-shot classification needs candidate labels', {
      hint: '--candidate-labels sports,politics,science (or "candidate_labels" in a request)',
    });
  hypothesis(options.hypothesisTemplate ?? DEFAULT_HYPOTHESIS_TEMPLATE, first);
}

/** One chunk of texts through fill-mask (its module loads when it runs) or zero-shot-classification. */
export async function maskOrZeroShot(
  ctx: RunContext,
  setup: TextSetup,
  task: 'fill-mask' | 'zero-shot-classification',
  texts: string[],
  options: Pick<PredictOptions, 'topK' | 'candidateLabels' | 'hypothesisTemplate' | 'multiLabel' | 'batchSize'>,
): Promise<unknown[]> {
  if (task === 'fill-mask') return (await import('../tasks/fill-mask.js')).fillMasks(ctx, setup.tokenizer, texts, options.topK);
  return classifyZeroShot(ctx, setup.tokenizer, texts, setup.modelConfig, {
    candidateLabels: options.candidateLabels ?? [],
    ...(options.hypothesisTemplate !== undefined ? { hypothesisTemplate: options.hypothesisTemplate } : {}),
    ...(options.multiLabel !== undefined ? { multiLabel: options.multiLabel } : {}),
    ...(options.batchSize !== undefined ? { pairsPerRun: options.batchSize } : {}),
  });
}

/**
 * For a model without an embedded or registered task: a sentence-transformers folder, else config.json's
 * architectures. Only a guess: a file that cannot be read here is no reason to refuse a model run as raw tensors.
 */
export async function detectTaskBeside(files: Companions): Promise<DetectedTask | undefined> {
  try {
    for (const marker of ['modules.json', 'sentence_bert_config.json']) {
      if ((await files.read(marker)) !== undefined) return detectTaskFromFolderFiles([marker]);
    }
    return detectTaskFromConfig(await readCompanionJson(files, 'config.json'));
  } catch (err) {
    if (err instanceof ModelctlError) return undefined;
    throw err;
  }
}

export interface TextSetup {
  tokenizer: TextTokenizer;
  modelConfig: unknown;
  /** feature-extraction: whether vectors are scaled to unit length. */
  normalize: boolean;
  /** feature-extraction of a sentence-transformers model: its pooling, normalisation, length, prompt. */
  sentence?: SentencePipeline;
}

/**
 * The tokenizer (embedded hf_processor_config first, else tokenizer.json beside the model) and config.json; for
 * feature-extraction (or no task named) also a sentence-transformers pipeline, from the same places, whose
 * max_seq_length cuts the texts and whose Normalize module decides `normalize` unless the caller does.
 */
export async function prepareText(
  model: string,
  m: ResolvedModel,
  registry: Registry | undefined,
  normalize?: boolean,
  task?: string,
): Promise<TextSetup> {
  const source = await loadProcessorFile('tokenizer', model, m, registry);
  const { modelConfig } = source;
  const tokenizerFiles: TokenizerFiles = {
    tokenizer: source.raw,
    config: (await source.read('tokenizer_config.json')) ?? {},
    where: source.from,
  };
  const files = companions(m, registry?.store.layout);
  const embedded = m.embedded?.processorConfig;
  const sentence =
    task === undefined || task === 'feature-extraction'
      ? await readSentencePipeline(async (path) => embedded?.[path] ?? (await readCompanionJson(files, path)))
      : undefined;
  const maxLength = sentence ? (sentence.maxSeqLength ?? sentenceDefaultLength(tokenizerFiles.config, modelConfig)) : undefined;
  return {
    tokenizer: await loadTokenizer(tokenizerFiles, modelConfig, m.summary.inputs, maxLength !== undefined ? { maxLength } : {}),
    modelConfig,
    normalize: normalize ?? sentence?.normalize ?? false,
    ...(sentence ? { sentence } : {}),
  };
}

/** Without max_seq_length, sentence-transformers caps the tokenizer's model_max_length at max_position_embeddings. */
function sentenceDefaultLength(tokenizerConfig: unknown, modelConfig: unknown): number | undefined {
  const lengths = [
    (tokenizerConfig as { model_max_length?: unknown })?.model_max_length,
    (modelConfig as { max_position_embeddings?: unknown })?.max_position_embeddings,
  ];
  const valid = lengths.filter((n): n is number => typeof n === 'number' && Number.isInteger(n) && n > 0 && n < 1_000_000);
  return valid.length ? Math.min(...valid) : undefined;
}
