import { ModelctlError } from '../errors.js';
import { pairsFromJson, type QuestionContext } from '../tasks/question-answering.js';
import type { RecordKind, RecordStream } from '../tasks/records.js';
import type { Row } from '../tasks/tabular.js';
import type { JsonTensor } from '../tasks/tensors.js';
import type { Prediction, PredictInput, Predictor } from './predict.js';
import { textsFromJson } from './text.js';

/**
 * predict over a stream of records: batches of `batchSize` run as they fill, outcomes come back in input order,
 * and a record that cannot be read or run becomes an error outcome with its line number while the others go on.
 */

export interface StreamOutcome {
  line: number;
  prediction?: Prediction;
  outputs?: Record<string, JsonTensor>;
  error?: { code: string; message: string; hint?: string };
  /** The text or question answered (for a table; not part of the JSON Lines record). */
  text?: string;
  question?: string;
}

/** How long a part-filled batch waits for more records before it runs anyway. */
const STALL_MS = 50;
const STALLED = Symbol('stalled');

function delay(ms: number): Promise<typeof STALLED> {
  return new Promise((resolve) => setTimeout(() => resolve(STALLED), ms).unref());
}

/** Rows per run for tabular streams when --batch-size is not given: large enough that the per-run cost vanishes. */
export const DEFAULT_ROW_BATCH = 256;

type Item = { line: number; row: Row } | { line: number; text: string } | { line: number; pair: QuestionContext } | { line: number; tensors: Record<string, unknown> };

/** What a predictor of this task reads its records as. */
export function recordKind(task: string): RecordKind {
  if (task === 'question-answering') return 'questions';
  if (task === 'raw') return 'tensors';
  if (task.startsWith('tabular-')) return 'rows';
  return 'texts';
}

function item(kind: RecordKind, line: number, value: unknown, where: string): Item {
  const at = `${where} line ${line}`;
  if (kind === 'rows') {
    if (value === null || typeof value !== 'object') throw new ModelctlError('INVALID_INPUT', `${at} is not a row`, { hint: 'one row per line: [5.1, 3.5, ...] or {"feature": value, ...}' });
    return { line, row: value as Row };
  }
  if (kind === 'texts') {
    const texts = Array.isArray(value) ? [] : textsFromJson(value, at);
    if (texts.length !== 1) throw new ModelctlError('INVALID_INPUT', `${at} is not one text`, { hint: 'one text per line: "text" or {"text": "..."}' });
    return { line, text: texts[0] as string };
  }
  if (kind === 'questions') {
    if (Array.isArray(value)) throw new ModelctlError('INVALID_INPUT', `${at} is not one question`, { hint: 'one {"question": "...", "context": "..."} per line' });
    return { line, pair: (pairsFromJson(value, at) as [QuestionContext])[0] };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ModelctlError('INVALID_INPUT', `${at} is not an object of named tensors`, { hint: '{"NAME": [[...]]} per line' });
  return { line, tensors: value as Record<string, unknown> };
}

function asInput(items: Item[], columns: string[] | undefined): PredictInput {
  const first = items[0] as Item;
  if ('row' in first) return { kind: 'rows', rows: items.map((i) => (i as { row: Row }).row), ...(columns ? { columns } : {}) };
  if ('text' in first) return { kind: 'texts', texts: items.map((i) => (i as { text: string }).text) };
  if ('pair' in first) return { kind: 'questions', pairs: items.map((i) => (i as { pair: QuestionContext }).pair) };
  return { kind: 'tensors', tensors: first.tensors };
}

function failure(err: unknown, line: number, where: string): StreamOutcome {
  if (!(err instanceof ModelctlError)) throw err;
  const message = err.message.includes(`line ${line}`) ? err.message : `${where} line ${line}: ${err.message}`;
  return { line, error: { code: err.code, message, ...(err.hint ? { hint: err.hint } : {}) } };
}

/** Only input errors belong to a record; anything else (a broken model, a missing provider) ends the stream. */
function isRecordError(err: unknown): boolean {
  return err instanceof ModelctlError && err.code === 'INVALID_INPUT';
}

/** One batch: run together; when that fails on an input, each record alone, so the bad ones are named. */
async function runBatch(predictor: Predictor, items: Item[], columns: string[] | undefined, where: string): Promise<StreamOutcome[]> {
  const one = (r: Awaited<ReturnType<Predictor['run']>>, it: Item, i: number): StreamOutcome => ({
    line: it.line,
    ...(r.outputs ? { outputs: r.outputs } : { prediction: r.predictions?.[i] as Prediction }),
    ...('text' in it ? { text: it.text } : 'pair' in it ? { question: it.pair.question } : {}),
  });
  if (items.length > 1 && !('tensors' in (items[0] as Item))) {
    try {
      const r = await predictor.run(asInput(items, columns));
      return items.map((it, i) => one(r, it, i));
    } catch (err) {
      if (!isRecordError(err)) throw err;
    }
  }
  const out: StreamOutcome[] = [];
  for (const it of items) {
    try {
      const r = await predictor.run(asInput([it], columns), { rowName: () => `${where} line ${it.line}` });
      out.push(one(r, it, 0));
    } catch (err) {
      if (!isRecordError(err)) throw err;
      out.push(failure(err, it.line, where));
    }
  }
  return out;
}

/** Outcomes in input order, a batch at a time. Throws when the stream holds no record at all. */
export async function* predictStream(predictor: Predictor, stream: RecordStream, options: { batchSize?: number; stallMs?: number } = {}): AsyncGenerator<StreamOutcome> {
  const kind = recordKind(predictor.task);
  if (kind === 'rows' && stream.columns && predictor.featureNames) {
    // Checked once here rather than reported again on every row.
    const missing = predictor.featureNames.filter((f) => !stream.columns?.includes(f));
    if (missing.length > 0) {
      throw new ModelctlError('INVALID_INPUT', `${stream.where}: the header lacks feature${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`, {
        hint: `the model's features, in order: ${predictor.featureNames.join(', ')}`,
      });
    }
  }
  const size = options.batchSize ?? (kind === 'rows' ? DEFAULT_ROW_BATCH : 32);
  // Entries wait, in order, until the batch they belong to has run.
  let queue: Array<{ line: number; item?: Item; error?: StreamOutcome }> = [];
  let pendingItems = 0;
  let total = 0;
  const flush = async function* (): AsyncGenerator<StreamOutcome> {
    const items = queue.flatMap((q) => (q.item ? [q.item] : []));
    const results = new Map<number, StreamOutcome>();
    for (const o of items.length > 0 ? await runBatch(predictor, items, stream.columns, stream.where) : []) results.set(o.line, o);
    for (const q of queue) yield q.error ?? (results.get(q.line) as StreamOutcome);
    queue = [];
    pendingItems = 0;
  };
  const it = stream.records[Symbol.asyncIterator]();
  let next = it.next();
  // A part-filled batch runs at the latest this long after its first record came: input that stalls (a producer
  // writing slowly into stdin) gets what it sent answered without waiting for a full batch.
  let stall: Promise<typeof STALLED> | undefined;
  for (;;) {
    const waited = queue.length > 0 ? await Promise.race([next, (stall ??= delay(options.stallMs ?? STALL_MS))]) : await next;
    if (waited === STALLED) {
      stall = undefined;
      yield* flush();
      continue;
    }
    if (waited.done) break;
    next = it.next();
    const record = waited.value;
    total++;
    if (record.error) queue.push({ line: record.line, error: failure(record.error, record.line, stream.where) });
    else {
      try {
        queue.push({ line: record.line, item: item(kind, record.line, record.value, stream.where) });
        pendingItems++;
      } catch (err) {
        queue.push({ line: record.line, error: failure(err, record.line, stream.where) });
      }
    }
    if (pendingItems >= size || queue.length >= size * 4) {
      stall = undefined;
      yield* flush();
    }
  }
  if (total === 0) {
    const what = kind === 'rows' ? 'rows' : kind === 'texts' ? 'texts' : kind === 'questions' ? 'questions' : 'records';
    throw new ModelctlError('INVALID_INPUT', `no ${what} in ${stream.where}`, { hint: `give at least one line of input` });
  }
  yield* flush();
}
