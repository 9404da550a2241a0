import { basename } from 'node:path';
import { ModelctlError } from '../errors.js';
import { readInput } from '../inputs/open.js';
import type { PredictInput } from '../inputs/types.js';
import { chooseTask, inputKind, resolveModel, type ResolvedModel } from '../predict/predict.js';
import type { AutoConvert } from '../predict/types.js';
import { prepareText } from '../predict/text.js';
import { isImageTask, prepareImage } from '../predict/image.js';
import { companions } from '../registry/companion-files.js';
import type { Registry } from '../registry/index.js';
import { checkSessionOptions, parseDevice, type SessionOptions } from '../runtime/index.js';
import { compareToBaseline, loadBaseline, saveBaseline, toBaseline, type GateVerdict } from './baseline.js';
import { E2E_TASKS, SAMPLE_TEXTS, imageWorkload, textWorkload } from './e2e.js';
import { otherPipeline, type E2EInputs } from './e2e-tasks.js';
import { hintsFromConfig, parseShapeFlags, type ModelHints } from './synthetic.js';
import { runBench, type BenchProgress, type BenchReport, type BenchVariant } from './runner.js';
import { parseJsonText, utf8Text } from '../util/text.js';
import type { WorkloadFactory } from './workload.js';

export { summarize, percentile, throughput, type LatencyStats } from './stats.js';
export { syntheticInputs, resolveShape, parseShapeFlags, type SyntheticInput } from './synthetic.js';
export { runBench, type BenchReport, type ConfigResult, type Comparison, type HostInfo } from './runner.js';
export type { Baseline, GateVerdict } from './baseline.js';
export { parseTolerance } from './tolerance.js';

export interface BenchOptions extends SessionOptions {
  model: string;
  registry?: Registry;
  /** The model already resolved (the CLI resolves it once to choose the kind of bench). */
  resolved?: ResolvedModel;
  /** A registered model that is not ONNX: its ONNX export is timed, made now when there is none. */
  autoConvert?: AutoConvert;
  /** A second model (reference or path), or what to change for the second side: "threads=4", "device=cuda:0", "optimization=basic". */
  vs?: string;
  batchSizes?: number[];
  /** `NAME=DIMS` for an input, or `DIM=N` for a symbolic dimension. */
  shapes?: string[];
  seqLen?: number;
  warmup?: number;
  iterations?: number;
  durationMs?: number;
  /** Time the task pipeline on real inputs (texts, or image files), stage by stage. */
  e2e?: boolean;
  /** --e2e: texts for a text model (default: a few sample sentences). */
  e2eTexts?: string[];
  /** --e2e: image files for an image model; for the others, files read as predict reads them (texts, or rows of a table). */
  e2eFiles?: string[];
  saveBaseline?: boolean;
  /** Compare with the stored baselines. */
  baseline?: boolean;
  /** With baseline: a median latency above baseline * (1 + this) is a regression. */
  failIfSlower?: number;
  onProgress?: (event: BenchProgress) => void;
  signal?: AbortSignal;
  clock?: () => Date;
}

export interface BenchOutcome extends BenchReport {
  model: string;
  vs?: string;
  baselines?: { saved: string[]; verdicts: GateVerdict[]; failed: boolean };
}

const OVERRIDE = /^(threads|device|optimization)=/;

function displayName(m: ResolvedModel): string {
  return m.manifest ? `${m.manifest.name}:${m.manifest.version}` : basename(m.path);
}

async function modelHints(m: ResolvedModel, registry?: Registry): Promise<ModelHints> {
  let config = m.embedded?.modelConfig;
  if (config === undefined) {
    const bytes = await companions(m, registry?.store.layout)
      .read('config.json')
      .catch(() => undefined);
    if (bytes !== undefined) config = parseJsonText(utf8Text(bytes, 'config.json'), 'config.json');
  }
  return hintsFromConfig(config);
}

/** The second side of --vs: the same model with one setting changed, or another model with the same settings. */
function overrides(text: string, base: SessionOptions): { session: SessionOptions; label: string } {
  const session: SessionOptions = { ...base };
  for (const part of text.split(',')) {
    const [key, value = ''] = part.split('=') as [string, string?];
    if (key === 'threads') {
      const n = Number(value);
      if (!Number.isSafeInteger(n) || n < 0) throw new ModelctlError('USAGE', `--vs threads=${value}: a whole number of threads, please`);
      session.threads = n;
    } else if (key === 'device') session.device = parseDevice(value);
    else if (key === 'optimization') session.graphOptimization = value as SessionOptions['graphOptimization'];
    else
      throw new ModelctlError('USAGE', `--vs ${part}: only threads, device and optimization can be changed`, {
        hint: 'e.g. --vs threads=4, --vs device=cuda:0, or --vs OTHER_MODEL',
      });
  }
  checkSessionOptions(session); // before the first side is timed, not after it
  return { session, label: text };
}

function sessionLabel(text: string, s: SessionOptions): string {
  return text
    .split(',')
    .map((part) => {
      const key = part.split('=')[0];
      if (key === 'threads') return `threads=${s.threads ? s.threads : 'auto'}`;
      if (key === 'device') return `device=${s.device?.kind === 'cuda' ? `cuda:${s.device.deviceId}` : 'cpu'}`;
      return `optimization=${s.graphOptimization ?? 'all'}`;
    })
    .join(',');
}

const IMAGE_FILE = /\.(png|jpe?g|webp|gif|bmp|tiff?|avif)$/i;

/** The --e2e inputs, of the kind the task reads: never silently replaced by the built-in samples. */
async function e2eInputs(task: string, options: BenchOptions): Promise<Omit<E2EInputs, 'model' | 'registry'>> {
  const files = options.e2eFiles ?? [];
  const images = files.filter((f) => IMAGE_FILE.test(f));
  if (images.length > 0 && images.length < files.length) throw new ModelctlError('USAGE', '--file: give texts or images, not both');
  const others = images.length === 0 && files.length > 0;
  if (isImageTask(task) && (options.e2eTexts || others)) {
    throw new ModelctlError('USAGE', `--e2e on an ${task} model reads image files, not texts`, { hint: 'give --file IMAGE (repeatable)' });
  }
  if (!isImageTask(task) && images.length > 0) {
    throw new ModelctlError('USAGE', `--e2e on a ${task} model does not read images`, {
      hint: task.startsWith('tabular-') ? 'give --file rows.csv' : 'give --file texts.txt, one text per line',
    });
  }
  if (task === 'question-answering' && (options.e2eTexts || others)) {
    throw new ModelctlError('USAGE', '--e2e on a question-answering model uses its built-in question/context pairs', {
      hint: 'drop --file',
    });
  }
  if (images.length > 0) return { images };
  const kind = inputKind(task);
  // The files are read as predict reads them; a task bench --e2e does not time is refused later, whatever its files.
  const read: PredictInput[] = kind === 'texts' || kind === 'rows' ? await Promise.all(files.map((file) => readInput({ file }, kind))) : [];
  if (kind === 'rows') {
    const tables = read.flatMap((r) => (r.kind === 'rows' ? [r] : []));
    if (tables.length < read.length) {
      throw new ModelctlError('USAGE', `--e2e on a ${task} model reads rows`, {
        hint: 'give --file rows.csv (with a header) or rows.jsonl',
      });
    }
    const columns = tables[0]?.columns;
    if (tables.some((t) => t.columns?.join(',') !== columns?.join(','))) {
      throw new ModelctlError('USAGE', '--file: the row files have different columns', { hint: 'give files with one header' });
    }
    if (tables.length > 0) return { rows: { rows: tables.flatMap((t) => t.rows), ...(columns ? { columns } : {}) } };
    return options.e2eTexts ? { rows: { rows: options.e2eTexts.map((t) => t.split(',').map((v) => v.trim())) } } : {};
  }
  const texts = [...(options.e2eTexts ?? []), ...read.flatMap((r) => (r.kind === 'texts' ? r.texts : []))];
  return texts.length > 0 ? { texts } : {};
}

async function e2eWorkload(options: BenchOptions, m: ResolvedModel): Promise<WorkloadFactory> {
  const { task } = await chooseTask(undefined, m, options.registry);
  const given = await e2eInputs(task, options);
  if (task === 'text-classification' || task === 'feature-extraction') {
    const setup = await prepareText(options.model, m, options.registry, undefined, task);
    return textWorkload({
      task,
      tokenizer: setup.tokenizer,
      modelConfig: setup.modelConfig,
      normalize: setup.normalize,
      ...(setup.sentence ? { sentence: setup.sentence } : {}),
      texts: given.texts ?? SAMPLE_TEXTS,
    });
  }
  if (task === 'image-classification') {
    const setup = await prepareImage(options.model, m, options.registry, task);
    if (!('processor' in setup)) throw new ModelctlError('NOT_AVAILABLE', 'bench --e2e does not run this image model');
    if (!given.images) throw new ModelctlError('USAGE', '--e2e on an image model needs images', { hint: 'give --file IMAGE (repeatable)' });
    return imageWorkload({ processor: setup.processor, modelConfig: setup.modelConfig, files: given.images });
  }
  const other = await otherPipeline(
    task,
    { model: options.model, ...(options.registry ? { registry: options.registry } : {}), ...given },
    m,
  );
  if (other) return other;
  throw new ModelctlError('NOT_AVAILABLE', `bench --e2e does not time ${task} pipelines`, {
    hint: `--e2e covers ${E2E_TASKS.join(', ')}; without --e2e, bench times the model alone on synthetic inputs`,
  });
}

/** Benchmarks a model (and, with --vs, a second side interleaved with it); saves or checks baselines. */
export async function benchModel(options: BenchOptions): Promise<BenchOutcome> {
  const wantsBaseline = options.baseline || options.failIfSlower !== undefined;
  if (options.saveBaseline && wantsBaseline)
    throw new ModelctlError('USAGE', '--save-baseline and --baseline/--fail-if-slower go in separate runs', {
      hint: 'save on the reference build, check on the candidate',
    });
  if (options.vs !== undefined && (options.saveBaseline || wantsBaseline))
    throw new ModelctlError('USAGE', 'baselines are for one model at a time: drop --vs');
  const session: SessionOptions = {
    ...(options.device ? { device: options.device } : {}),
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
    ...(options.graphOptimization ? { graphOptimization: options.graphOptimization } : {}),
    ...(options.fallback ? { fallback: options.fallback } : {}),
  };
  checkSessionOptions(session);
  const m =
    options.resolved ??
    (await resolveModel(options.model, options.registry, { ...(options.autoConvert ? { autoConvert: options.autoConvert } : {}) }));
  if ((options.saveBaseline || wantsBaseline) && !m.manifest) {
    throw new ModelctlError('USAGE', 'baselines are stored with a registry version, and this is a file', {
      hint: `register it first: \`modelctl register ${options.model} --name NAME\``,
    });
  }
  const variant = async (model: ResolvedModel, label: string, s: SessionOptions): Promise<BenchVariant> => ({
    label,
    path: model.path,
    summary: model.summary,
    hints: await modelHints(model, options.registry),
    session: s,
    ...(options.e2e ? { workload: await e2eWorkload(options, model) } : {}),
  });
  const variants: BenchVariant[] = [];
  if (options.vs !== undefined && OVERRIDE.test(options.vs)) {
    const other = overrides(options.vs, session);
    variants.push(
      await variant(m, sessionLabel(options.vs, session), session),
      await variant(m, sessionLabel(options.vs, other.session), other.session),
    );
    if (variants[0]?.label === variants[1]?.label)
      throw new ModelctlError('USAGE', `--vs ${options.vs} changes nothing`, { hint: 'compare with a different setting' });
  } else if (options.vs !== undefined) {
    const other = await resolveModel(options.vs, options.registry, {
      ...(options.autoConvert ? { autoConvert: options.autoConvert } : {}),
    });
    const [a, b] = [displayName(m), displayName(other)];
    variants.push(await variant(m, a === b ? options.model : a, session), await variant(other, a === b ? options.vs : b, session));
  } else variants.push(await variant(m, displayName(m), session));

  const shapeFlags = parseShapeFlags(options.shapes ?? [], m.summary.inputs);
  const report = await runBench({
    variants,
    batchSizes: options.batchSizes ?? [1],
    shapes: { ...shapeFlags, ...(options.seqLen !== undefined ? { seqLen: options.seqLen } : {}) },
    ...(options.warmup !== undefined ? { warmup: options.warmup } : {}),
    ...(options.iterations !== undefined ? { iterations: options.iterations } : {}),
    ...(options.durationMs !== undefined ? { durationMs: options.durationMs } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const outcome: BenchOutcome = {
    model: variants[0]?.label ?? options.model,
    ...(options.vs !== undefined ? { vs: options.vs } : {}),
    ...report,
  };
  const manifest = m.manifest;
  if (!manifest || !options.registry || !(options.saveBaseline || wantsBaseline)) return outcome;
  const layout = options.registry.store.layout;
  const now = options.clock?.() ?? new Date();
  if (options.saveBaseline) {
    const saved: string[] = [];
    for (const r of report.results) saved.push(await saveBaseline(layout, toBaseline(manifest, report.host, r, now)));
    return { ...outcome, baselines: { saved, verdicts: [], failed: false } };
  }
  const verdicts: GateVerdict[] = [];
  for (const r of report.results) {
    const b = await loadBaseline(layout, manifest, r.key);
    if (!b) {
      throw new ModelctlError(
        'NOT_FOUND',
        `no benchmark baseline for ${manifest.name}:${manifest.version} at batch ${r.batch} on ${r.device} with ${r.threads ?? 'auto'} threads (${r.key})`,
        {
          hint: 'save one with the same flags and --save-baseline (the device, threads, batch size and input shapes must match)',
        },
      );
    }
    verdicts.push(compareToBaseline(r, b, report.host, options.failIfSlower ?? Number.POSITIVE_INFINITY));
  }
  return {
    ...outcome,
    baselines: { saved: [], verdicts, failed: options.failIfSlower !== undefined && verdicts.some((v) => v.regressed) },
  };
}
