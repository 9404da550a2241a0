import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ModelctlError, fsError } from '../errors.js';
import { detectTaskFromOnnx } from '../formats/task.js';
import { decodeHfMetadata, type DecodedHfMetadata } from '../onnx/metadata.js';
import { readOnnxSummary, type OnnxSummary } from '../onnx/summary.js';
import type { Registry } from '../registry/index.js';
import type { Manifest } from '../registry/manifest.js';
import { modelArg } from './model-ref.js';
import { IMAGE_TASKS, isImageTask, predictImages, prepareImage, type ImageSetup } from './predict-image.js';
import { TEXT_TASKS, companions, detectTaskBeside, isTextTask, prepareText, predictTexts, type TextSetup } from './predict-text.js';
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
}

/** A path, or a registry reference whose ONNX file (and companions) is made available by path. */
export async function resolveModel(model: string, registry?: Registry): Promise<ResolvedModel> {
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
  const blob = registry.store.layout.blob(file.sha256);
  const summary = await readOnnxSummary(blob);
  const path = summary.externalData.length > 0 ? join(await registry.materialize(manifest), file.path) : blob;
  const embedded = decodeHfMetadata(summary.metadataProps);
  return { path, summary, manifest, ...(embedded ? { embedded } : {}) };
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

function labelNames(m: ResolvedModel): Record<string, string> | undefined {
  const id2label = (m.embedded?.modelConfig as { id2label?: unknown } | undefined)?.id2label;
  return id2label && typeof id2label === 'object' ? (id2label as Record<string, string>) : undefined;
}

/** Runs one batch through a model: resolve, open an ONNX Runtime session, run the task, record the use. */
export async function predict(options: PredictOptions): Promise<PredictResult> {
  const m = options.resolved ?? (await resolveModel(options.model, options.registry));
  const { task, reason } = await chooseTask(options.task, m, options.registry);
  if (!(PREDICT_TASKS as readonly string[]).includes(task)) {
    if (!PLANNED_TASKS.includes(task)) {
      throw new ModelctlError('USAGE', `unknown task ${JSON.stringify(task)}`, { hint: `tasks: ${[...PREDICT_TASKS, ...PLANNED_TASKS].join(', ')}` });
    }
    throw new ModelctlError('NOT_AVAILABLE', `predict does not run ${task} models yet`, { hint: `run it as raw tensors with --task raw; available: ${PREDICT_TASKS.join(', ')}` });
  }
  let text: { setup: TextSetup; texts: string[] } | undefined;
  if (isTextTask(task)) {
    if (options.input.kind !== 'texts') throw new ModelctlError('INVALID_INPUT', `a ${task} model takes texts`, { hint: 'give texts as arguments, --input \'["text", ...]\', or --file texts.txt' });
    // The tokenizer is found (or its absence reported) before ONNX Runtime loads the model.
    text = { setup: await prepareText(options.model, m, options.registry, options.normalize), texts: options.input.texts };
  }
  let qa: { setup: TextSetup; pairs: QuestionContext[] } | undefined;
  if (task === 'question-answering') {
    if (options.input.kind !== 'questions') throw new ModelctlError('INVALID_INPUT', 'a question-answering model takes a question and its context', { hint: 'give --question Q --context C, or --input \'{"question": "...", "context": "..."}\'' });
    qa = { setup: await prepareText(options.model, m, options.registry), pairs: options.input.pairs };
  }
  let image: { setup: ImageSetup; files: string[] } | undefined;
  if (isImageTask(task)) {
    if (options.input.kind !== 'images') throw new ModelctlError('INVALID_INPUT', `an ${task} model takes image files`, { hint: 'give image files as arguments or --file IMAGE' });
    image = { setup: await prepareImage(options.model, m, options.registry, task), files: options.input.files };
  }
  const t0 = performance.now();
  const opened: OpenedSession = await openSession(m.path, options);
  const ort = await loadOrt();
  try {
    const ctx: RunContext = { session: opened.session, Tensor: ort.Tensor, inputs: m.summary.inputs, outputs: m.summary.outputs };
    const t1 = performance.now();
    const base = {
      model: m.manifest ? `${m.manifest.name}:${m.manifest.version}` : m.path,
      task,
      taskReason: reason,
      provider: opened.provider,
      ...(opened.fellBack ? { fellBack: opened.fellBack } : {}),
    };
    let result: PredictResult;
    if (text) {
      const predictions = await predictTexts(ctx, text.setup, task, text.texts, options);
      const normalized = task === 'feature-extraction' ? { normalized: text.setup.normalize } : {};
      result = { ...base, timings: { loadMs: t1 - t0, runMs: performance.now() - t1 }, ...normalized, predictions };
    } else if (qa) {
      const predictions = await answerQuestions(ctx, qa.setup.tokenizer, qa.pairs, options.batchSize !== undefined ? { batchSize: options.batchSize } : {});
      result = { ...base, timings: { loadMs: t1 - t0, runMs: performance.now() - t1 }, predictions };
    } else if (image) {
      const predictions = await predictImages(ctx, image.setup, image.files, options);
      result = { ...base, timings: { loadMs: t1 - t0, runMs: performance.now() - t1 }, predictions };
    } else if (task === 'raw') {
      if (options.input.kind !== 'tensors') throw new ModelctlError('INVALID_INPUT', 'a raw model takes named tensors', { hint: '--input \'{"NAME": [[...]]}\'' });
      const outputs = await predictRaw(ctx, options.input.tensors);
      result = { ...base, timings: { loadMs: t1 - t0, runMs: performance.now() - t1 }, outputs };
    } else {
      if (options.input.kind === 'texts' || options.input.kind === 'images' || options.input.kind === 'questions') throw new ModelctlError('INVALID_INPUT', `a ${task} model takes rows of numbers, not ${options.input.kind}`, { hint: 'give rows as 5.1,3.5,1.4,0.2 or --input \'[[...]]\'' });
      const rows = options.input.kind === 'rows' ? options.input.rows : tensorsAsRows(options.input.tensors, m.summary);
      const names = labelNames(m);
      const columns = options.input.kind === 'rows' ? options.input.columns : undefined;
      const predictions = (await predictTabular(ctx, rows, task, m.embedded?.featureConfig, columns)).map((p) =>
        names && p.label !== undefined && names[String(p.label)] !== undefined ? { ...p, label_name: names[String(p.label)] as string } : p,
      );
      result = { ...base, timings: { loadMs: t1 - t0, runMs: performance.now() - t1 }, predictions };
    }
    // The last-use record only orders gc's evictions: a failure to write it (a read-only home, a version removed
    // meanwhile) must not throw away a computed result.
    if (m.manifest && options.registry) await options.registry.store.touch(m.manifest.name, m.manifest.version).catch(() => {});
    return result;
  } finally {
    await opened.session.release();
  }
}
