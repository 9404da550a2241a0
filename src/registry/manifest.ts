import { createHash } from 'node:crypto';
import { ModelctlError } from '../errors.js';
import { checkName, checkVersion } from './names.js';

export const MANIFEST_SCHEMA = 'modelctl.manifest/v1';

export interface ManifestFile {
  /** Path inside the model (POSIX separators), e.g. "model.onnx" or "onnx/model.onnx". */
  path: string;
  sha256: string;
  size: number;
}

export interface Lineage {
  /** What made this version: register, pull, export, embed-metadata ... */
  operation: string;
  /** Where the content came from (a path, a URL, a Hub repo, or a parent version). */
  source?: Record<string, unknown>;
  /** The registry version this one derives from, as name:version. */
  parent?: string;
  tool: string;
}

export interface Manifest {
  schema: typeof MANIFEST_SCHEMA;
  name: string;
  version: string;
  format: string;
  task: string | null;
  files: ManifestFile[];
  size: number;
  metadata: Record<string, unknown>;
  tags: Record<string, string>;
  metrics: Record<string, number>;
  description?: string;
  license?: string;
  lineage: Lineage;
  createdAt: string;
  /** The earlier states of an edited version (`modelctl set`), oldest first; absent on a version never edited. */
  history?: ManifestEdit[];
  /** sha256 of the canonical JSON of every other field: a manifest edited after it was written is detected. */
  digest: string;
}

/** What an edited version said before an edit, and when the edit replaced it. */
export interface ManifestEdit {
  digest: string;
  replacedAt: string;
  tags: Record<string, string>;
  metrics: Record<string, number>;
  description?: string;
}

/** A copy with every object's keys sorted: the same manifest always gives the same bytes, however it was built. */
export function sortKeysDeep<T>(value: T): T {
  if (Array.isArray(value)) return value.map(sortKeysDeep) as T;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([k, v]) => [k, sortKeysDeep(v)])) as T;
  }
  return value;
}

export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeysDeep(value));
}

/**
 * sha256 over the manifest's JSON (without the digest) in the key order of the file. Sealing sorts the keys once,
 * so verifying needs no sorting: JSON.parse keeps the file's order, and any edit (even a reordering) shows.
 */
export function manifestDigest(manifest: Omit<Manifest, 'digest'> | Manifest): string {
  const { digest: _ignored, ...rest } = manifest as Manifest;
  return `sha256:${createHash('sha256').update(JSON.stringify(rest)).digest('hex')}`;
}

export function sealManifest(manifest: Omit<Manifest, 'digest'>): Manifest {
  const sorted = sortKeysDeep(manifest);
  return { ...sorted, digest: manifestDigest(sorted) };
}

export function serializeManifest(manifest: Manifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

const SHA256 = /^[0-9a-f]{64}$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every way a parsed object can fail to be a manifest, as short sentences; empty when it is one. */
export function manifestProblems(value: unknown): string[] {
  if (!isRecord(value)) return ['is not a JSON object'];
  const problems: string[] = [];
  const need = (ok: boolean, text: string): void => {
    if (!ok) problems.push(text);
  };
  need(value.schema === MANIFEST_SCHEMA, `schema is not "${MANIFEST_SCHEMA}"`);
  for (const [key, check] of [
    ['name', checkName],
    ['version', checkVersion],
  ] as const) {
    const v = value[key];
    if (typeof v !== 'string') problems.push(`${key} is missing`);
    else {
      try {
        check(v);
      } catch {
        problems.push(`${key} ${JSON.stringify(v)} is not valid`);
      }
    }
  }
  need(typeof value.format === 'string' && value.format.length > 0, 'format is missing');
  need(value.task === null || typeof value.task === 'string', 'task must be a string or null');
  need(typeof value.size === 'number' && value.size >= 0, 'size is not a number');
  need(isRecord(value.metadata), 'metadata is not an object');
  need(isRecord(value.tags) && Object.values(value.tags).every((t) => typeof t === 'string'), 'tags must map strings to strings');
  need(isRecord(value.metrics) && Object.values(value.metrics).every((m) => typeof m === 'number'), 'metrics must map strings to numbers');
  need(isRecord(value.lineage) && typeof value.lineage.operation === 'string', 'lineage.operation is missing');
  need(typeof value.createdAt === 'string' && Number.isFinite(Date.parse(value.createdAt)), 'createdAt is not a date');
  need(typeof value.digest === 'string', 'digest is missing');
  need(
    value.history === undefined ||
      (Array.isArray(value.history) &&
        value.history.every((h: unknown) => isRecord(h) && typeof h.digest === 'string' && typeof h.replacedAt === 'string')),
    'history must be a list of earlier states (digest and replacedAt each)',
  );
  if (!Array.isArray(value.files) || value.files.length === 0) {
    problems.push('files must be a non-empty list');
  } else {
    const seen = new Set<string>();
    let total = 0;
    value.files.forEach((f: unknown, i) => {
      if (!isRecord(f) || typeof f.path !== 'string' || typeof f.sha256 !== 'string' || typeof f.size !== 'number') {
        problems.push(`files[${i}] needs path, sha256 and size`);
        return;
      }
      if (!isSafeRelativePath(f.path)) problems.push(`files[${i}].path ${JSON.stringify(f.path)} is not a safe relative path`);
      if (!SHA256.test(f.sha256)) problems.push(`files[${i}].sha256 is not a sha256 digest`);
      if (seen.has(f.path)) problems.push(`files[${i}].path ${JSON.stringify(f.path)} appears twice`);
      seen.add(f.path);
      total += f.size;
    });
    if (problems.length === 0 && total !== value.size)
      problems.push(`size ${String(value.size)} is not the sum of the file sizes (${total})`);
  }
  if (problems.length === 0 && value.digest !== manifestDigest(value as unknown as Manifest)) {
    problems.push('was modified after it was written (its digest does not match its content)');
  }
  return problems;
}

/** Paths inside a model: relative, POSIX, no "..", no control characters. */
export function isSafeRelativePath(path: string): boolean {
  if (path === '' || path.startsWith('/') || path.includes('\\') || /[\x00-\x1f\x7f]/.test(path)) return false;
  return path.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

/** Parses manifest text, throwing CORRUPT_MANIFEST with every problem found. */
export function parseManifest(text: string, where: string): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ModelctlError('CORRUPT_MANIFEST', `manifest ${where} is not valid JSON`, {
      hint: 'run `modelctl validate` to see every problem; remove the version with `modelctl rm` if it cannot be repaired',
      cause: err,
    });
  }
  const problems = manifestProblems(value);
  if (problems.length > 0) {
    throw new ModelctlError('CORRUPT_MANIFEST', `manifest ${where} ${problems.join('; ')}`, {
      hint: 'run `modelctl validate` to see every problem; remove the version with `modelctl rm` if it cannot be repaired',
    });
  }
  return value as Manifest;
}
