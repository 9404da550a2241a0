/** What `register` learns about a model from its bytes, without loading weights. */

export type ModelFormat =
  | 'onnx'
  | 'safetensors'
  | 'pytorch'
  | 'pickle'
  | 'joblib'
  | 'keras'
  | 'keras-h5'
  | 'tf-savedmodel'
  | 'xgboost'
  | 'lightgbm'
  | 'transformers';

export const MODEL_FORMATS: readonly ModelFormat[] = [
  'onnx',
  'safetensors',
  'pytorch',
  'pickle',
  'joblib',
  'keras',
  'keras-h5',
  'tf-savedmodel',
  'xgboost',
  'lightgbm',
  'transformers',
];

export interface InspectedFile {
  /** Path inside the model, POSIX separators ("model.onnx", "onnx/model.onnx", "variables/variables.index"). */
  path: string;
  /** Absolute path on disk. */
  abs: string;
  size: number;
}

export interface Inspection {
  format: ModelFormat;
  /** Every file that belongs to the model, sorted by path. */
  files: InspectedFile[];
  /** The file that holds the model itself, when there is one (path inside the model). */
  primary?: string;
  /** Format-specific facts, JSON-serialisable, small (no weights, no big arrays). */
  metadata: Record<string, unknown>;
  /** Parameter count when the format tells it without loading weights. */
  parameters?: number;
  /** Element count per dtype ("float32": 1234), when known. */
  dtypes?: Record<string, number>;
  /** The task the content suggests, and why (e.g. "config.json architectures: BertForSequenceClassification"). */
  task?: string;
  taskReason?: string;
  /** True when loading the model would unpickle (execute code): pickle, joblib, legacy/zip PyTorch. */
  pickle: boolean;
  /** Things the user should know (one line each), e.g. that a pickle references os.system. */
  warnings: string[];
}
