import { once } from 'node:events';
import { ModelctlError, type ErrorCode } from '../../errors.js';
import { chooseTask, openPredictor, predict, resolveModel, type PredictInput, type PredictResult, type Predictor } from '../../predict/predict.js';
import { predictStream, recordKind, type StreamOutcome } from '../../predict/stream.js';
import { openRecords, type RecordStream } from '../../tasks/records.js';
import { isImageTask } from '../../predict/image.js';
import { isTextTask, readTextFile, textsFromJson } from '../../predict/text.js';
import { pairsFromJson } from '../../tasks/question-answering.js';
import { AGGREGATIONS, isAggregation } from '../../tasks/token-classification.js';
import { fromJson, parseJsonText, readInputFile, readStdin, readTextInput, tryJson, type ParsedInput } from '../../tasks/inputs.js';
import { openRegistry, type CliContext } from '../context.js';
import type { Output } from '../render/output.js';
import { renderError } from '../render/errors.js';
import { jsonLine, renderResult } from '../render/predict.js';
import type { PredictFlags } from '../specs/predict.js';

/** Positional values: rows of comma-separated numbers (`5.1,3.5,1.4,0.2`). */
function rowsFromArgs(values: string[]): ParsedInput {
  return { kind: 'rows', rows: values.map((v) => v.split(',').map((x) => x.trim())) };
}

/** --file for question-answering: one JSON value, or JSON Lines of {"question", "context"}; - reads stdin. */
async function readPairs(path: string, stdin: () => Promise<string>): Promise<ReturnType<typeof pairsFromJson>> {
  const where = path === '-' ? 'stdin' : path;
  const text = path === '-' ? await stdin() : await readTextInput(path);
  const whole = tryJson(text);
  if (whole) return pairsFromJson(whole.value, where);
  return text.split(/\r?\n/).flatMap((line, i) => (line.trim() === '' ? [] : pairsFromJson(parseJsonText(line, `${where} line ${i + 1}`), `${where} line ${i + 1}`)));
}

function aggregation(v: string | undefined): (typeof AGGREGATIONS)[number] | undefined {
  if (v === undefined) return undefined;
  if (!isAggregation(v)) throw new ModelctlError('USAGE', `--aggregation takes ${AGGREGATIONS.join(', ')}, got "${v}"`);
  return v;
}

function warnTruncated(out: Output, truncated: number): void {
  if (truncated > 0) out.warn(`${truncated} text${truncated > 1 ? 's were' : ' was'} longer than the model takes and ${truncated > 1 ? 'were' : 'was'} truncated`);
}

/** Writes a line, waiting when the reader is slower than we are. */
async function writeLine(stream: NodeJS.WritableStream, line: string): Promise<void> {
  if (!stream.write(`${line}\n`)) await once(stream, 'drain');
}

/**
 * A stream of records: JSON Lines out as each batch finishes (or one table at the end for a person); a bad record
 * is reported on stderr with its line number and the others go on, unless --fail-fast. Exit 2 when any failed.
 */
async function predictRecords(out: Output, predictor: Predictor, stream: RecordStream, o: { batchSize?: number; topK?: number; failFast: boolean; signal: AbortSignal }): Promise<number> {
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
          renderError(out.withJson(false), new ModelctlError(outcome.error.code as ErrorCode, outcome.error.message, outcome.error.hint ? { hint: outcome.error.hint } : {}));
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
    if (predictor.task === 'raw') out.stdout.write(`${answered.map((a) => `line ${a.line}\n${renderResult(out, { task: 'raw', outputs: a.outputs ?? {} } as PredictResult, { kind: 'tensors', tensors: {} }, o.topK)}`).join('\n')}\n`);
    else out.stdout.write(`${renderResult(out, result, recordsInput(answered), o.topK, lines)}\n`);
  }
  if (!failed) return 0;
  if (!o.failFast) out.note(`${failures} of ${count} records failed`);
  return new ModelctlError(failed.code as ErrorCode, failed.message).exitCode;
}

/** What the table shows beside each streamed prediction: its text or question (rows are named by line). */
function recordsInput(answered: StreamOutcome[]): PredictInput {
  if (answered.some((a) => a.question !== undefined)) return { kind: 'questions', pairs: answered.map((a) => ({ question: a.question ?? '', context: '' })) };
  if (answered.some((a) => a.text !== undefined)) return { kind: 'texts', texts: answered.map((a) => a.text ?? '') };
  return { kind: 'rows', rows: [] };
}

export async function run([model = '', ...values]: string[], options: PredictFlags, ctx: CliContext): Promise<number> {
  // A table for a person at a terminal; JSON (JSON Lines for streams) for a pipe or a file, unless --table.
  const out = ctx.out.withJson(options.json === true || (options.table !== true && ctx.out.stdout.isTTY !== true));
  const registry = openRegistry(ctx);
  const asked = options.question !== undefined || options.context !== undefined;
  const given = [options.input !== undefined, options.file !== undefined, values.length > 0, asked].filter(Boolean).length;
  if (given !== 1) {
    throw new ModelctlError('USAGE', given === 0 ? 'no input given' : 'give the input one way only', {
      hint: 'values as arguments (5.1,3.5,1.4,0.2, texts for a text model, image files for an image model), --input JSON, --file FILE (.csv, .jsonl, .json, .npy, .txt; - for stdin), or --question with --context',
    });
  }
  const resolved = await resolveModel(model, registry);
  const explicitTask = options.task;
  const task = (await chooseTask(explicitTask, resolved, registry)).task;
  const { threads, batchSize, topK, conf, iou } = options;
  const agg = aggregation(options.aggregation);
  if (agg !== undefined && task !== 'token-classification') throw new ModelctlError('USAGE', `--aggregation is for token-classification models, not ${task}`);
  if (asked && task !== 'question-answering') throw new ModelctlError('USAGE', `--question and --context are for question-answering models, not ${task}`);
  const settings = {
    model,
    registry,
    resolved,
    ...(explicitTask !== undefined ? { task: explicitTask } : {}),
    ...(batchSize !== undefined ? { batchSize } : {}),
    ...(topK !== undefined ? { topK } : {}),
    ...(typeof options.normalize === 'boolean' ? { normalize: options.normalize } : {}),
    ...(agg !== undefined ? { aggregation: agg } : {}),
    conf,
    iou,
    device: options.device,
    ...(threads !== undefined ? { threads } : {}),
    ...(options.fallback ? { fallback: options.fallback } : {}),
    graphOptimization: options.optimization,
  };

  let stdin = readStdin;
  if (options.file === '-') {
    // Ctrl-C: a read of stdin that waits for more input must end too.
    ctx.signal.addEventListener('abort', () => process.stdin.destroy(), { once: true });
  }
  if (options.file !== undefined && !isImageTask(task)) {
    const opened = await openRecords(String(options.file), recordKind(task));
    if (ctx.signal.aborted) throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new ModelctlError('INTERRUPTED', 'interrupted');
    if (opened && 'records' in opened) {
      const predictor = await openPredictor({ ...settings, inputKind: recordKind(task) });
      if (predictor.fellBack) out.warn(`running on the CPU: ${predictor.fellBack}`);
      out.debug(`task ${predictor.task} (${predictor.taskReason}); streaming ${opened.format} from ${opened.where}`);
      return predictRecords(out, predictor, opened, { ...(batchSize !== undefined ? { batchSize } : {}), ...(topK !== undefined ? { topK } : {}), failFast: options.failFast === true, signal: ctx.signal });
    }
    if (opened) stdin = async () => opened.whole;
  }
  let input: PredictInput;
  if (task === 'question-answering') {
    if (asked) {
      if (options.question === undefined || options.context === undefined) throw new ModelctlError('USAGE', `--${options.question === undefined ? 'question' : 'context'} is missing`, { hint: 'give --question Q --context C together' });
      input = { kind: 'questions', pairs: pairsFromJson({ question: String(options.question), context: String(options.context) }, 'the question') };
    } else if (options.input !== undefined) input = { kind: 'questions', pairs: pairsFromJson(parseJsonText(String(options.input), '--input'), '--input') };
    else if (options.file !== undefined) input = { kind: 'questions', pairs: await readPairs(String(options.file), stdin) };
    else throw new ModelctlError('USAGE', 'a question-answering model takes --question and --context', { hint: 'or --input \'{"question": "...", "context": "..."}\'' });
  } else if (isImageTask(task)) {
    if (options.input !== undefined) throw new ModelctlError('USAGE', `a ${task} model takes image files, not --input`, { hint: 'give image files as arguments or --file IMAGE' });
    input = { kind: 'images', files: options.file !== undefined ? [String(options.file)] : values };
  } else if (isTextTask(task)) {
    const texts = options.input !== undefined ? textsFromJson(parseJsonText(String(options.input), '--input'), '--input') : options.file !== undefined ? await readTextFile(String(options.file), stdin) : values;
    input = { kind: 'texts', texts };
  } else if (options.input !== undefined) input = fromJson(parseJsonText(String(options.input), '--input'));
  else if (options.file !== undefined) input = await readInputFile(String(options.file), resolved.summary.inputs[0]?.name ?? 'input', stdin);
  else input = rowsFromArgs(values);
  const result = await predict({ ...settings, input });
  if (result.fellBack) out.warn(`running on the CPU: ${result.fellBack}`);
  out.debug(`task ${result.task} (${result.taskReason}); ${result.provider}; session ${result.timings.loadMs.toFixed(1)} ms, run ${result.timings.runMs.toFixed(1)} ms`);
  warnTruncated(out, result.predictions?.filter((p) => p.truncated).length ?? 0);
  out.result(result, () => renderResult(out, result, input, topK));
  return 0;
}
