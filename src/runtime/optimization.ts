import { ModelctlError } from '../errors.js';

/** ONNX Runtime's graph optimization levels. Apart from the session code, so that the CLI checks them without loading it. */
export type GraphOptimization = 'disabled' | 'basic' | 'extended' | 'all';

const OPTIMIZATIONS: readonly GraphOptimization[] = ['disabled', 'basic', 'extended', 'all'];

export function parseGraphOptimization(text: string): GraphOptimization {
  const level = OPTIMIZATIONS.find((o) => o === text);
  if (level === undefined)
    throw new ModelctlError('USAGE', `unknown graph optimization level: ${text}`, { hint: `use one of ${OPTIMIZATIONS.join(', ')}` });
  return level;
}
