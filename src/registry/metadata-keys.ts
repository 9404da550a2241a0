import { ModelctlError } from '../errors.js';

const SAFE_KEY = /^[A-Za-z0-9_.:/-]{1,128}$/;

/** Whether a tag or metric key is one modelctl stores (what arrives from elsewhere may not be). */
export function isSafeKey(key: string): boolean {
  return SAFE_KEY.test(key);
}
function checkKeys(kind: string, record: Record<string, unknown> | undefined): void {
  for (const key of Object.keys(record ?? {})) {
    if (!SAFE_KEY.test(key)) {
      throw new ModelctlError('USAGE', `invalid ${kind} key ${JSON.stringify(key)}`, {
        hint: 'keys hold letters, digits and . _ : / - (at most 128 characters)',
      });
    }
  }
}

/** Tag and metric keys are safe identifiers, tag values strings and metric values finite numbers. */
export function checkMetadataKeys(o: { tags?: Record<string, string>; metrics?: Record<string, number> }): void {
  checkKeys('tag', o.tags);
  checkKeys('metric', o.metrics);
  for (const [key, value] of Object.entries(o.tags ?? {})) {
    if (typeof value !== 'string') throw new ModelctlError('USAGE', `tag ${key} is not a string`);
  }
  for (const [key, value] of Object.entries(o.metrics ?? {})) {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new ModelctlError('USAGE', `metric ${key} is not a finite number`);
  }
}
