import { parseDevice, type Device } from '../../runtime/device.js';
import { parseGraphOptimization, type GraphOptimization } from '../../runtime/optimization.js';
import { ModelctlError } from '../../errors.js';
import { int, value, type OptionSpec } from '../declare.js';

/** The ONNX Runtime session options predict, bench and serve share, declared once. */

export const deviceOption: OptionSpec<Device> = value('--device <device>', 'cpu, cuda or cuda:N', parseDevice, { default: 'cpu' });

function cpuOnly(text: string, flag: string): 'cpu' {
  if (text !== 'cpu') throw new ModelctlError('USAGE', `${flag} takes cpu, got "${text}"`);
  return 'cpu';
}

export const fallbackOption: OptionSpec<'cpu' | undefined> = value(
  '--fallback <device>',
  'run on this device if --device cannot be used (only cpu)',
  cpuOnly,
);

export function threadsOption(description = 'intra-op threads (default: ONNX Runtime chooses)'): OptionSpec<number | undefined> {
  return int('--threads <n>', description, 0);
}

export const optimizationOption: OptionSpec<GraphOptimization> = value(
  '--optimization <level>',
  'graph optimization: disabled, basic, extended, all',
  parseGraphOptimization,
  { default: 'all' },
);
