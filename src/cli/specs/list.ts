import { parseMetricCondition, type MetricCondition } from '../../registry/metric-filter.js';
import { flag, list as repeated, text, values, type CommandSpec } from '../declare.js';

export interface ListFlags {
  name?: string;
  task?: string;
  format?: string;
  /** `key=value`, or a bare key that matches any value. */
  tags?: string[];
  /** `accuracy>=0.9` (>, >=, <, <=, =). */
  metrics?: MetricCondition[];
  json?: boolean;
}

export const listCommand: CommandSpec<ListFlags> = {
  name: 'list',
  aliases: ['ls'],
  description: 'list model versions',
  options: {
    name: text('--name <name>', 'only this model (a glob with * is allowed: "org/*")'),
    task: text('--task <task>', 'only this task'),
    format: text('--format <format>', 'only this format (onnx, safetensors, pytorch, ...)'),
    tags: repeated('--tag <key=value>', 'only versions with this tag (repeatable; a bare key matches any value)'),
    metrics: values(
      '--metric <condition>',
      "only versions whose metric meets this condition, e.g. 'accuracy>=0.9' (>, >=, <, <=, =; repeatable, all must hold)",
      (texts) => (texts.length > 0 ? texts.map(parseMetricCondition) : undefined),
    ),
    json: flag('--json', 'print JSON'),
  },
  examples: ['modelctl list', 'modelctl list --format onnx --tag team=ml --json', "modelctl list --tag team=nlp --metric 'accuracy>=0.9'"],
};
