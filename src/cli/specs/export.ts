import { FRAMEWORKS } from '../../convert/families.js';
import { ModelctlError } from '../../errors.js';
import type { ExportOptions } from '../../export/export.js';
import { choice, flag, int, list, text, value, type CommandSpec } from '../declare.js';

/** The library's options of the same names (those with a default here always set), and --json. */
export interface ExportFlags
  extends Pick<
      ExportOptions,
      'task' | 'opset' | 'optimize' | 'quantize' | 'sampleInput' | 'inputShapes' | 'modelClass' | 'name' | 'version' | 'out'
    >,
    Pick<ExportOptions, 'trustRemoteCode' | 'python' | 'verify'>,
    Required<Pick<ExportOptions, 'framework' | 'atol' | 'validate'>> {
  json?: boolean;
}

function atol(text: string, flag: string): number {
  const v = Number(text);
  if (!Number.isFinite(v) || v < 0) throw new ModelctlError('USAGE', `${flag} takes a number of at least 0, got "${text}"`);
  return v;
}

export const exportCommand: CommandSpec<ExportFlags> = {
  name: 'export',
  description:
    'convert a model to ONNX with the real Python converter of its framework, validate it against the source, and register it as a new version',
  arguments: [
    [
      '<ref>',
      'a registry model (name[:version|@alias]) or a path: HF folder, .pt/.pth, .keras/.h5, SavedModel folder, .joblib/.pkl, XGBoost .json/.ubj, LightGBM .txt',
    ],
  ],
  options: {
    framework: choice('--framework <framework>', 'the source framework', ['auto', ...FRAMEWORKS], { default: 'auto' }),
    task: text(
      '--task <task>',
      'task, e.g. text-classification (default: inferred as optimum-cli does for HF models; from the estimator for tabular ones)',
    ),
    opset: int(
      '--opset <n>',
      'ONNX opset: exact for torch.onnx, tf2onnx and optimum; the highest allowed for skl2onnx and onnxmltools ' +
        "(default: the converter's)",
      1,
    ),
    atol: value('--atol <x>', 'largest absolute difference allowed between the source framework and ONNX Runtime', atol, {
      default: '1e-4',
    }),
    validate: flag('--no-validate', 'do not compare the export with the source framework'),
    optimize: choice('--optimize <level>', 'ONNX Runtime graph optimizations, saved into the file', ['O1', 'O2', 'O3']),
    quantize: choice('--quantize <mode>', 'int8 (dynamic quantization) or fp16 weights (validate with a larger --atol)', ['int8', 'fp16']),
    sampleInput: text('--sample-input <file>', 'inputs to validate with: .npy, .npz, .json (texts for HF models) or .csv (rows)'),
    inputShapes: list('--input-shape <dims>', 'PyTorch: an input shape to trace with, e.g. 1,3,224,224 (repeatable, one per input)'),
    modelClass: text(
      '--model-class <file:Class>',
      'PyTorch state_dict: the module to load it into, e.g. ./net.py:Net (built without arguments)',
    ),
    name: text('--name <name>', "registry name of the export (default: the source's name)"),
    version: text('--version <version>', 'version (default: next patch)'),
    out: text(
      '--out <path>',
      'also write the ONNX file here; a model exported as several files (encoder and decoder) needs a folder (a name ending in .onnx is refused)',
    ),
    trustRemoteCode: flag('--trust-remote-code', "HF: allow the model's own Python code to run (off unless asked for)"),
    python: text('--python <path>', 'the Python interpreter to convert with (default: $MODELCTL_PYTHON, the managed environment, python3)'),
    verify: flag('--verify', 'for a registry model: re-hash its files before converting them'),
    json: flag('--json', 'print JSON'),
  },
  examples: [
    'modelctl export ./iris.joblib --name iris',
    'modelctl export ./bert-folder --name org/bert --task text-classification --opset 17',
    'modelctl export ./net.pt --model-class ./net.py:Net --input-shape 1,4 --name net',
    'modelctl export ./model.keras --name keras-net --atol 1e-5 --out ./model.onnx',
    'modelctl export org/bert:1.0.0 --quantize int8 --atol 0.05',
  ],
};
