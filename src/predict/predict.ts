import { ModelctlError } from '../errors.js';
import { KINDS, noItems, readInput } from '../inputs/open.js';
import type { InputKind, RecordStream } from '../inputs/types.js';
import type { OnnxSummary } from '../onnx/summary.js';
import { IMAGE_TASKS, isImageTask, predictImages, prepareImage, type ImageSetup } from './image.js';
import { AUDIO_TASKS, isAudioTask, prepareAudio, predictAudio, type AudioSetup } from './audio.js';
import { TEXT_TASKS, checkZeroShot, isTextTask, maskOrZeroShot, prepareText, zeroShotTask, type TextSetup } from './text.js';
import type { PredictInput, PredictOptions, PredictResult, Prediction, Predictor, ResolvedModel, StreamOutcome } from './types.js';
import { loadOrt, openSession, type OpenedSession } from '../runtime/index.js';
import { predictRaw } from '../tasks/raw.js';
import { predictTabular, type Row } from '../tasks/tabular.js';
import type { RunContext } from '../tasks/tensors.js';
import { classifyTexts } from '../tasks/text-classification.js';
import { tagTexts } from '../tasks/token-classification.js';
import { checkRunnableTask } from '../tasks/known.js';
import { answerQuestions } from '../tasks/question-answering.js';
import { chooseTask, resolveModel, zipMapOutputs } from './resolve.js';
import { GENERATIVE_TASKS, isGenerativeTask, prepareGenerative } from './generative.js';
import { refuseDecoderFile } from './seq2seq.js';

/**
 * predict: a model opened for its task (openPredictor), run on one input (predict) or on a stream of records read
 * by src/inputs (predictStream). Texts and records run in batches here; what each task does with them: src/tasks.
 */

export type { PredictInput, PredictOptions, PredictResult, Prediction, Predictor, ResolvedModel, StreamOutcome } from './types.js';
export { chooseTask, resolveModel } from './resolve.js';
/** The tasks this version of predict runs; the others are recognised and answered with NOT_AVAILABLE. */
export const PREDICT_TASKS = [
  'tabular-classification',
  'tabular-regression',
  ...TEXT_TASKS,
  'question-answering',
  ...GENERATIVE_TASKS,
  ...IMAGE_TASKS,
  ...AUDIO_TASKS,
  'raw',
] as const;

export const DEFAULT_BATCH_SIZE = 32;
/** More texts or images per run than this only costs memory (and one tokenizer pass builds the whole padded batch). */
export const MAX_BATCH_SIZE = 4096;
/** Rows per run for tabular streams when --batch-size is not given: large enough that the per-run cost vanishes. */
export const DEFAULT_ROW_BATCH = 256;

/** What a task reads its input as. */
export function inputKind(task: string): InputKind {
  if (task === 'question-answering') return 'questions';
  if (task === 'raw') return 'tensors';
  if (task.startsWith('tabular-')) return 'rows';
  if (isImageTask(task)) return 'images';
  if (isAudioTask(task)) return 'audio';
  return 'texts';
}

/** `{"input": [[...], ...]}` for a tabular model: the rows of its one input. */
function tensorsAsRows(tensors: Record<string, unknown>, summary: OnnxSummary): Row[] {
  const value = tensors[summary.inputs[0]?.name ?? ''];
  const t =
    value && typeof value === 'object' && !Array.isArray(value) && 'data' in value
      ? (value as { data: unknown; dims?: unknown })
      : undefined;
  const data = t ? t.data : value;
  if (Object.keys(tensors).length === 1 && Array.isArray(data)) {
    if (data.every(Array.isArray)) return data as Row[];
    // A flat tensor with its dims (a .npy file): [N, F] becomes N rows of F values.
    const dims = Array.isArray(t?.dims) ? (t.dims as number[]) : undefined;
    if (dims?.length === 2 && (dims[0] as number) * (dims[1] as number) === data.length) {
      const width = dims[1] as number;
      return Array.from({ length: dims[0] as number }, (_, i) => data.slice(i * width, (i + 1) * width));
    }
  }
  throw new ModelctlError('INVALID_INPUT', 'a tabular model takes rows', {
    hint: 'give [[5.1, 3.5, ...], ...], {"feature": value, ...}, or a CSV file with a header',
  });
}

function featureNames(m: ResolvedModel): string[] | undefined {
  const names = (m.embedded?.featureConfig as { feature_names?: unknown } | undefined)?.feature_names;
  return Array.isArray(names) ? names.map(String) : undefined;
}

function labelNames(m: ResolvedModel): Record<string, string> | undefined {
  const id2label = (m.embedded?.modelConfig as { id2label?: unknown } | undefined)?.id2label;
  return id2label && typeof id2label === 'object' ? (id2label as Record<string, string>) : undefined;
}

/** Refuses an input of the wrong kind for the task, before anything is loaded. */
function checkInputKind(task: string, kind: PredictInput['kind']): void {
  if ((isTextTask(task) || isGenerativeTask(task)) && kind !== 'texts')
    throw new ModelctlError('INVALID_INPUT', `a ${task} model takes texts`, {
      hint: 'give texts as arguments, --input \'["text", ...]\', or --file texts.txt',
    });
  if (task === 'question-answering' && kind !== 'questions')
    throw new ModelctlError('INVALID_INPUT', 'a question-answering model takes a question and its context', {
      hint: 'give --question Q --context C, or --input \'{"question": "...", "context": "..."}\'',
    });
  if (isImageTask(task) && kind !== 'images')
    throw new ModelctlError('INVALID_INPUT', `an ${task} model takes image files`, {
      hint: 'give image files as arguments or --file IMAGE',
    });
  if (isAudioTask(task) && kind !== 'audio')
    throw new ModelctlError('INVALID_INPUT', `an ${task} model takes audio files`, {
      hint: 'give WAV files as arguments or --file AUDIO.wav',
    });
  if (task === 'raw' && kind !== 'tensors')
    throw new ModelctlError('INVALID_INPUT', 'a raw model takes named tensors', { hint: '--input \'{"NAME": [[...]]}\'' });
  if (task.startsWith('tabular-') && kind !== 'rows' && kind !== 'tensors')
    throw new ModelctlError('INVALID_INPUT', `a ${task} model takes rows of numbers, not ${kind}`, {
      hint: "give rows as 5.1,3.5,1.4,0.2 or --input '[[...]]'",
    });
}

/** Batch size and top-k of the text and image tasks, refused before anything is loaded. */
function checkBatching(task: string, options: Pick<PredictOptions, 'batchSize' | 'topK'>): number {
  const size = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!isTextTask(task) && !isImageTask(task) && !isAudioTask(task) && task !== 'question-answering') return size;
  if (!Number.isSafeInteger(size) || size < 1 || size > MAX_BATCH_SIZE) {
    throw new ModelctlError('USAGE', `batch size must be a whole number from 1 to ${MAX_BATCH_SIZE}, not ${String(size)}`, {
      hint: `--batch-size ${DEFAULT_BATCH_SIZE} is the default`,
    });
  }
  if (options.topK !== undefined && !(Number.isSafeInteger(options.topK) && options.topK >= 1)) {
    throw new ModelctlError('USAGE', `top-k must be a whole number of at least 1, not ${String(options.topK)}`);
  }
  return size;
}

/** Texts in runs of `size` (the last one shorter), predictions in the order of the texts. */
async function predictTexts(
  ctx: RunContext,
  setup: TextSetup,
  task: string,
  texts: string[],
  size: number,
  options: Pick<PredictOptions, 'topK' | 'aggregation' | 'candidateLabels' | 'hypothesisTemplate' | 'multiLabel' | 'batchSize'>,
): Promise<Prediction[]> {
  if (texts.length === 0) {
    throw new ModelctlError('INVALID_INPUT', 'no texts given', {
      hint: 'give texts as arguments, --input \'["text", ...]\', or --file texts.txt',
    });
  }
  const { embedTexts } = task === 'feature-extraction' ? await import('../tasks/feature-extraction.js') : { embedTexts: undefined };
  const out: Prediction[] = [];
  for (let i = 0; i < texts.length; i += size) {
    const chunk = texts.length <= size ? texts : texts.slice(i, i + size);
    const { tokenizer, modelConfig } = setup;
    if (embedTexts) out.push(...((await embedTexts(ctx, tokenizer, chunk, setup.normalize, setup.sentence)) as Prediction[]));
    else if (task === 'token-classification')
      out.push(...((await tagTexts(ctx, tokenizer, chunk, modelConfig, options.aggregation)) as Prediction[]));
    else if (task === 'fill-mask' || task === 'zero-shot-classification')
      out.push(...((await maskOrZeroShot(ctx, setup, task, chunk, options)) as Prediction[]));
    else out.push(...((await classifyTexts(ctx, tokenizer, chunk, modelConfig, options.topK)) as Prediction[]));
  }
  return out;
}

/** Resolves the model and task, loads what the task needs (tokenizer, processor) and opens an ONNX Runtime session. */
export async function openPredictor(options: Omit<PredictOptions, 'input'> & { inputKind?: PredictInput['kind'] }): Promise<Predictor> {
  const m = options.resolved ?? (await resolveModel(options.model, options.registry, options));
  const { task, reason } = zeroShotTask(await chooseTask(options.task, m, options.registry), options);
  checkRunnableTask(task, PREDICT_TASKS, 'predict');
  refuseDecoderFile(m, task);
  if (options.inputKind) checkInputKind(task, options.inputKind);
  checkZeroShot(task, options);
  const size = checkBatching(task, options);
  // The tokenizer or processor is found (or its absence reported) before ONNX Runtime loads the model.
  const text =
    isTextTask(task) || task === 'question-answering'
      ? await prepareText(options.model, m, options.registry, isTextTask(task) ? options.normalize : undefined, task)
      : undefined;
  const image = isImageTask(task) ? await prepareImage(options.model, m, options.registry, task) : undefined;
  const audio = task === 'audio-classification' ? await prepareAudio(options.model, m, options.registry) : undefined;
  const generative = await prepareGenerative(task, options.model, m, options);
  const zipmap = task === 'tabular-classification' ? await zipMapOutputs(m) : undefined;
  const t0 = performance.now();
  const borrowed = zipmap ? undefined : options.opened;
  // The summary already names the external data files: the session need not scan the graph again to find them.
  const opened: OpenedSession = borrowed ?? (await openSession(m.path, options, zipmap?.bytes, m.summary.externalData));
  const ort = await loadOrt();
  const ctx: RunContext = {
    session: opened.session,
    Tensor: ort.Tensor,
    inputs: m.summary.inputs,
    outputs: [...m.summary.outputs, ...(zipmap?.outputs ?? [])],
  };
  const loadMs = performance.now() - t0;
  const base = {
    model: m.manifest ? `${m.manifest.name}:${m.manifest.version}` : m.path,
    task,
    taskReason: reason,
    provider: opened.provider,
    ...(opened.fellBack ? { fellBack: opened.fellBack } : {}),
  };
  const names = labelNames(m);
  const features = featureNames(m);
  let touched = false;
  const compute = async (
    input: PredictInput,
    rowName?: (index: number) => string,
  ): Promise<Omit<PredictResult, keyof typeof base | 'timings'>> => {
    checkInputKind(task, input.kind);
    if (generative) return { predictions: await generative.run(ctx, input) }; // texts, audio (speech) or images (image-to-text)
    if (input.kind === 'texts') {
      const predictions = await predictTexts(ctx, text as TextSetup, task, input.texts, size, options);
      return { ...(task === 'feature-extraction' ? { normalized: (text as TextSetup).normalize } : {}), predictions };
    }
    if (input.kind === 'questions')
      return {
        predictions: await answerQuestions(ctx, (text as TextSetup).tokenizer, input.pairs, {
          ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
          ...(options.topK !== undefined ? { topK: options.topK } : {}),
        }),
      };
    if (input.kind === 'images')
      return { predictions: await predictImages(ctx, image as ImageSetup, input.files, { ...options, batchSize: size }) };
    if (input.kind === 'audio') return { predictions: await predictAudio(ctx, audio as AudioSetup, input.files, options) };
    if (task === 'raw') return { outputs: await predictRaw(ctx, (input as { tensors: Record<string, unknown> }).tensors) };
    const rows = input.kind === 'rows' ? input.rows : tensorsAsRows(input.tensors, m.summary);
    const predictions = await predictTabular(ctx, rows, task, {
      featureConfig: m.embedded?.featureConfig,
      ...(input.kind === 'rows' && input.columns ? { columns: input.columns } : {}),
      ...(zipmap ? { classLabels: zipmap.labels } : {}),
      ...(rowName ? { rowName } : {}),
    });
    return {
      predictions: predictions.map((p) =>
        names && p.label !== undefined && names[String(p.label)] !== undefined ? { ...p, label_name: names[String(p.label)] as string } : p,
      ),
    };
  };
  return {
    resolved: m,
    task,
    taskReason: reason,
    provider: opened.provider,
    ...(opened.fellBack ? { fellBack: opened.fellBack } : {}),
    ...(features ? { featureNames: features } : {}),
    async run(input, extra) {
      const t1 = performance.now();
      const body = await compute(input, extra?.rowName);
      // The last-use record only orders gc's evictions: a failure to write it (a read-only home, a version removed
      // meanwhile) must not throw away a computed result.
      if (!touched && m.manifest && options.registry) {
        touched = true;
        await options.registry.store.touch(m.manifest.name, m.manifest.version).catch(() => {});
      }
      return { ...base, timings: { loadMs, runMs: performance.now() - t1 }, ...body };
    },
    close: async () => {
      await generative?.close();
      if (!borrowed) await opened.session.release();
    },
  };
}

/** Runs one input (a batch of rows, texts, images or questions, or a source to read it from) through a model: open, run, close. */
export async function predict(options: PredictOptions): Promise<PredictResult> {
  const m = options.resolved ?? (await resolveModel(options.model, options.registry, options));
  let input: PredictInput;
  if ('kind' in options.input) input = options.input;
  else {
    // Read before the model loads: a missing or broken file is reported without waiting for a session.
    const { task } = zeroShotTask(await chooseTask(options.task, m, options.registry), options);
    checkRunnableTask(task, PREDICT_TASKS, 'predict');
    input = await readInput(options.input, inputKind(task), { firstInput: m.summary.inputs[0]?.name ?? 'input' });
  }
  const predictor = await openPredictor({ ...options, resolved: m, inputKind: input.kind });
  try {
    return await predictor.run(input);
  } finally {
    await predictor.close();
  }
}

/** How long a part-filled batch of a stream waits for more records before it runs anyway. */
const STALL_MS = 50;
const STALLED = Symbol('stalled');

function delay(ms: number): Promise<typeof STALLED> {
  return new Promise((resolve) => setTimeout(() => resolve(STALLED), ms).unref());
}

type Item = { line: number; value: unknown };

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
async function runBatch(predictor: Predictor, items: Item[], stream: RecordStream): Promise<StreamOutcome[]> {
  const kind = KINDS[stream.kind];
  const one = (r: PredictResult, it: Item, i: number): StreamOutcome => ({
    line: it.line,
    ...(r.outputs ? { outputs: r.outputs } : { prediction: r.predictions?.[i] as Prediction }),
    ...(typeof it.value === 'string'
      ? { text: it.value }
      : stream.kind === 'questions'
        ? { question: (it.value as { question: string }).question }
        : {}),
  });
  // Named tensors are one run each: records of other shapes could not share a feed.
  if (items.length > 1 && stream.kind !== 'tensors') {
    try {
      const r = await predictor.run(
        kind.batch(
          items.map((it) => it.value),
          stream.columns,
        ),
      );
      return items.map((it, i) => one(r, it, i));
    } catch (err) {
      if (!isRecordError(err)) throw err;
    }
  }
  const out: StreamOutcome[] = [];
  for (const it of items) {
    try {
      const r = await predictor.run(kind.batch([it.value], stream.columns), { rowName: () => `${stream.where} line ${it.line}` });
      out.push(one(r, it, 0));
    } catch (err) {
      if (!isRecordError(err)) throw err;
      out.push(failure(err, it.line, stream.where));
    }
  }
  return out;
}

/**
 * predict over a stream of records (openInput's): batches of `batchSize` run as they fill, outcomes in input order;
 * a record that cannot be read or run is an error outcome with its line number. Throws when the stream is empty.
 */
export async function* predictStream(
  predictor: Predictor,
  stream: RecordStream,
  options: { batchSize?: number; stallMs?: number } = {},
): AsyncGenerator<StreamOutcome> {
  if (stream.kind === 'rows' && stream.columns && predictor.featureNames) {
    // Checked once here rather than reported again on every row.
    const missing = predictor.featureNames.filter((f) => !stream.columns?.includes(f));
    if (missing.length > 0) {
      throw new ModelctlError(
        'INVALID_INPUT',
        `${stream.where}: the header lacks feature${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`,
        {
          hint: `the model's features, in order: ${predictor.featureNames.join(', ')}`,
        },
      );
    }
  }
  const size = options.batchSize ?? (stream.kind === 'rows' ? DEFAULT_ROW_BATCH : DEFAULT_BATCH_SIZE);
  // Entries wait, in order, until the batch they belong to has run.
  let queue: Array<{ line: number; item?: Item; error?: StreamOutcome }> = [];
  let pendingItems = 0;
  let total = 0;
  const flush = async function* (): AsyncGenerator<StreamOutcome> {
    const items = queue.flatMap((q) => (q.item ? [q.item] : []));
    const results = new Map<number, StreamOutcome>();
    for (const o of items.length > 0 ? await runBatch(predictor, items, stream) : []) results.set(o.line, o);
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
      queue.push({ line: record.line, item: { line: record.line, value: record.value } });
      pendingItems++;
    }
    if (pendingItems >= size || queue.length >= size * 4) {
      stall = undefined;
      yield* flush();
    }
  }
  if (total === 0) throw noItems(stream.kind, stream.where);
  yield* flush();
}
