import { ModelctlError } from '../errors.js';
import { runSession, tensorOutputs, type RunContext } from './tensors.js';
import { textFeeds, type TextTokenizer } from './tokenize.js';

/**
 * Sequence classification heads (BertForSequenceClassification and kin): logits -> scores -> labels, as the
 * transformers text-classification pipeline does it: softmax over the labels, a sigmoid per label for
 * multi-label models (and single-logit ones), the raw value for regression; names from config.json's id2label.
 */

export interface LabelScore {
  label: string;
  score: number;
}

export interface TextClassificationPrediction {
  /** Every label (or the top K), highest score first. */
  labels: LabelScore[];
  truncated?: true;
}

export type ScoreFunction = 'softmax' | 'sigmoid' | 'none';

/** What transformers' pipeline applies, from config.json's problem_type and the number of logits. */
export function scoreFunction(modelConfig: unknown, numLabels: number): ScoreFunction {
  const problem = (modelConfig as { problem_type?: unknown } | undefined)?.problem_type;
  if (problem === 'regression') return 'none';
  if (problem === 'multi_label_classification' || numLabels === 1) return 'sigmoid';
  return 'softmax';
}

export function scores(logits: readonly number[], fn: ScoreFunction): number[] {
  if (fn === 'none') return [...logits];
  if (fn === 'sigmoid') return logits.map((x) => 1 / (1 + Math.exp(-x)));
  const max = Math.max(...logits);
  const exps = logits.map((x) => Math.exp(x - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/** config.json's id2label (keys are strings in JSON), else transformers' default LABEL_i. */
export function labelName(modelConfig: unknown, index: number): string {
  const id2label = (modelConfig as { id2label?: unknown } | undefined)?.id2label;
  const name = id2label && typeof id2label === 'object' ? (id2label as Record<string, unknown>)[String(index)] : undefined;
  return typeof name === 'string' ? name : `LABEL_${index}`;
}

/** Labels sorted by score (ties keep the label order), cut to the top K when K is given. */
export function rankLabels(values: readonly number[], modelConfig: unknown, topK?: number): LabelScore[] {
  const ranked = values.map((score, i) => ({ label: labelName(modelConfig, i), score, i })).sort((a, b) => b.score - a.score || a.i - b.i);
  return ranked.slice(0, topK ?? ranked.length).map(({ label, score }) => ({ label, score }));
}

/** One batch of texts through the model; one prediction per text, in order. */
export async function classifyTexts(
  ctx: RunContext,
  tokenizer: TextTokenizer,
  texts: readonly string[],
  modelConfig: unknown,
  topK?: number,
): Promise<TextClassificationPrediction[]> {
  if (texts.length === 0) return [];
  const batch = tokenizer.encodeBatch(texts);
  const fetch = tensorOutputs(ctx);
  const name = fetch.find((n) => n === 'logits') ?? fetch[0];
  if (!name) throw new ModelctlError('INVALID_INPUT', 'the model has no tensor output');
  const out = (await runSession(ctx, textFeeds(ctx, batch), [name]))[name];
  const dims = out?.dims ?? [];
  if (!out || dims.length !== 2 || dims[0] !== texts.length) {
    throw new ModelctlError('INVALID_INPUT', `output ${name} has shape [${dims.join(', ')}]; text classification needs [batch, labels]`, {
      hint: 'the model is not a sequence classifier: try --task feature-extraction or --task raw',
    });
  }
  const width = dims[1] as number;
  const data = Array.from(out.data as ArrayLike<number>, Number);
  const fn = scoreFunction(modelConfig, width);
  return texts.map((_, i) => {
    const labels = rankLabels(scores(data.slice(i * width, (i + 1) * width), fn), modelConfig, topK);
    return batch.truncated[i] ? { labels, truncated: true as const } : { labels };
  });
}
