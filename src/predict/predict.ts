import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ModelctlError, fsError } from '../errors.js';
import { detectTaskFromOnnx } from '../formats/task.js';
import { decodeHfMetadata, type DecodedHfMetadata } from '../onnx/metadata.js';
import { readOnnxSummary, type OnnxSummary, type OnnxValueInfo } from '../onnx/summary.js';
import type { Registry } from '../registry/index.js';
import type { Manifest } from '../registry/manifest.js';
import type { VerifiedFiles } from '../registry/verify.js';
import { modelArg } from '../registry/model-arg.js';
import { IMAGE_TASKS, isImageTask, predictImages, prepareImage, type ImageSetup } from './image.js';
import { TEXT_TASKS, companions, detectTaskBeside, isTextTask, prepareText, predictTexts, type TextSetup } from './text.js';
import { loadOrt, openSession, type OpenedSession, type SessionOptions } from '../runtime/index.js';
import { predictRaw } from '../tasks/raw.js';
import { predictTabular, type Row, type TabularPrediction } from '../tasks/tabular.js';
import type { JsonTensor, RunContext } from '../tasks/tensors.js';
import type { EmbeddingPrediction } from '../tasks/feature-extraction.js';
import type { DetectionPrediction } from '../tasks/object-detection.js';
import type { TextClassificationPrediction } from '../tasks/text-classification.js';
import type { Aggregation, TokenClassificationPrediction } from '../tasks/token-classification.js';
import { answerQuestions, type Answer, type QuestionContext } from '../tasks/question-answering.js';
import { expandHome } from '../util/paths.js';

/** Tasks predict will run but does not yet (NOT_AVAILABLE, exit 9); any other name is a usage error. */
const PLANNED_TASKS: string[] = [];

/** The tasks this version of predict runs; the others are recognised and answered with NOT_AVAILABLE. */
export const PREDICT_TASKS = ['tabular-classification', 'tabular-regression', ...TEXT_TASKS, 'question-answering', ...IMAGE_TASKS, 'raw'] as const;

export interface ResolvedModel {
  /** The ONNX file ONNX Runtime loads (inside a view folder for registry versions with companion files). */
  path: string;
  summary: OnnxSummary;
  embedded?: DecodedHfMetadata;
  manifest?: Manifest;
  /** A registry version's files as checked before use (serve re-checks their fingerprints per request). */
  verified?: VerifiedFiles;
}

/**
 * A path, or a registry reference whose ONNX file (and companions) is made available by path, every file checked
 * first (registry/verify.ts; `verify` re-hashes them all).
 */
export async function resolveModel(model: string, registry?: Registry, options: { verify?: boolean } = {}): Promise<ResolvedModel> {
  const ref = await modelArg(model);
  if (ref.kind === 'path') {
    const path = resolve(expandHome(ref.path));
    const st = await stat(path).catch((err: unknown) => {
      throw fsError(err, model);
    });
    if (!st.isFile()) throw new ModelctlError('INVALID_INPUT', `${model} is not a file`, { hint: 'give the .onnx file itself' });
    const summary = await readOnnxSummary(path);
    const embedded = decodeHfMetadata(summary.metadataProps);
    return { path, summary, ...(embedded ? { embedded } : {}) };
  }
  if (ref.kind !== 'registry' || !registry) throw new ModelctlError('INVALID_REFERENCE', `${model} is neither an ONNX file nor a registry model`);
  const manifest = await registry.resolve(ref);
  const primary = typeof manifest.metadata.primary === 'string' ? manifest.metadata.primary : manifest.files.find((f) => f.path.endsWith('.onnx'))?.path;
  const file = manifest.files.find((f) => f.path === primary);
  if (manifest.format !== 'onnx' || !file) {
    throw new ModelctlError('INVALID_INPUT', `${manifest.name}:${manifest.version} is a ${manifest.format} model; predict runs ONNX`, {
      hint: `convert it first: \`modelctl export ${manifest.name}:${manifest.version}\``,
    });
  }
  const verified = await registry.verify(manifest, { force: options.verify === true });
  const blob = registry.store.layout.blob(file.sha256);
  const summary = await readOnnxSummary(blob);
  const path = summary.externalData.length > 0 ? join(await registry.materialize(manifest), file.path) : blob;
  const embedded = decodeHfMetadata(summary.metadataProps);
  return { path, summary, manifest, verified, ...(embedded ? { embedded } : {}) };
}

/** --task, else the embedded task, else the registered one, else the graph or the files beside it; "raw" when nothing says. */
export async function chooseTask(explicit: string | undefined, m: ResolvedModel, registry?: Registry): Promise<{ task: string; reason: string }> {
  if (explicit) return { task: explicit, reason: '--task' };
  if (m.embedded?.task) return { task: m.embedded.task, reason: 'embedded metadata' };
  if (m.manifest?.task) return { task: m.manifest.task, reason: 'registry' };
  const detected = detectTaskFromOnnx(m.summary) ?? (await detectTaskBeside(companions(m, registry)));
  if (detected) return detected;
  return { task: 'raw', reason: 'no task known: raw tensors' };
}

export type PredictInput = { kind: 'rows'; rows: Row[]; columns?: string[] } | { kind: 'tensors'; tensors: Record<string, unknown> } | { kind: 'texts'; texts: string[] } | { kind: 'images'; files: string[] } | { kind: 'questions'; pairs: QuestionContext[] };

export interface PredictOptions extends SessionOptions {
  model: string;
  registry?: Registry;
  task?: string;
  input: PredictInput;
  /** The model as resolveModel returned it, when the caller already has it. */
  resolved?: ResolvedModel;
  /** Re-hash a registry model's files before use, whatever their fingerprints say. */
  verify?: boolean;
  /** Text and image tasks: texts or images per session run (default 32). */
  batchSize?: number;
  /** text- and image-classification: the K best labels per text or image (default: every label). */
  topK?: number;
  /** feature-extraction: unit-length vectors (default: when a sentence-transformers modules.json has Normalize). */
  normalize?: boolean;
  /** token-classification: how tokens become entities (default none: every token not tagged O). */
  aggregation?: Aggregation;
  /** object-detection: the minimum score of a detection (default 0.25). */
  conf?: number;
  /** object-detection: the IoU above which NMS drops the lower-scored box of a class (default 0.45). */
  iou?: number;
  /**
   * A session already open on the model (serve's cache): used instead of opening one, and left open by close().
   * Ignored for a ZipMap classifier, whose session must declare the extra output.
   */
  opened?: OpenedSession;
}

/** One per input row or text; which fields are set depends on the task. */
export type Prediction = TabularPrediction & { label_name?: string } & Partial<TextClassificationPrediction> & Partial<EmbeddingPrediction> & Partial<TokenClassificationPrediction> & Partial<Answer> & Partial<DetectionPrediction>;

export interface PredictResult {
  model: string;
  task: string;
  taskReason: string;
  provider: 'cpu' | 'cuda';
  fellBack?: string;
  timings: { loadMs: number; runMs: number };
  predictions?: Prediction[];
  /** feature-extraction: whether the embeddings were scaled to unit length. */
  normalized?: boolean;
  outputs?: Record<string, JsonTensor>;
}

/** `{"input": [[...], ...]}` for a tabular model: the rows of its one input. */
function tensorsAsRows(tensors: Record<string, unknown>, summary: OnnxSummary): Row[] {
  const value = tensors[summary.inputs[0]?.name ?? ''];
  const t = value && typeof value === 'object' && !Array.isArray(value) && 'data' in value ? (value as { data: unknown; dims?: unknown }) : undefined;
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
  throw new ModelctlError('INVALID_INPUT', 'a tabular model takes rows', { hint: 'give [[5.1, 3.5, ...], ...], {"feature": value, ...}, or a CSV file with a header' });
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
  if (isTextTask(task) && kind !== 'texts') throw new ModelctlError('INVALID_INPUT', `a ${task} model takes texts`, { hint: 'give texts as arguments, --input \'["text", ...]\', or --file texts.txt' });
  if (task === 'question-answering' && kind !== 'questions') throw new ModelctlError('INVALID_INPUT', 'a question-answering model takes a question and its context', { hint: 'give --question Q --context C, or --input \'{"question": "...", "context": "..."}\'' });
  if (isImageTask(task) && kind !== 'images') throw new ModelctlError('INVALID_INPUT', `an ${task} model takes image files`, { hint: 'give image files as arguments or --file IMAGE' });
  if (task === 'raw' && kind !== 'tensors') throw new ModelctlError('INVALID_INPUT', 'a raw model takes named tensors', { hint: '--input \'{"NAME": [[...]]}\'' });
  if (task.startsWith('tabular-') && kind !== 'rows' && kind !== 'tensors') throw new ModelctlError('INVALID_INPUT', `a ${task} model takes rows of numbers, not ${kind}`, { hint: 'give rows as 5.1,3.5,1.4,0.2 or --input \'[[...]]\'' });
}

/** A model opened for a task: run it on as many inputs as needed, then close it. */
export interface Predictor {
  readonly resolved: ResolvedModel;
  readonly task: string;
  readonly taskReason: string;
  readonly provider: 'cpu' | 'cuda';
  /** Tabular models: the feature names embedded in the model, in input order. */
  readonly featureNames?: string[];
  /** Set when CUDA was asked for and the CPU runs instead: why. */
  readonly fellBack?: string;
  run(input: PredictInput, extra?: { rowName?: (index: number) => string }): Promise<PredictResult>;
  close(): Promise<void>;
}

/** Resolves the model and task, loads what the task needs (tokenizer, processor) and opens an ONNX Runtime session. */
export async function openPredictor(options: Omit<PredictOptions, 'input'> & { inputKind?: PredictInput['kind'] }): Promise<Predictor> {
  const m = options.resolved ?? (await resolveModel(options.model, options.registry, options));
  const { task, reason } = await chooseTask(options.task, m, options.registry);
  if (!(PREDICT_TASKS as readonly string[]).includes(task)) {
    if (!PLANNED_TASKS.includes(task)) {
      throw new ModelctlError('USAGE', `unknown task ${JSON.stringify(task)}`, { hint: `tasks: ${[...PREDICT_TASKS, ...PLANNED_TASKS].join(', ')}` });
    }
    throw new ModelctlError('NOT_AVAILABLE', `predict does not run ${task} models yet`, { hint: `run it as raw tensors with --task raw; available: ${PREDICT_TASKS.join(', ')}` });
  }
  if (options.inputKind) checkInputKind(task, options.inputKind);
  // The tokenizer or processor is found (or its absence reported) before ONNX Runtime loads the model.
  const text = isTextTask(task) || task === 'question-answering' ? await prepareText(options.model, m, options.registry, isTextTask(task) ? options.normalize : undefined) : undefined;
  const image = isImageTask(task) ? await prepareImage(options.model, m, options.registry, task) : undefined;
  const zipmap = task === 'tabular-classification' ? await zipMapOutputs(m) : undefined;
  const t0 = performance.now();
  const borrowed = zipmap ? undefined : options.opened;
  // The summary already names the external data files: the session need not scan the graph again to find them.
  const opened: OpenedSession = borrowed ?? (await openSession(m.path, options, zipmap?.bytes, m.summary.externalData));
  const ort = await loadOrt();
  const ctx: RunContext = { session: opened.session, Tensor: ort.Tensor, inputs: m.summary.inputs, outputs: [...m.summary.outputs, ...(zipmap?.outputs ?? [])] };
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
  const compute = async (input: PredictInput, rowName?: (index: number) => string): Promise<Omit<PredictResult, keyof typeof base | 'timings'>> => {
    checkInputKind(task, input.kind);
    if (input.kind === 'texts') {
      const predictions = await predictTexts(ctx, text as TextSetup, task, input.texts, options);
      return { ...(task === 'feature-extraction' ? { normalized: (text as TextSetup).normalize } : {}), predictions };
    }
    if (input.kind === 'questions') return { predictions: await answerQuestions(ctx, (text as TextSetup).tokenizer, input.pairs, options.batchSize !== undefined ? { batchSize: options.batchSize } : {}) };
    if (input.kind === 'images') return { predictions: await predictImages(ctx, image as ImageSetup, input.files, options) };
    if (task === 'raw') return { outputs: await predictRaw(ctx, (input as { tensors: Record<string, unknown> }).tensors) };
    const rows = input.kind === 'rows' ? input.rows : tensorsAsRows(input.tensors, m.summary);
    const predictions = await predictTabular(ctx, rows, task, {
      featureConfig: m.embedded?.featureConfig,
      ...(input.kind === 'rows' && input.columns ? { columns: input.columns } : {}),
      ...(zipmap ? { classLabels: zipmap.labels } : {}),
      ...(rowName ? { rowName } : {}),
    });
    return { predictions: predictions.map((p) => (names && p.label !== undefined && names[String(p.label)] !== undefined ? { ...p, label_name: names[String(p.label)] as string } : p)) };
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
      if (!borrowed) await opened.session.release();
    },
  };
}

/** Runs one input (a batch of rows, texts, images or questions) through a model: open, run, close. */
export async function predict(options: PredictOptions): Promise<PredictResult> {
  const m = options.resolved ?? (await resolveModel(options.model, options.registry, options));
  const predictor = await openPredictor({ ...options, resolved: m, inputKind: options.input.kind });
  try {
    return await predictor.run(options.input);
  } finally {
    await predictor.close();
  }
}

/** Models larger than this are not read into memory to expose a ZipMap's input: their labels still come back. */
const ZIPMAP_READ_LIMIT = 512 * 1024 * 1024;

/** A classifier ending in ZipMap: the model with the tensors the ZipMaps read declared as outputs, and their labels. */
async function zipMapOutputs(m: ResolvedModel): Promise<{ bytes: Uint8Array; outputs: OnnxValueInfo[]; labels: Record<string, Array<string | number>> } | undefined> {
  if (!m.summary.outputs.some((o) => o.kind !== 'tensor') || m.summary.externalData.length > 0) return undefined;
  const st = await stat(m.path);
  if (st.size > ZIPMAP_READ_LIMIT) return undefined;
  const original = await readFile(m.path).catch((err: unknown) => {
    throw fsError(err, m.path);
  });
  const { findZipMaps, withFloatOutputs } = await import('../onnx/zipmap.js');
  const known = new Set(m.summary.outputs.map((o) => o.name));
  const zipmaps = findZipMaps(original).filter((z) => !known.has(z.input));
  if (zipmaps.length === 0) return undefined;
  return {
    bytes: withFloatOutputs(original, zipmaps.map((z) => z.input)),
    outputs: zipmaps.map((z) => ({ name: z.input, kind: 'tensor', dtype: 'float32' })),
    labels: Object.fromEntries(zipmaps.map((z) => [z.input, z.labels])),
  };
}
