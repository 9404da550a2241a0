import { ModelctlError } from '../errors.js';

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  k: 1e3,
  kb: 1e3,
  kib: 1024,
  m: 1e6,
  mb: 1e6,
  mib: 1024 ** 2,
  g: 1e9,
  gb: 1e9,
  gib: 1024 ** 3,
  t: 1e12,
  tb: 1e12,
  tib: 1024 ** 4,
};

/** "20GB", "512MiB", "1.5g", "1024" -> bytes. Decimal units are powers of 1000, binary units powers of 1024. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? (m[2] ?? '').toLowerCase() || 'b' : '';
  const factor = SIZE_UNITS[unit];
  if (!m || factor === undefined) {
    throw new ModelctlError('USAGE', `not a size: "${text}"`, { hint: 'use a number with a unit, e.g. 500MB, 20GB, 1.5GiB' });
  }
  return Math.floor(Number(m[1]) * factor);
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** "30d", "12h", "90m", "1w", "500ms" -> milliseconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/i.exec(text);
  const factor = m ? DURATION_UNITS[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || factor === undefined) {
    throw new ModelctlError('USAGE', `not a duration: "${text}"`, { hint: 'use a number with a unit: ms, s, m, h, d or w (e.g. 30d)' });
  }
  return Math.round(Number(m[1]) * factor);
}

/** Bytes for people: binary units, three significant digits ("1.21 GiB"). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let i = 0;
  while (Math.abs(value) >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  if (i === 0) return `${bytes} B`;
  return `${value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)} ${units[i]}`;
}

/** Large counts for people: 124439808 -> "124.4M". */
export function formatCount(n: number): string {
  if (n < 1000) return String(n);
  const units: Array<[number, string]> = [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [size, suffix] of units) {
    if (n >= size) return `${(n / size).toFixed(n / size >= 100 ? 0 : 1)}${suffix}`;
  }
  return String(n);
}

/** A time relative to now for people: "3 minutes ago", "2 days ago". */
export function formatAgo(then: Date | string | number | undefined, now: number = Date.now()): string {
  if (then === undefined) return 'never';
  const t = typeof then === 'number' ? then : new Date(then).getTime();
  if (!Number.isFinite(t)) return '-';
  const seconds = Math.max(0, Math.round((now - t) / 1000));
  const steps: Array<[number, string]> = [
    [86_400 * 365, 'year'],
    [86_400 * 30, 'month'],
    [86_400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
  ];
  for (const [size, unit] of steps) {
    if (seconds >= size) {
      const n = Math.floor(seconds / size);
      return `${n} ${unit}${n === 1 ? '' : 's'} ago`;
    }
  }
  return seconds < 5 ? 'just now' : `${seconds} seconds ago`;
}
