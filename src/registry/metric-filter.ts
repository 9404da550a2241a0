import { ModelctlError } from '../errors.js';

/** One condition on a metric: `accuracy>=0.9`. */
export interface MetricCondition {
  key: string;
  op: '>' | '>=' | '<' | '<=' | '=';
  value: number;
}

const CONDITION = /^\s*([A-Za-z0-9_.:/-]{1,128})\s*(>=|<=|==|=|>|<)\s*(\S+)\s*$/;

/** Parses `KEY OP NUMBER` (OP one of >, >=, <, <=, =); a usage error (exit 2) names what was wrong. */
export function parseMetricCondition(text: string): MetricCondition {
  const m = CONDITION.exec(text);
  const hint = "write KEY OP NUMBER with OP one of >, >=, <, <=, =, e.g. --metric 'accuracy>=0.9'";
  if (!m) throw new ModelctlError('USAGE', `invalid metric condition ${JSON.stringify(text)}`, { hint });
  const value = Number(m[3]);
  if (!Number.isFinite(value))
    throw new ModelctlError('USAGE', `metric condition ${JSON.stringify(text)} compares with ${JSON.stringify(m[3])}, not a number`, {
      hint,
    });
  const op = m[2] === '==' ? '=' : (m[2] as MetricCondition['op']);
  return { key: m[1] as string, op, value };
}

/** Whether metrics satisfy a condition; a version without the metric never does. */
export function meetsCondition(metrics: Record<string, number>, c: MetricCondition): boolean {
  if (!Object.hasOwn(metrics, c.key)) return false;
  const v = metrics[c.key] as number;
  switch (c.op) {
    case '>':
      return v > c.value;
    case '>=':
      return v >= c.value;
    case '<':
      return v < c.value;
    case '<=':
      return v <= c.value;
    default:
      return v === c.value;
  }
}
