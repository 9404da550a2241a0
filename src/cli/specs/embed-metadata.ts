import { flag, keyValues, text, value, values, type CommandSpec } from '../declare.js';

export interface EmbedMetadataFlags {
  task?: string;
  config?: string;
  processor?: string;
  fromDir?: string;
  features?: string[];
  set: Record<string, string>;
  out?: string;
  version?: string;
  verify?: boolean;
  json?: boolean;
}

const commaList = (text: string): string[] =>
  text
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);

export const embedMetadataCommand: CommandSpec<EmbedMetadataFlags> = {
  name: 'embed-metadata',
  description: 'embed what a runtime needs (model config, processor config, task) into an ONNX file (schema 2.0)',
  arguments: [['<model>', 'an ONNX file, or a registry model (a new version is created; blobs are never changed)']],
  options: {
    task: text('--task <task>', 'pipeline task (default: detected from config.json or the graph)'),
    config: text('--config <file>', 'config.json to embed'),
    processor: text('--processor <file|dir>', 'a processor/tokenizer JSON file, or a folder holding them'),
    fromDir: text(
      '--from-dir <dir>',
      "an HF folder: config.json and processor files (default: the model's own folder or registered files)",
    ),
    features: value('--features <names>', 'feature names in input order, comma-separated (tabular models)', commaList),
    set: values('--set <key=value>', 'another metadata property (repeatable)', keyValues),
    out: text('--out <file>', 'write here (default for a file: replace it atomically)'),
    version: text('--version <version>', 'version of the new registry version (default: next patch)'),
    verify: flag('--verify', 'for a registry model: re-hash its files before reading them'),
    json: flag('--json', 'print JSON'),
  },
  examples: [
    'modelctl embed-metadata ./onnx/model.onnx --from-dir ./bert-folder',
    'modelctl embed-metadata iris --task tabular-classification --features sepal_length,sepal_width,petal_length,petal_width',
  ],
};
