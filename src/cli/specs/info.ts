import { flag, type CommandSpec } from '../declare.js';

export interface InfoFlags {
  json?: boolean;
}

export const infoCommand: CommandSpec<InfoFlags> = {
  name: 'info',
  description: 'show a model version (files, metadata, lineage, aliases), or a model file or folder on disk',
  arguments: [['<ref>', 'name, name:version, name@alias, or a path (./model.onnx)']],
  options: {
    json: flag('--json', 'print JSON'),
  },
  examples: ['modelctl info iris', 'modelctl info org/bert@production --json', 'modelctl info ./model.onnx'],
};
