import { ModelctlError } from '../../errors.js';
import { flag, keyValues, list, text, values, type CommandSpec } from '../declare.js';

export interface RegisterFlags {
  name: string;
  version?: string;
  task?: string;
  tags: Record<string, string>;
  metrics: Record<string, number>;
  aliases?: string[];
  description?: string;
  license?: string;
  latest: boolean;
  json?: boolean;
}

export function metrics(texts: string[], flag: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, text] of Object.entries(keyValues(texts, flag))) {
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value)) throw new ModelctlError('USAGE', `${flag} ${key} takes a number, got "${text}"`);
    out[key] = value;
  }
  return out;
}

export const registerCommand: CommandSpec<RegisterFlags> = {
  name: 'register',
  description: 'add a model file or folder to the registry as a new version',
  arguments: [
    ['<path>', 'a model file or folder (ONNX, safetensors, PyTorch, pickle/joblib, Keras, SavedModel, XGBoost, LightGBM, HF folder)'],
  ],
  options: {
    name: text('--name <name>', 'model name, e.g. my-model or org/my-model', { required: true }),
    version: text('--version <version>', 'version (default: next patch of the highest, starting at 1.0.0)'),
    task: text('--task <task>', 'task, e.g. text-classification (default: detected from the files)'),
    tags: values('--tag <key=value>', 'a tag (repeatable)', keyValues),
    metrics: values('--metric <key=value>', 'a numeric metric (repeatable)', metrics),
    aliases: list('--alias <alias>', 'point an alias at the new version (repeatable)'),
    description: text('--description <text>', 'free-text description'),
    license: text('--license <license>', 'license identifier, e.g. apache-2.0'),
    latest: flag('--no-latest', 'do not move the latest alias to the new version'),
    json: flag('--json', 'print the manifest as JSON'),
  },
  examples: [
    'modelctl register ./model.onnx --name iris --tag team=ml --metric accuracy=0.97',
    'modelctl register ./bert-folder --name org/bert --version 2.0.0 --alias staging',
  ],
};
