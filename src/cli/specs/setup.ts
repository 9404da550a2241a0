import { parseFamilies, type Family } from '../../convert/families.js';
import { flag, text, value, type CommandSpec } from '../declare.js';

export interface SetupFlags {
  families: Family[];
  python?: string;
  check?: boolean;
  force?: boolean;
  json?: boolean;
}

export const setupCommand: CommandSpec<SetupFlags> = {
  name: 'setup',
  description: 'set up the Python converter environments (managed virtual environments under the registry home)',
  arguments: [['<what>', 'python']],
  options: {
    families: value(
      '--with <families>',
      'converter families: hf, sklearn, tf, torch, xgboost, lightgbm (comma-separated) or all',
      parseFamilies,
      {
        default: 'all',
      },
    ),
    python: text('--python <path>', 'the interpreter to create the environments with (default: python3); with --check, the one to check'),
    check: flag('--check', 'report which converters are usable, with versions (installs nothing; exit 1 when one is not)'),
    force: flag('--force', 'reinstall even when the environment is up to date'),
    json: flag('--json', 'print JSON'),
  },
  examples: [
    'modelctl setup python --with sklearn,xgboost',
    'modelctl setup python --with all --python /usr/bin/python3.11',
    'modelctl setup python --check --json',
  ],
};
