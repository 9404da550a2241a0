import { Option, type Command } from 'commander';
import type { SpecTools } from './tools.js';

/** Declares `modelctl export`. */
export function declare(program: Command, tools: SpecTools): void {
  tools.example(
    program.command('export').description('convert a model to ONNX with the real Python converter of its framework, validate it against the source, and register it as a new version')
      .argument('<ref>', 'a registry model (name[:version|@alias]) or a path: HF folder, .pt/.pth, .keras/.h5, SavedModel folder, .joblib/.pkl, XGBoost .json/.ubj, LightGBM .txt')
      .addOption(new Option('--framework <framework>', 'the source framework').choices(['auto', 'hf', 'pytorch', 'tf', 'keras', 'sklearn', 'xgboost', 'lightgbm']).default('auto'))
      .option('--task <task>', 'task, e.g. text-classification (default: inferred as optimum-cli does for HF models; from the estimator for tabular ones)')
      .option('--opset <n>', 'ONNX opset: exact for torch.onnx, tf2onnx and optimum; the highest allowed for skl2onnx and onnxmltools (default: the converter\'s)')
      .option('--atol <x>', 'largest absolute difference allowed between the source framework and ONNX Runtime', '1e-4')
      .option('--no-validate', 'do not compare the export with the source framework')
      .addOption(new Option('--optimize <level>', 'ONNX Runtime graph optimizations, saved into the file').choices(['O1', 'O2', 'O3']))
      .addOption(new Option('--quantize <mode>', 'int8 (dynamic quantization) or fp16 weights (validate with a larger --atol)').choices(['int8', 'fp16']))
      .option('--sample-input <file>', 'inputs to validate with: .npy, .npz, .json (texts for HF models) or .csv (rows)')
      .option('--input-shape <dims>', 'PyTorch: an input shape to trace with, e.g. 1,3,224,224 (repeatable, one per input)', tools.collect)
      .option('--model-class <file:Class>', 'PyTorch state_dict: the module to load it into, e.g. ./net.py:Net (built without arguments)')
      .option('--name <name>', 'registry name of the export (default: the source\'s name)')
      .option('--version <version>', 'version (default: next patch)')
      .option('--out <file>', 'also write the ONNX file here')
      .option('--trust-remote-code', 'HF: allow the model\'s own Python code to run (off unless asked for)')
      .option('--python <path>', 'the Python interpreter to convert with (default: $MODELCTL_PYTHON, the managed environment, python3)')
      .option('--verify', 'for a registry model: re-hash its files before converting them')
      .option('--json', 'print JSON'),
    'modelctl export ./iris.joblib --name iris',
    'modelctl export ./bert-folder --name org/bert --task text-classification --opset 17',
    'modelctl export ./net.pt --model-class ./net.py:Net --input-shape 1,4 --name net',
    'modelctl export ./model.keras --name keras-net --atol 1e-5 --out ./model.onnx',
    'modelctl export org/bert:1.0.0 --quantize int8 --atol 0.05',
  ).action(tools.action('export'));
}
