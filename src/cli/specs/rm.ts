import { flag, type CommandSpec } from '../declare.js';

export interface RmFlags {
  allVersions?: boolean;
  yes?: boolean;
  json?: boolean;
}

export const rmCommand: CommandSpec<RmFlags> = {
  name: 'rm',
  description: 'remove a model version (or all versions) and free the blobs nothing else uses',
  arguments: [['<ref>', 'name:version, name@alias, or a name with --all-versions']],
  options: {
    allVersions: flag('--all-versions', 'remove every version of the model'),
    yes: flag('-y, --yes', 'do not ask for confirmation'),
    json: flag('--json', 'print JSON'),
  },
  examples: ['modelctl rm iris:1.0.0 --yes', 'modelctl rm org/bert --all-versions'],
};
