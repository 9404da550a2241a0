import { once } from 'node:events';
import { ModelctlError, type ErrorCode } from '../../errors.js';
import { openInput } from '../../inputs/open.js';
import type { InputSource, RecordStream } from '../../inputs/types.js';
import {
  PREDICT_TASKS,
  chooseTask,
  inputKind,
  openPredictor,
  predict,
  predictStream,
  resolveModel,
  type PredictInput,
  type PredictResult,
  type Predictor,
  type StreamOutcome,
} from '../../predict/predict.js';
import { checkRunnableTask } from '../../tasks/known.js';
import { AGGREGATIONS, isAggregation } from '../../tasks/token-classification.js';
import { autoConvert } from './convert-progress.js';
import { parseCandidateLabels } from '../../tasks/zero-shot-classification.js';
import { zeroShotTask, zeroShotFields } from '../../predict/text.js';
import { parseJsonText } from '../../util/text.js';
import { openRegistry, type CliContext } from '../context.js';
import type { Output } from '../render/output.js';
import { renderError } from '../render/errors.js';
import { jsonLine, renderResult } from '../render/predict.js';
import type { PredictFlags } from '../specs/predict.js';
import { refuseGenerationFlags, runGeneration, speechFromFlags } from './predict-generate.js';
import { isSeq2SeqTask } from '../../tasks/seq2seq.js';

function aggregation(v: string | undefined): (typeof AGGREGATIONS)[number] | undefined {
  if (v === undefined) return undefined;
  if (!isAggregation(v)) throw new ModelctlError('USAGE', `--aggregation takes ${AGGREGATIONS.join(', ')}, got "${v}"`);
  return v;
}

function warnTruncated(out: Output, truncated: number): void {
  if (truncated > 0)
    out.warn(
      `${truncated} text${truncated > 1 ? 's were' : ' was'} longer than the model takes and ${truncated > 1 ? 'were' : 'was'} truncated`,
    );
}

/** Writes a line, waiting when the reader is slower than we are. */
async function writeLine(stream: NodeJS.WritableStream, line: string): Promise<void> {
  if (!stream.write(`${line}\n`)) await once(stream, 'drain');
}

/**
 * A stream of records: JSON Lines out as each batch finishes (or one table at the end for a person); a bad record
 * is reported on stderr with its line number and the others go on, unless --fail-fast. Exit 2 when any failed.
 */
async function predictRecords(
  out: Output,
  predictor: Predictor,
  stream: RecordStream,
  o: { batchSize?: number; topK?: number; failFast: boolean; signal: AbortSignal },
): Promise<number> {
  const answered: StreamOutcome[] = [];
  let failed: StreamOutcome['error'];
  let failures = 0;
  let count = 0;
  let truncated = 0;
  try {
    for await (const outcome of predictStream(predictor, stream, o.batchSize !== undefined ? { batchSize: o.batchSize } : {})) {
      if (o.signal.aborted) break;
      count++;
      if (outcome.prediction?.truncated) truncated++;
      if (out.json) await writeLine(out.stdout, jsonLine(outcome));
      else if (!outcome.error) answered.push(outcome);
      if (outcome.error) {
        failures++;
        failed ??= outcome.error;
        if (o.failFast) {
          // The bad record is already in the JSON Lines; the error itself goes to stderr only, as one line.
          renderError(
            out.withJson(false),
            new ModelctlError(
              outcome.error.code as ErrorCode,
              outcome.error.message,
              outcome.error.hint ? { hint: outcome.error.hint } : {},
            ),
          );
          break;
        }
        out.warn(outcome.error.message);
      }
    }
  } catch (err) {
    if (!o.signal.aborted) throw err;
  } finally {
    await predictor.close();
  }
  if (o.signal.aborted) throw o.signal.reason instanceof Error ? o.signal.reason : new ModelctlError('INTERRUPTED', 'interrupted');
  warnTruncated(out, truncated);
  if (!out.json && answered.length > 0) {
    const result = { task: predictor.task, predictions: answered.map((a) => a.prediction ?? {}) } as PredictResult;
    const lines = answered.map((a) => String(a.line));
    if (predictor.task === 'raw')
      out.stdout.write(
        `${answered.map((a) => `line ${a.line}\n${renderResult(out, { task: 'raw', outputs: a.outputs ?? {} } as PredictResult, { kind: 'tensors', tensors: {} }, o.topK)}`).join('\n')}\n`,
      );
    else out.stdout.write(`${renderResult(out, result, recordsInput(answered), o.topK, lines)}\n`);
  }
  if (!failed) return 0;
  if (!o.failFast) out.note(`${failures} of ${count} records failed`);
  return new ModelctlError(failed.code as ErrorCode, failed.message).exitCode;
}

/** What the table shows beside each streamed prediction: its text or question (rows are named by line). */
function recordsInput(answered: StreamOutcome[]): PredictInput {
  if (answered.some((a) => a.question !== undefined))
    return { kind: 'questions', pairs: answered.map((a) => ({ question: a.question ?? '', context: '' })) };
  if (answered.some((a) => a.text !== undefined)) return { kind: 'texts', texts: answered.map((a) => a.text ?? '') };
  return { kind: 'rows', rows: [] };
}

type ZeroShot = ReturnType<typeof zeroShotFields>;

/**
 * Zero-shot settings: the flags, over what an --input document of the pipeline's keywords says
 * ({"sequences": ..., "candidate_labels": [...], "hypothesis_template": ..., "multi_label": ...}).
 */
function zeroShot(options: PredictFlags, doc: Record<string, unknown> | undefined): ZeroShot {
  return {
    ...(doc ? zeroShotFields(doc, '--input') : {}),
    ...(options.candidateLabels !== undefined
      ? { candidateLabels: parseCandidateLabels(options.candidateLabels, '--candidate-labels') }
      : {}),
    ...(options.hypothesisTemplate !== undefined ? { hypothesisTemplate: options.hypothesisTemplate } : {}),
    ...(options.multiLabel !== undefined ? { multiLabel: options.multiLabel } : {}),
  };
}

/** An --input object holding candidate_labels: the zero-shot keywords, and its texts under "sequences", "text" or "texts". */
function zeroShotDocument(options: PredictFlags): Record<string, unknown> | undefined {
  if (options.input === undefined) return undefined;
  const value = parseJsonText(options.input, '--input');
  const doc = value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  return doc && 'candidate_labels' in doc ? doc : undefined;
}

/** Where the input comes from: --file (- for stdin), --input, --question with --context, or the values. */
function inputSource(options: PredictFlags, values: string[], doc?: Record<string, unknown>): InputSource {
  if (options.file !== undefined) return { file: options.file };
  if (doc) return { value: doc.sequences ?? doc.text ?? doc.texts, where: '--input' };
  if (options.input !== undefined) return { json: options.input, where: '--input' };
  if (options.question !== undefined)
    return { value: { question: options.question, context: String(options.context) }, where: 'the question' };
  return { values };
}

export async function run([model = '', ...values]: string[], options: PredictFlags, ctx: CliContext): Promise<number> {
  // A table for a person at a terminal; JSON (JSON Lines for streams) for a pipe or a file, unless --table.
  const out = ctx.out.withJson(options.json === true || (options.table !== true && ctx.out.stdout.isTTY !== true));
  const registry = openRegistry(ctx);
  const asked = options.question !== undefined || options.context !== undefined;
  const given = [options.input !== undefined, options.file !== undefined, values.length > 0, asked, options.chat !== undefined].filter(
    Boolean,
  ).length;
  if (given !== 1) {
    throw new ModelctlError('USAGE', given === 0 ? 'no input given' : 'give the input one way only', {
      hint: 'values as arguments (5.1,3.5,1.4,0.2, texts for a text model, image or WAV files for an image or audio model), --input JSON, --file FILE (.csv, .jsonl, .json, .npy, .txt; - for stdin), --question with --context, or --chat (text-generation)',
    });
  }
  const conversion = autoConvert(options, ctx);
  const resolved = await resolveModel(model, registry, { verify: options.verify === true, autoConvert: conversion.autoConvert }).finally(
    conversion.stop,
  );
  const explicitTask = options.task;
  const doc = zeroShotDocument(options);
  const zs = zeroShot(options, doc);
  const task = zeroShotTask(await chooseTask(explicitTask, resolved, registry), { task: explicitTask, ...zs }).task;
  checkRunnableTask(task, PREDICT_TASKS, 'predict'); // before the inputs are read as what this task is not
  refuseGenerationFlags(task, options);
  const { threads, batchSize, topK, conf, iou } = options;
  const agg = aggregation(options.aggregation);
  if (agg !== undefined && task !== 'token-classification')
    throw new ModelctlError('USAGE', `--aggregation is for token-classification models, not ${task}`);
  if (asked && task !== 'question-answering')
    throw new ModelctlError('USAGE', `--question and --context are for question-answering models, not ${task}`);
  const settings = {
    model,
    registry,
    resolved,
    ...(explicitTask !== undefined ? { task: explicitTask } : {}),
    ...(batchSize !== undefined ? { batchSize } : {}),
    ...(topK !== undefined ? { topK } : {}),
    ...(typeof options.normalize === 'boolean' ? { normalize: options.normalize } : {}),
    ...(agg !== undefined ? { aggregation: agg } : {}),
    ...zs,
    conf,
    iou,
    device: options.device,
    ...(threads !== undefined ? { threads } : {}),
    ...(options.fallback ? { fallback: options.fallback } : {}),
    graphOptimization: options.optimization,
    ...speechFromFlags(task, options, (message) => out.warn(message)),
  };

  if (task === 'text-generation' || isSeq2SeqTask(task))
    return runGeneration(out, settings, options, inputSource(options, values), ctx.signal);
  const kind = inputKind(task);
  if (asked && (options.question === undefined || options.context === undefined)) {
    throw new ModelctlError('USAGE', `--${options.question === undefined ? 'question' : 'context'} is missing`, {
      hint: 'give --question Q --context C together',
    });
  }
  if (task === 'question-answering' && !asked && options.input === undefined && options.file === undefined) {
    throw new ModelctlError('USAGE', 'a question-answering model takes --question and --context', {
      hint: 'or --input \'{"question": "...", "context": "..."}\'',
    });
  }
  if ((kind === 'images' || kind === 'audio') && options.input !== undefined) {
    const what = kind === 'images' ? 'image' : 'audio';
    throw new ModelctlError('USAGE', `a ${task} model takes ${what} files, not --input`, {
      hint: `give ${what} files as arguments or --file ${kind === 'images' ? 'IMAGE' : 'AUDIO.wav'}`,
    });
  }
  if (options.file === '-') {
    // Ctrl-C: a read of stdin that waits for more input must end too.
    ctx.signal.addEventListener('abort', () => process.stdin.destroy(), { once: true });
  }
  const opened = await openInput(inputSource(options, values, doc), kind, {
    stdin: process.stdin,
    firstInput: resolved.summary.inputs[0]?.name ?? 'input',
  });
  if (ctx.signal.aborted) throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new ModelctlError('INTERRUPTED', 'interrupted');
  if (opened.stream) {
    const predictor = await openPredictor({ ...settings, inputKind: kind });
    if (predictor.fellBack) out.warn(`running on the CPU: ${predictor.fellBack}`);
    out.debug(`task ${predictor.task} (${predictor.taskReason}); streaming ${opened.stream.format} from ${opened.stream.where}`);
    return predictRecords(out, predictor, opened.stream, {
      ...(batchSize !== undefined ? { batchSize } : {}),
      ...(topK !== undefined ? { topK } : {}),
      failFast: options.failFast === true,
      signal: ctx.signal,
    });
  }
  const input = opened.input;
  const result = await predict({ ...settings, input });
  if (result.fellBack) out.warn(`running on the CPU: ${result.fellBack}`);
  out.debug(
    `task ${result.task} (${result.taskReason}); ${result.provider}; session ${result.timings.loadMs.toFixed(1)} ms, run ${result.timings.runMs.toFixed(1)} ms`,
  );
  warnTruncated(out, result.predictions?.filter((p) => p.truncated).length ?? 0);
  out.result(result, () => renderResult(out, result, input, topK));
  return 0;
}
