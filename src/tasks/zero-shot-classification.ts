import { ModelctlError } from '../errors.js';
import { runSession, tensorOutputs, type RunContext } from './tensors.js';
import { textFeeds, type TextTokenizer } from './tokenize.js';
import type { LabelScore } from './text-classification.js';

/**
 * Zero-shot classification with an NLI sequence classifier, as transformers' zero-shot-classification pipeline
 * does it: each text (the premise) is paired with one hypothesis per candidate label, the template with the label
 * put in ("This example is {}."), only the premise cut when the pair is longer than the model takes. The
 * entailment logit is the label's: a softmax of those over the candidates, or, with multi-label (or a single
 * candidate), a softmax of each label's entailment against its contradiction logit. The entailment label is the
 * first of config.json's label2id whose name starts with "entail" (any case); contradiction is label 0 (the last
 * label when entailment is 0). Labels come back sorted by score, ties as numpy's argsort reversed leaves them.
 */

export interface ZeroShotOptions {
  candidateLabels: string[];
  /** Python format syntax: {} (or {0}) is the label, {{ and }} are braces. Default "This example is {}.". */
  hypothesisTemplate?: string;
  multiLabel?: boolean;
  /** (text, label) pairs per ONNX Runtime run (default 32): a run's memory grows with it, not with the labels. */
  pairsPerRun?: number;
}

export interface ZeroShotPrediction {
  /** The text classified. */
  sequence: string;
  /** Every candidate label, highest score first. */
  labels: LabelScore[];
  truncated?: true;
}

export const DEFAULT_HYPOTHESIS_TEMPLATE = 'This example is {}.';

/** Labels as the pipeline takes them: a list as given, or a comma-separated string (trimmed, empty ones dropped). */
export function parseCandidateLabels(value: unknown, where: string): string[] {
  const labels =
    typeof value === 'string'
      ? value
          .split(',')
          .map((l) => l.trim())
          .filter((l) => l !== '')
      : value;
  if (!Array.isArray(labels) || labels.length === 0 || !labels.every((l) => typeof l === 'string')) {
    throw new ModelctlError('INVALID_INPUT', `${where}: zero-shot classification needs candidate labels`, {
      hint: 'give --candidate-labels sports,politics,science (a JSON list or a comma-separated string in requests)',
    });
  }
  return labels as string[];
}

/** The template with the label put in, as Python's str.format(label) does for {} and {0}. */
export function hypothesis(template: string, label: string): string {
  let out = '';
  let filled = false;
  for (let i = 0; i < template.length; i++) {
    const c = template[i] as string;
    const next = template[i + 1];
    if ((c === '{' && next === '{') || (c === '}' && next === '}')) {
      out += c;
      i++;
    } else if (c === '{') {
      const end = template.indexOf('}', i);
      const field = end < 0 ? undefined : template.slice(i + 1, end);
      if (field !== '' && field !== '0')
        throw new ModelctlError('USAGE', `hypothesis template ${JSON.stringify(template)}: only {} (the label) may stand in braces`, {
          hint: 'write literal braces as {{ and }}',
        });
      out += label;
      filled = true;
      i = end;
    } else if (c === '}') {
      throw new ModelctlError('USAGE', `hypothesis template ${JSON.stringify(template)} has a lone }`, { hint: 'write it as }}' });
    } else out += c;
  }
  if (!filled)
    throw new ModelctlError('USAGE', `hypothesis template ${JSON.stringify(template)} has no {} for the label`, {
      hint: `e.g. --hypothesis-template "${DEFAULT_HYPOTHESIS_TEMPLATE}"`,
    });
  return out;
}

/** The index of the entailment label (config.json's label2id, else id2label). */
export function entailmentId(modelConfig: unknown): number {
  const c = (modelConfig ?? {}) as { label2id?: unknown; id2label?: unknown };
  const entries: Array<[string, unknown]> =
    c.label2id && typeof c.label2id === 'object'
      ? Object.entries(c.label2id as Record<string, unknown>)
      : Object.entries((c.id2label ?? {}) as Record<string, unknown>).map(([id, name]) => [String(name), Number(id)]);
  const found = entries.find(([name]) => name.toLowerCase().startsWith('entail'));
  if (!found || !Number.isInteger(found[1])) {
    throw new ModelctlError('INVALID_INPUT', "the model's labels name no entailment label, so it cannot score candidate labels", {
      hint: `zero-shot classification needs an NLI model whose config.json labels include "entailment" (it has: ${entries.map(([n]) => n).join(', ') || 'no labels'})`,
    });
  }
  return found[1] as number;
}

/** The premise and hypothesis framed as one pair, the premise cut (on the tokenizer's truncation side) to fit. */
function encodePair(tokenizer: TextTokenizer, premise: string, hyp: string): { ids: number[]; typeIds: number[]; truncated: boolean } {
  let a = tokenizer.tokens(premise);
  const b = tokenizer.tokens(hyp);
  const max = tokenizer.maxLength;
  const room = max === undefined ? Number.POSITIVE_INFINITY : max - tokenizer.specialCount(true) - b.length;
  if (room < 0)
    throw new ModelctlError('INVALID_INPUT', `the hypothesis "${hyp}" alone is longer than the ${max} tokens the model takes`, {
      hint: 'use shorter candidate labels or a shorter --hypothesis-template',
    });
  const truncated = a.length > room;
  if (truncated) a = tokenizer.truncateLeft ? a.slice(a.length - room) : a.slice(0, room);
  const framed = tokenizer.frame(a, b);
  return { ids: framed.ids, typeIds: framed.typeIds, truncated };
}

function softmax(xs: readonly number[]): number[] {
  const max = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - max));
  const sum = e.reduce((s, x) => s + x, 0);
  return e.map((x) => x / sum);
}

/** One batch of texts: their (text, label) pairs in runs of `pairsPerRun`; one prediction per text, in order. */
export async function classifyZeroShot(
  ctx: RunContext,
  tokenizer: TextTokenizer,
  texts: readonly string[],
  modelConfig: unknown,
  options: ZeroShotOptions,
): Promise<ZeroShotPrediction[]> {
  if (texts.length === 0) return [];
  const labels = options.candidateLabels;
  if (labels.length === 0)
    throw new ModelctlError('USAGE', 'zero-shot classification needs candidate labels', { hint: '--candidate-labels a,b,c' });
  const hyps = labels.map((l) => hypothesis(options.hypothesisTemplate ?? DEFAULT_HYPOTHESIS_TEMPLATE, l));
  const entail = entailmentId(modelConfig);
  const pairs = texts.flatMap((t) => hyps.map((h) => encodePair(tokenizer, t, h)));
  const fetch = tensorOutputs(ctx);
  const name = fetch.find((n) => n === 'logits') ?? fetch[0];
  if (!name) throw new ModelctlError('INVALID_INPUT', 'the model has no tensor output');
  const step = options.pairsPerRun ?? 32;
  const logits: number[] = [];
  let width = 0;
  for (let from = 0; from < pairs.length; from += step) {
    const run = pairs.slice(from, from + step);
    const out = (await runSession(ctx, textFeeds(ctx, tokenizer.padRows(run)), [name]))[name];
    const dims = out?.dims ?? [];
    width = dims[1] as number;
    if (!out || dims.length !== 2 || dims[0] !== run.length || width <= entail) {
      throw new ModelctlError(
        'INVALID_INPUT',
        `output ${name} has shape [${dims.join(', ')}]; zero-shot classification needs [pairs, NLI labels]`,
        {
          hint: 'the model is not an NLI sequence classifier',
        },
      );
    }
    for (const v of Array.from(out.data as ArrayLike<number>)) logits.push(Number(v));
  }
  const contradiction = entail === 0 ? width - 1 : 0;
  const at = (pair: number, label: number) => logits[pair * width + label] as number;
  return texts.map((sequence, i) => {
    const rows = labels.map((_, k) => i * labels.length + k);
    const values =
      options.multiLabel || labels.length === 1
        ? rows.map((r) => softmax([at(r, contradiction), at(r, entail)])[1] as number)
        : softmax(rows.map((r) => at(r, entail)));
    // numpy's argsort (stable for these short lists) reversed: the highest first, ties the later label first.
    const order = values.map((_, k) => k).sort((x, y) => (values[y] as number) - (values[x] as number) || y - x);
    const ranked = order.map((k) => ({ label: labels[k] as string, score: values[k] as number }));
    return rows.some((r) => pairs[r]?.truncated) ? { sequence, labels: ranked, truncated: true as const } : { sequence, labels: ranked };
  });
}
