import { availableParallelism } from 'node:os';
import { ModelctlError } from '../errors.js';

/**
 * The most threads one pool may ask for: above any machine's logical CPU count, below what ONNX Runtime survives
 * (it allocates per thread before checking anything: 1e9 ends in std::bad_alloc, 1e5 in tens of GB and minutes).
 */
export const MAX_THREADS = 1024;

export function checkThreads(value: number | undefined, what: string): void {
  if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0 && value <= MAX_THREADS)) {
    throw new ModelctlError('USAGE', `${what} must be a whole number from 0 to ${MAX_THREADS}, not ${String(value)}`, {
      hint: `0 (or leaving it out) lets onnxruntime choose; this machine has ${availableParallelism()} logical CPUs, and more threads than that rarely help`,
    });
  }
}
