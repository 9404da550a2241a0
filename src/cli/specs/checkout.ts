import { flag, type CommandSpec } from '../declare.js';

export interface CheckoutFlags {
  force?: boolean;
  json?: boolean;
}

export const checkoutCommand: CommandSpec<CheckoutFlags> = {
  name: 'checkout',
  description: "write a version's files into a folder: exact paths, byte-identical copies (never links into the registry)",
  arguments: [
    ['<ref>', 'name:version (or name@alias, or a name for its latest version)'],
    ['<dir>', 'the folder (created if missing); files with the same content are left as they are'],
  ],
  options: {
    force: flag('--force', 'overwrite files in the folder that hold other content (otherwise: exit 8, nothing written)'),
    json: flag('--json', 'print JSON'),
  },
  examples: ['modelctl checkout acme/tiny-bert:1a2b3c4 ./tiny-bert', 'modelctl checkout iris@prod ./deploy/iris --force'],
};
