/** Query parameters as the registry routes read them: one reading of booleans, optional strings and key=value pairs. */

import { HttpError } from './http.js';

export function flag(url: URL, key: string): boolean {
  const v = url.searchParams.get(key);
  if (v === null) return false;
  if (v === '' || v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new HttpError(400, `query parameter ${key} takes true or false, got ${JSON.stringify(v)}`);
}

export function param(url: URL, key: string): string | undefined {
  return url.searchParams.get(key) ?? undefined;
}

export function keyValues(url: URL, key: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of url.searchParams.getAll(key)) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new HttpError(400, `query parameter ${key} takes key=value, got ${JSON.stringify(item)}`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}
