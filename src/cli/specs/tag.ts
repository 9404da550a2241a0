import { flag, type CommandSpec } from '../declare.js';

export interface TagFlags {
  remove?: boolean;
  json?: boolean;
}

export const tagCommand: CommandSpec<TagFlags> = {
  name: 'tag',
  description: 'point an alias (production, staging...) at a version, or remove one; key=value tags are set with `modelctl set`',
  arguments: [
    ['<ref>', 'name:version to tag (with --remove: the model name)'],
    ['<alias>', 'alias, e.g. production'],
  ],
  options: {
    remove: flag('--remove', 'remove the alias instead'),
    json: flag('--json', 'print JSON'),
  },
  examples: ['modelctl tag iris:1.0.2 production', 'modelctl tag iris production --remove'],
};
