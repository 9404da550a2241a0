import { flag, type CommandSpec } from '../declare.js';

export interface ValidateFlags {
  strict?: boolean;
  json?: boolean;
}

export const validateCommand: CommandSpec<ValidateFlags> = {
  name: 'validate',
  description: 're-hash every blob and check manifests, aliases and ONNX files (exit 1 on problems)',
  arguments: [['[ref]', 'check only this model or version']],
  options: {
    strict: flag('--strict', 'also fail on garbage: orphan blobs and stale temporary files'),
    json: flag('--json', 'print JSON'),
  },
  examples: ['modelctl validate', 'modelctl validate iris:1.0.0 --json'],
};
