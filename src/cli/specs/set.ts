import { flag, keyValues, list, text, values, type CommandSpec } from '../declare.js';
import { metrics } from './register.js';

export interface SetFlags {
  tags: Record<string, string>;
  untag?: string[];
  metrics: Record<string, number>;
  unmetric?: string[];
  description?: string;
  clearDescription?: boolean;
  json?: boolean;
}

export const setCommand: CommandSpec<SetFlags> = {
  name: 'set',
  description: "change a version's tags, metrics or description (a new sealed manifest; the earlier states are kept in its history)",
  arguments: [['<ref>', 'name:version (or name@alias, or a name for its latest version)']],
  options: {
    tags: values('--tag <key=value>', 'add or change a tag (repeatable)', keyValues),
    untag: list('--untag <key>', 'remove a tag (repeatable)'),
    metrics: values('--metric <key=value>', 'add or change a numeric metric (repeatable)', metrics),
    unmetric: list('--unmetric <key>', 'remove a metric (repeatable)'),
    description: text('--description <text>', 'replace the description'),
    clearDescription: flag('--clear-description', 'remove the description'),
    json: flag('--json', 'print the new manifest as JSON'),
  },
  examples: [
    'modelctl set iris:1.0.0 --tag team=ml --metric accuracy=0.93',
    'modelctl set iris:1.0.0 --untag stage --unmetric f1 --description "logistic regression, 4 features"',
  ],
};
