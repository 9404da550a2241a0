import { ModelctlError } from '../errors.js';

/** "10%" (or "10") -> 0.1. Apart from baseline.ts, so that the CLI checks --fail-if-slower without loading the baseline store. */
export function parseTolerance(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(text);
  const v = m ? Number(m[1]) / 100 : Number.NaN;
  if (!Number.isFinite(v) || v < 0 || v > 10) {
    throw new ModelctlError('USAGE', `--fail-if-slower takes a percentage, got "${text}"`, {
      hint: 'e.g. --fail-if-slower 10% (fail when the median latency is more than 10% above the baseline)',
    });
  }
  return v;
}
