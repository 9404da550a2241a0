import { parseDevice, type Device } from '../../runtime/device.js';
import { parseGraphOptimization, type GraphOptimization } from '../../runtime/optimization.js';
import { ModelctlError } from '../../errors.js';
import { checkThreads } from '../../runtime/threads.js';
import { flag, text, value, type OptionSpec } from '../declare.js';

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
  // Bounded here too, so that a bad count is refused before a model is resolved or an input read.
  return value('--threads <n>', description, (text) => {
    const n = text.trim() === '' ? Number.NaN : Number(text);
    checkThreads(n, 'threads'); // the runtime's own message and range, whatever the spelling (1e9, 4096, -1)
    return n;
  });
}

export const optimizationOption: OptionSpec<GraphOptimization> = value(
  '--optimization <level>',
  'graph optimization: disabled, basic, extended, all',
  parseGraphOptimization,
  { default: 'all' },
);

/** predict, bench and serve on a registered model that is not ONNX: convert it once (default) or refuse. */
export const convertOptions = {
  convert: flag('--no-convert', 'refuse a registered model that is not ONNX instead of exporting it once and running the export'),
  python: text(
    '--python <path>',
    'the Python interpreter a conversion runs with (default: $MODELCTL_PYTHON, the managed environment, python3)',
  ),
};

export interface ConvertFlags {
  convert: boolean;
  python?: string;
}
