import { ModelctlError } from '../errors.js';
import { makeTensor, runSession, tensorOutputs, tensorToJson, type RunContext } from './tensors.js';

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
  const names = Array.isArray(fc.feature_names) ? fc.feature_names.map(String) : ctx.inputs.length > 1 ? ctx.inputs.map((i) => i.name) : undefined;
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

function toValues(row: Row, index: number, spec: FeatureSpec, columns: string[] | undefined, types: string[], rowName = ROW): Array<number | string> {
  let values: unknown[];
  if (row === null || typeof row !== 'object') {
    throw new ModelctlError('INVALID_INPUT', `${rowName(index)} is not a row`, { hint: 'a row is a list of values or an object of feature: value' });
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
    if (missing.length > 0) throw new ModelctlError('INVALID_INPUT', `${rowName(index)} lacks feature${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
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
      throw new ModelctlError('INVALID_INPUT', `${rowName(index)}, feature ${spec.names?.[i] ?? i + 1}: ${JSON.stringify(v)} is not a number`);
    }
    return n;
  });
}

/** Runs a batch of rows and returns one prediction per row, in order. */
export async function predictTabular(ctx: RunContext, rows: Row[], task: string, options: TabularOptions = {}): Promise<TabularPrediction[]> {
  if (rows.length === 0) throw new ModelctlError('INVALID_INPUT', 'no rows to predict', { hint: 'give at least one row' });
  const spec = featureSpec(options.featureConfig, ctx);
  const types = ctx.inputs.length === 1 ? [ctx.inputs[0]?.dtype ?? 'float32'] : ctx.inputs.map((i) => i.dtype ?? 'float32');
  const matrix = rows.map((r, i) => toValues(r, i, spec, options.columns, types, options.rowName));
  const width = matrix[0]?.length ?? 0;
  const feeds: Record<string, ReturnType<typeof makeTensor>> = {};
  if (ctx.inputs.length === 1) {
    const input = ctx.inputs[0] as RunContext['inputs'][number];
    feeds[input.name] = makeTensor(ctx, input.name, input.dtype ?? 'float32', [rows.length, width], matrix.flat());
  } else {
    // One input per column (skl2onnx with several initial types): each a [N, 1] tensor.
    ctx.inputs.forEach((input, col) => {
      feeds[input.name] = makeTensor(ctx, input.name, input.dtype ?? 'float32', [rows.length, 1], matrix.map((r) => r[col]));
    });
  }
  const fetch = tensorOutputs(ctx);
  const out = await runSession(ctx, feeds, fetch);
  const json = Object.fromEntries(fetch.map((n) => [n, tensorToJson(out[n] as Parameters<typeof tensorToJson>[0])]));
  if (task === 'tabular-regression') {
    const first = json[fetch[0] as string];
    if (!first) throw new ModelctlError('INVALID_INPUT', 'the model has no tensor output');
    const per = first.data.length / rows.length;
    return rows.map((_, i) => {
      const v = first.data.slice(i * per, (i + 1) * per).map(Number);
      return { value: per === 1 ? (v[0] as number) : v };
    });
  }
  const labelName = fetch.find((n) => /label/i.test(n)) ?? fetch.find((n) => ['int64', 'string'].includes(json[n]?.type ?? ''));
  const probName = fetch.find((n) => options.classLabels?.[n] !== undefined) ?? fetch.find((n) => n !== labelName && json[n]?.type === 'float32');
  const keys = probName ? options.classLabels?.[probName] : undefined;
  return rows.map((_, i) => {
    const p: TabularPrediction = {};
    const labels = labelName ? json[labelName] : undefined;
    if (labels) p.label = labels.data[i] as number | string;
    const probs = probName ? json[probName] : undefined;
    if (probs) {
      const classes = probs.dims.at(-1) ?? 0;
      p.probabilities = Object.fromEntries(probs.data.slice(i * classes, (i + 1) * classes).map((v, c) => [String(keys?.[c] ?? c), Number(v)]));
    }
    return p;
  });
}
