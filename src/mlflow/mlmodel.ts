import { randomUUID } from 'node:crypto';
import type { Manifest } from '../registry/manifest.js';

/**
 * The files beside the ONNX model in an MLflow model folder: MLmodel in the ONNX flavor (with python_function
 * naming mlflow.onnx as loader, so `mlflow.pyfunc.load_model` predicts with it), the Python environment the
 * flavor needs, and, read back on pull, where the flavor says the model file is. MLmodel is YAML; what is written
 * here is the block style MLflow writes itself, every string double-quoted (a JSON string is a YAML string).
 */

/** The files MLflow writes beside a model; pull leaves them out of the registered version. */
export const MLFLOW_FILES = new Set([
  'MLmodel',
  'conda.yaml',
  'python_env.yaml',
  'requirements.txt',
  'constraints.txt',
  'input_example.json',
  'serving_input_example.json',
  'registered_model_meta',
]);

/**
 * The first ONNX release whose default opset (ai.onnx) is the key: the oldest `onnx` that reads the model, which
 * MLflow records as the flavor's onnx_version (the package a model was saved with; modelctl saves with none).
 */
const ONNX_RELEASE_BY_OPSET: Record<number, string> = {
  7: '1.2.0',
  8: '1.3.0',
  9: '1.4.1',
  10: '1.5.0',
  11: '1.6.0',
  12: '1.7.0',
  13: '1.8.0',
  14: '1.9.0',
  15: '1.10.0',
  16: '1.11.0',
  17: '1.12.0',
  18: '1.13.0',
  19: '1.14.0',
  20: '1.15.0',
  21: '1.16.0',
  22: '1.17.0',
};

function defaultOpset(m: Manifest): number | undefined {
  const imports = m.metadata.opsetImports;
  if (!Array.isArray(imports)) return undefined;
  const versions = imports
    .filter(
      (o): o is { domain: string; version: number } => typeof o === 'object' && o !== null && (o.domain === '' || o.domain === 'ai.onnx'),
    )
    .map((o) => o.version);
  return versions.length ? Math.max(...versions) : undefined;
}

/** numpy's names for ONNX element types, as MLflow's tensor specs write them. */
const NUMPY_DTYPES = new Set([
  'float16',
  'float32',
  'float64',
  'int8',
  'int16',
  'int32',
  'int64',
  'uint8',
  'uint16',
  'uint32',
  'uint64',
  'bool',
]);

interface TensorInfo {
  name?: unknown;
  kind?: unknown;
  dtype?: unknown;
  shape?: unknown;
}

/** MLflow's tensor-based schema (a JSON string) for the graph's inputs or outputs; undefined when one is not a plain tensor. */
function tensorSchema(list: unknown): string | undefined {
  if (!Array.isArray(list) || list.length === 0) return undefined;
  const specs = [];
  for (const t of list as TensorInfo[]) {
    if (t.kind !== 'tensor' || typeof t.name !== 'string' || typeof t.dtype !== 'string' || !NUMPY_DTYPES.has(t.dtype)) return undefined;
    if (!Array.isArray(t.shape)) return undefined;
    const shape = t.shape.map((d) => (typeof d === 'number' ? d : -1));
    specs.push({ type: 'tensor', 'tensor-spec': { dtype: t.dtype, shape }, name: t.name });
  }
  return JSON.stringify(specs);
}

const q = (s: string): string => JSON.stringify(s);

export interface MlmodelFields {
  manifest: Manifest;
  /** The ONNX file MLflow loads, relative to the model folder. */
  data: string;
  runId: string;
  artifactPath: string;
  createdAt: Date;
  mlflowVersion?: string;
}

/** The MLmodel file of a version pushed by modelctl. */
export function mlmodelText(f: MlmodelFields): string {
  const m = f.manifest;
  const opset = defaultOpset(m);
  const onnxVersion = opset === undefined ? undefined : ONNX_RELEASE_BY_OPSET[opset];
  const inputs = tensorSchema(m.metadata.inputs);
  const outputs = tensorSchema(m.metadata.outputs);
  const lines = [
    `artifact_path: ${q(f.artifactPath)}`,
    'flavors:',
    '  onnx:',
    '    code: null',
    `    data: ${q(f.data)}`,
    ...(onnxVersion ? [`    onnx_version: ${q(onnxVersion)}`] : []),
    '    providers:',
    '    - "CPUExecutionProvider"',
    '  python_function:',
    '    code: null',
    `    data: ${q(f.data)}`,
    '    env:',
    '      conda: "conda.yaml"',
    '      virtualenv: "python_env.yaml"',
    '    loader_module: "mlflow.onnx"',
    '    python_version: "3.11"',
    'metadata:',
    `  modelctl_ref: ${q(`${m.name}:${m.version}`)}`,
    `  modelctl_digest: ${q(m.digest)}`,
    `model_size_bytes: ${m.size}`,
    `model_uuid: ${q(randomUUID().replace(/-/g, ''))}`,
    `run_id: ${q(f.runId)}`,
    ...(inputs && outputs ? ['signature:', `  inputs: ${q(inputs)}`, `  outputs: ${q(outputs)}`, '  params: null'] : []),
    `utc_time_created: ${q(f.createdAt.toISOString().replace('T', ' ').replace('Z', ''))}`,
  ];
  return `${lines.join('\n')}\n`;
}

/** What `mlflow.onnx` needs to load and run the model: the pip requirements and the environments naming them. */
export function environmentFiles(): Record<string, string> {
  const requirements = ['mlflow', 'onnx', 'onnxruntime'];
  return {
    'requirements.txt': `${requirements.join('\n')}\n`,
    'python_env.yaml': ['python: 3.11', 'build_dependencies:', '- pip', 'dependencies:', '- -r requirements.txt', ''].join('\n'),
    'conda.yaml': [
      'channels:',
      '- conda-forge',
      'dependencies:',
      '- python=3.11',
      '- pip',
      '- pip:',
      ...requirements.map((r) => `  - ${r}`),
      'name: mlflow-env',
      '',
    ].join('\n'),
  };
}

function unquote(value: string): string {
  const v = value.trim();
  if (v.startsWith('"')) {
    try {
      return JSON.parse(v) as string;
    } catch {
      return v.slice(1, -1);
    }
  }
  if (v.startsWith("'") && v.endsWith("'")) return v.slice(1, -1).replace(/''/g, "'");
  return v;
}

/**
 * `flavors.onnx.data` of an MLmodel file (MLflow's block-style YAML): the ONNX file of the model, or undefined
 * when the model has no ONNX flavor.
 */
export function onnxFlavorData(mlmodel: string): string | undefined {
  let section = '';
  let flavor = '';
  for (const line of mlmodel.split(/\r?\n/)) {
    const top = /^(\S[^:]*):/.exec(line);
    if (top) {
      section = top[1] as string;
      flavor = '';
      continue;
    }
    if (section !== 'flavors') continue;
    const f = /^ {2}(\S[^:]*):\s*$/.exec(line);
    if (f) {
      flavor = f[1] as string;
      continue;
    }
    const d = /^ {4}data:\s*(.+)$/.exec(line);
    if (flavor === 'onnx' && d) return unquote(d[1] as string);
  }
  return undefined;
}
