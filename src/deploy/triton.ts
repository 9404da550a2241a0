import { join } from 'node:path';
import { ModelctlError } from '../errors.js';
import type { OnnxValueInfo } from '../onnx/summary.js';
import type { Registry } from '../registry/index.js';
import { resolveOnnxVersion, type OnnxVersion } from './onnx-version.js';
import { checkOutput, writeOutput, type Entry, type WriteOutcome } from './output.js';

/**
 * `deploy triton`: registry versions -> a Triton Inference Server model repository. One folder per model name, its
 * config.pbtxt (a ModelConfig in protobuf text format, platform onnxruntime_onnx) and one numbered folder per
 * version given (1, 2, ... in the order given) holding model.onnx and its external data. The inputs and outputs
 * come from the ONNX graph; when every one of them has a free first dimension, that dimension is Triton's batch
 * dimension (left out of dims, max_batch_size > 0, dynamic batching on).
 */

export interface TritonOptions {
  out: string;
  /** 0 turns batching off; default DEFAULT_MAX_BATCH_SIZE when the graph allows batching. */
  maxBatchSize?: number;
  force?: boolean;
  signal?: AbortSignal;
}

export interface TritonModel {
  /** The Triton model name (the folder's). */
  name: string;
  dir: string;
  /** The registry versions, by Triton version number (1-based, in the order given). */
  versions: string[];
  maxBatchSize: number;
  outcome: WriteOutcome;
  /** Outputs Triton cannot describe (sequences, maps: a ZipMap's), left out of config.pbtxt. */
  skippedOutputs: string[];
}

export const DEFAULT_MAX_BATCH_SIZE = 8;

/** ONNX element types as Triton names them (model_config.proto's DataType). */
const TRITON_TYPES: Record<string, string> = {
  bool: 'TYPE_BOOL',
  uint8: 'TYPE_UINT8',
  uint16: 'TYPE_UINT16',
  uint32: 'TYPE_UINT32',
  uint64: 'TYPE_UINT64',
  int8: 'TYPE_INT8',
  int16: 'TYPE_INT16',
  int32: 'TYPE_INT32',
  int64: 'TYPE_INT64',
  float16: 'TYPE_FP16',
  float32: 'TYPE_FP32',
  float64: 'TYPE_FP64',
  string: 'TYPE_STRING',
  bfloat16: 'TYPE_BF16',
};

/** A string in protobuf text format: quotes, backslashes and control characters escaped; other UTF-8 as is. */
export function pbString(text: string): string {
  const escaped = text.replace(/[\\"\x00-\x1f\x7f]/g, (c) => {
    if (c === '\\' || c === '"') return `\\${c}`;
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    if (c === '\r') return '\\r';
    return `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`;
  });
  return `"${escaped}"`;
}

interface TensorConfig {
  name: string;
  dataType: string;
  dims: number[];
  /** Set for a batched tensor of shape [batch]: Triton wants dims [1] and the model sees shape []. */
  reshapeToScalar: boolean;
}

const freeDim = (d: number | string | null | undefined): boolean => d === null || typeof d === 'string';

function describe(
  ref: string,
  v: OnnxValueInfo,
  role: 'input' | 'output',
): Omit<TensorConfig, 'dims' | 'reshapeToScalar'> & { shape: Array<number | string | null> } {
  const dataType = v.dtype === undefined ? undefined : TRITON_TYPES[v.dtype];
  if (!dataType || !v.shape) {
    const why = !v.shape ? 'has no known rank' : `has element type ${v.dtype ?? 'unknown'}, which Triton has no type for`;
    throw new ModelctlError('NOT_AVAILABLE', `${ref}: ${role} "${v.name}" ${why}`, {
      hint: 'Triton needs a tensor type and rank for every input and output; re-export the model with them declared',
    });
  }
  return { name: v.name, dataType, shape: v.shape };
}

type GraphTensor = ReturnType<typeof describe>;

/** The io of one version as Triton can describe it, and whether its first dimension can be the batch dimension. */
function graphTensors(version: OnnxVersion): { inputs: GraphTensor[]; outputs: GraphTensor[]; batchable: boolean; skipped: string[] } {
  const { summary, ref } = version;
  const inputs = summary.inputs.map((v) => {
    if (v.kind !== 'tensor') {
      throw new ModelctlError('NOT_AVAILABLE', `${ref}: input "${v.name}" is a ${v.kind}; Triton's ONNX backend takes tensors`, {
        hint: 'export the model with tensor inputs',
      });
    }
    return describe(ref, v, 'input');
  });
  const tensorOutputs = summary.outputs.filter((v) => v.kind === 'tensor');
  const skipped = summary.outputs.filter((v) => v.kind !== 'tensor').map((v) => v.name);
  if (tensorOutputs.length === 0) {
    throw new ModelctlError('NOT_AVAILABLE', `${ref} has no tensor output for Triton to return`, {
      hint: 'a scikit-learn classifier exported with ZipMap returns maps; export it with zipmap off',
    });
  }
  const outputs = tensorOutputs.map((v) => describe(ref, v, 'output'));
  const batchable = [...inputs, ...outputs].every((t) => t.shape.length >= 1 && freeDim(t.shape[0]));
  return { inputs, outputs, batchable, skipped };
}

/** A tensor's config: free dimensions are -1; batched, the first dimension is left out (a [batch] tensor is [1], reshaped to []). */
function tensorConfig(t: GraphTensor, batched: boolean): TensorConfig {
  const dims = (batched ? t.shape.slice(1) : t.shape).map((d) => (typeof d === 'number' ? d : -1));
  const reshapeToScalar = batched && dims.length === 0;
  return { name: t.name, dataType: t.dataType, dims: reshapeToScalar ? [1] : dims, reshapeToScalar };
}

const ioConfig = (g: { inputs: GraphTensor[]; outputs: GraphTensor[] }, batched: boolean) => ({
  inputs: g.inputs.map((t) => tensorConfig(t, batched)),
  outputs: g.outputs.map((t) => tensorConfig(t, batched)),
});

function tensorBlock(field: 'input' | 'output', tensors: TensorConfig[]): string[] {
  const items = tensors.map((t) => {
    const lines = ['  {', `    name: ${pbString(t.name)}`, `    data_type: ${t.dataType}`, `    dims: [ ${t.dims.join(', ')} ]`];
    if (t.reshapeToScalar) lines.push('    reshape: { shape: [ ] }');
    return `${lines.join('\n')}\n  }`;
  });
  return [`${field} [`, items.join(',\n'), ']'];
}

/** config.pbtxt for one Triton model. */
export function tritonConfig(
  name: string,
  io: { inputs: TensorConfig[]; outputs: TensorConfig[] },
  maxBatchSize: number,
  versions: string[],
): string {
  const lines = [
    `# Written by modelctl deploy triton from ${versions.map((v, i) => `${v} (version ${i + 1})`).join(', ')}.`,
    `name: ${pbString(name)}`,
    'platform: "onnxruntime_onnx"',
    `max_batch_size: ${maxBatchSize}`,
  ];
  // Triton serves only the newest version unless told otherwise; every version given is meant to be served.
  if (versions.length > 1) lines.push('version_policy: { all: { } }');
  lines.push(...tensorBlock('input', io.inputs), ...tensorBlock('output', io.outputs));
  if (maxBatchSize > 0) lines.push('dynamic_batching { }');
  return `${lines.join('\n')}\n`;
}

/** The registry name as a folder name: "org/bert" -> "org--bert" (Triton model names are folder names). */
export function tritonModelName(registryName: string): string {
  return registryName.replaceAll('/', '--');
}

function chooseBatchSize(ref: string, batchable: boolean, asked: number | undefined): number {
  if (asked === 0) return 0;
  if (batchable) return asked ?? DEFAULT_MAX_BATCH_SIZE;
  if (asked !== undefined) {
    throw new ModelctlError('INVALID_INPUT', `--max-batch-size ${asked}: ${ref} has an input or output whose first dimension is fixed`, {
      hint: 'Triton batches along a free first dimension; drop --max-batch-size (or pass 0) for this model',
    });
  }
  return 0;
}

interface ModelPlan extends Omit<TritonModel, 'outcome'> {
  entries: Entry[];
}

function planModel(name: string, versions: OnnxVersion[], options: TritonOptions): ModelPlan {
  const first = graphTensors(versions[0] as OnnxVersion);
  // Compared as Triton sees them: dimensions named differently ("batch", "N") are the same free dimension.
  const unbatched = JSON.stringify(ioConfig(first, false));
  for (const v of versions.slice(1)) {
    if (JSON.stringify(ioConfig(graphTensors(v), false)) !== unbatched) {
      throw new ModelctlError('INVALID_INPUT', `${versions[0]?.ref} and ${v.ref} have different inputs or outputs`, {
        hint: 'Triton serves the versions of one model with one config.pbtxt; deploy them as separate models',
      });
    }
  }
  const refs = versions.map((v) => v.ref);
  const maxBatchSize = chooseBatchSize(refs[0] as string, first.batchable, options.maxBatchSize);
  const io = ioConfig(first, maxBatchSize > 0);
  const entries: Entry[] = [{ relPath: 'config.pbtxt', text: tritonConfig(name, io, maxBatchSize, refs) }];
  versions.forEach((v, i) => {
    const folder = String(i + 1);
    entries.push({ ...v.model, relPath: `${folder}/model.onnx` });
    for (const f of v.externalData) {
      if (f.relPath === 'model.onnx') {
        throw new ModelctlError('NOT_AVAILABLE', `${v.ref}: its external data is named model.onnx, the name Triton gives the model file`);
      }
      entries.push({ ...f, relPath: `${folder}/${f.relPath}` });
    }
  });
  return { name, dir: join(options.out, name), versions: refs, maxBatchSize, skippedOutputs: first.skipped, entries };
}

export async function deployTriton(
  registry: Registry,
  refs: readonly string[],
  options: TritonOptions,
): Promise<{ models: TritonModel[] }> {
  if (refs.length === 0) throw new ModelctlError('USAGE', 'deploy triton needs at least one model reference');
  // Resolve and check everything before writing anything: a bad reference leaves the output folder as it was.
  const byName = new Map<string, OnnxVersion[]>();
  const registryNames = new Map<string, string>();
  for (const ref of refs) {
    const version = await resolveOnnxVersion(registry, ref, 'Triton', options.signal);
    const name = tritonModelName(version.manifest.name);
    const owner = registryNames.get(name);
    if (owner !== undefined && owner !== version.manifest.name) {
      throw new ModelctlError('USAGE', `${owner} and ${version.manifest.name} would both be the Triton model ${name}`);
    }
    registryNames.set(name, version.manifest.name);
    const list = byName.get(name) ?? [];
    if (list.some((v) => v.ref === version.ref)) throw new ModelctlError('USAGE', `${version.ref} is given twice`);
    list.push(version);
    byName.set(name, list);
  }
  const plans = [...byName].map(([name, versions]) => planModel(name, versions, options));
  const output = { force: options.force === true, what: 'Triton model folder' };
  // Every model folder is checked before any is written: a refusal leaves the whole repository as it was.
  for (const plan of plans) await checkOutput(plan.dir, plan.entries, output);
  const models: TritonModel[] = [];
  for (const { entries, ...plan } of plans) {
    const outcome = await writeOutput(plan.dir, entries, output);
    models.push({ ...plan, outcome });
  }
  return { models };
}
