import { ModelctlError } from '../errors.js';
import type { Tensor } from 'onnxruntime-node';
import { jsonValue, makeTensor, runSession, tensorOutputs, type RunContext } from './tensors.js';

/**
 * Tabular classification and regression (skl2onnx / onnxmltools exports): rows in, one prediction per row out.
 * Rows are objects keyed by feature name or arrays in input order; the order comes from the embedded feature
 * config (embed-metadata --features), else from the model's inputs.
 */

export type Row = Record<string, unknown> | unknown[];

export interface FeatureSpec {
  names?: string[];
  count?: number;
}

export interface TabularPrediction {
  label?: number | string;
  probabilities?: Record<string, number>;
  value?: number | number[];
}

/** Feature names and count from hf_feature_config, falling back to the model's single input width. */
export function featureSpec(featureConfig: unknown, ctx: RunContext): FeatureSpec {
  const fc = (featureConfig ?? {}) as { feature_names?: unknown; n_features?: unknown };
  const names = Array.isArray(fc.feature_names)
    ? fc.feature_names.map(String)
    : ctx.inputs.length > 1
      ? ctx.inputs.map((i) => i.name)
      : undefined;
  const width = ctx.inputs.length === 1 ? ctx.inputs[0]?.shape?.at(-1) : ctx.inputs.length;
  const count = typeof fc.n_features === 'number' ? fc.n_features : typeof width === 'number' && width > 0 ? width : names?.length;
  return { ...(names ? { names } : {}), ...(count !== undefined ? { count } : {}) };
}

export interface TabularOptions {
  /** The embedded feature config (hf_feature_config): feature names and count. */
  featureConfig?: unknown;
  /** A CSV header: the names of the rows' columns. */
  columns?: string[];
  /** Class labels of a probability output, by output name (a ZipMap's labels): the keys of `probabilities`. */
  classLabels?: Record<string, Array<string | number>>;
  /** How an error names a row (default "row N"; a stream says "line N"). */
  rowName?: (index: number) => string;
}

const ROW = (index: number): string => `row ${index + 1}`;

function toValues(
  row: Row,
  index: number,
  spec: FeatureSpec,
  columns: string[] | undefined,
  types: string[],
  rowName = ROW,
): Array<number | string> {
  let values: unknown[];
  if (row === null || typeof row !== 'object') {
    throw new ModelctlError('INVALID_INPUT', `${rowName(index)} is not a row`, {
      hint: 'a row is a list of values or an object of feature: value',
    });
  }
  if (Array.isArray(row) && columns && spec.names) {
    // A CSV row: its header names the columns, the model names its features: match them by name.
    const byName = Object.fromEntries(columns.map((c, i) => [c, row[i]]));
    return toValues(byName, index, spec, undefined, types, rowName);
  }
  if (Array.isArray(row)) {
    values = row;
  } else if (!spec.names) {
    throw new ModelctlError('INVALID_INPUT', `${rowName(index)} names its features, but the model has no feature names`, {
      hint: 'give rows as arrays in input order (or a CSV file, read in column order), or embed the names: modelctl embed-metadata MODEL --features a,b,c',
    });
  } else {
    const missing = spec.names.filter((n) => !(n in row));
    if (missing.length > 0)
      throw new ModelctlError('INVALID_INPUT', `${rowName(index)} lacks feature${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
    values = spec.names.map((n) => row[n]);
  }
  if (spec.count !== undefined && values.length !== spec.count) {
    throw new ModelctlError('INVALID_INPUT', `${rowName(index)} has ${values.length} features; the model takes ${spec.count}`, {
      ...(spec.names ? { hint: `in this order: ${spec.names.join(', ')}` } : {}),
    });
  }
  return values.map((v, i) => {
    // String features (skl2onnx string inputs) pass through as given; every other input type takes numbers.
    if ((types[i] ?? types[0]) === 'string') return String(v);
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n)) {
      throw new ModelctlError(
        'INVALID_INPUT',
        `${rowName(index)}, feature ${spec.names?.[i] ?? i + 1}: ${JSON.stringify(v)} is not a number`,
      );
    }
    return n;
  });
}

/** Float inputs the rows can be written straight into, without an intermediate matrix. */
const DIRECT: Record<string, typeof Float32Array | typeof Float64Array> = { float32: Float32Array, float64: Float64Array };

/**
 * The common case (one float input, rows as arrays in input order) written straight into a typed array, each value
 * checked as it is stored. Anything else, and any row this path would refuse, returns undefined: the general path
 * then builds the feeds, and its errors, exactly as before.
 */
function directFeed(ctx: RunContext, rows: Row[], spec: FeatureSpec, columns: string[] | undefined): Tensor | undefined {
  const input = ctx.inputs[0];
  const Typed = input ? DIRECT[input.dtype ?? 'float32'] : undefined;
  const first = rows[0];
  if (ctx.inputs.length !== 1 || !input || !Typed || !Array.isArray(first) || (columns && spec.names)) return undefined;
  const width = spec.count ?? first.length;
  const data = new Typed(rows.length * width);
  let at = 0;
  for (const row of rows) {
    if (!Array.isArray(row) || row.length !== width) return undefined;
    for (let i = 0; i < width; i++) {
      const v: unknown = row[i];
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
      if (!Number.isFinite(n)) return undefined;
      data[at++] = n;
    }
  }
  return new ctx.Tensor(input.dtype === 'float64' ? 'float64' : 'float32', data, [rows.length, width]);
}

function generalFeeds(ctx: RunContext, rows: Row[], spec: FeatureSpec, options: TabularOptions): Record<string, Tensor> {
  const types = ctx.inputs.length === 1 ? [ctx.inputs[0]?.dtype ?? 'float32'] : ctx.inputs.map((i) => i.dtype ?? 'float32');
  const matrix = rows.map((r, i) => toValues(r, i, spec, options.columns, types, options.rowName));
  const width = matrix[0]?.length ?? 0;
  const feeds: Record<string, Tensor> = {};
  if (ctx.inputs.length === 1) {
    const input = ctx.inputs[0] as RunContext['inputs'][number];
    feeds[input.name] = makeTensor(ctx, input.name, input.dtype ?? 'float32', [rows.length, width], matrix.flat());
  } else {
    // One input per column (skl2onnx with several initial types): each a [N, 1] tensor.
    ctx.inputs.forEach((input, col) => {
      feeds[input.name] = makeTensor(
        ctx,
        input.name,
        input.dtype ?? 'float32',
        [rows.length, 1],
        matrix.map((r) => r[col]),
      );
    });
  }
  return feeds;
}

/** Runs a batch of rows and returns one prediction per row, in order. */
export async function predictTabular(
  ctx: RunContext,
  rows: Row[],
  task: string,
  options: TabularOptions = {},
): Promise<TabularPrediction[]> {
  if (rows.length === 0) throw new ModelctlError('INVALID_INPUT', 'no rows to predict', { hint: 'give at least one row' });
  const spec = featureSpec(options.featureConfig, ctx);
  const direct = directFeed(ctx, rows, spec, options.columns);
  const feeds = direct ? { [(ctx.inputs[0] as RunContext['inputs'][number]).name]: direct } : generalFeeds(ctx, rows, spec, options);
  const fetch = tensorOutputs(ctx);
  // Outputs are read where they lie (no JSON copy of every output): only the values the predictions hold are converted.
  const out = await runSession(ctx, feeds, fetch);
  if (task === 'tabular-regression') {
    const first = out[fetch[0] as string];
    if (!first) throw new ModelctlError('INVALID_INPUT', 'the model has no tensor output');
    const data = first.data as ArrayLike<unknown>;
    const per = data.length / rows.length;
    return rows.map((_, i) => {
      const v: number[] = [];
      // Bounds as slice() takes them (truncated, clamped), for an output that does not divide evenly by the rows.
      const end = Math.min(Math.trunc((i + 1) * per), data.length);
      for (let k = Math.trunc(i * per); k < end; k++) v.push(Number(jsonValue(data[k])));
      return { value: per === 1 ? (v[0] as number) : v };
    });
  }
  const labelName = fetch.find((n) => /label/i.test(n)) ?? fetch.find((n) => ['int64', 'string'].includes(out[n]?.type ?? ''));
  const probName =
    fetch.find((n) => options.classLabels?.[n] !== undefined) ?? fetch.find((n) => n !== labelName && out[n]?.type === 'float32');
  const keys = probName ? options.classLabels?.[probName] : undefined;
  const labels = labelName ? (out[labelName]?.data as ArrayLike<unknown> | undefined) : undefined;
  const probs = probName ? out[probName] : undefined;
  const probData = probs?.data as ArrayLike<unknown> | undefined;
  const classes = probs?.dims.at(-1) ?? 0;
  const classKeys = Array.from({ length: classes }, (_, c) => String(keys?.[c] ?? c));
  // Copying an object that already has every key is about twice as fast in V8 as adding the keys one by one.
  const template: Record<string, number> = {};
  for (const k of classKeys) template[k] = 0;
  const predictions: TabularPrediction[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const p: TabularPrediction = {};
    if (labels) p.label = jsonValue(labels[i]) as number | string;
    if (probData) {
      // A row past the end of the output gets the keys its values reach, as a slice of it would.
      const probabilities: Record<string, number> = (i + 1) * classes <= probData.length ? { ...template } : {};
      for (let c = 0; c < classes && i * classes + c < probData.length; c++)
        probabilities[classKeys[c] as string] = Number(jsonValue(probData[i * classes + c]));
      p.probabilities = probabilities;
    }
    predictions[i] = p;
  }
  return predictions;
}
