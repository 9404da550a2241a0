import { createHash } from 'node:crypto';
import { constants as zlibConstants, gunzipSync, gzipSync } from 'node:zlib';
import { ModelctlError } from '../errors.js';

/**
 * Metadata schema 2.0: what an exporter embeds in ModelProto.metadata_props so that a runtime needs nothing but
 * the .onnx file (config, processor files, task, feature names). Every value is a string, as metadata_props
 * demands; structured values are compact JSON, and large ones are gzip-compressed behind a marker so that the
 * whole block stays small. The checksum covers the stored strings, so verifying needs no decompression.
 */

export const HF_METADATA_VERSION = '2.0';

export const HF_KEYS = {
  version: 'hf_metadata_version',
  task: 'hf_pipeline_task',
  exportTimestamp: 'hf_export_timestamp',
  modelConfig: 'hf_model_config',
  processorConfig: 'hf_processor_config',
  featureConfig: 'hf_feature_config',
  checksum: 'hf_checksum',
} as const;

const RESERVED: ReadonlySet<string> = new Set(Object.values(HF_KEYS));

/** A JSON text can never start with this, so a reader knows a compressed value without guessing. */
export const GZIP_MARKER = 'gzip+base64:';
/** Values whose UTF-8 JSON is longer than this are stored compressed. */
export const COMPRESS_OVER_BYTES = 10 * 1024;
/** A compressed value may not inflate past this: a small, hostile file must not exhaust memory. */
const MAX_INFLATED_BYTES = 64 * 1024 * 1024;

export interface HfMetadata {
  task?: string;
  modelConfig?: unknown;
  processorConfig?: Record<string, unknown>;
  featureConfig?: unknown;
  exportTimestamp?: string;
  /** Other hf_* keys the caller sets with --set hf_x=..., stored as given. */
  extra?: Record<string, string>;
}

export interface DecodedHfMetadata {
  version: string;
  task?: string;
  modelConfig?: unknown;
  processorConfig?: Record<string, unknown>;
  featureConfig?: unknown;
  exportTimestamp?: string;
  checksum: { stored?: string; computed: string; ok: boolean };
  extra: Record<string, string>;
  /** Stored bytes (UTF-8) per key. */
  sizes: Record<string, number>;
}

export function isHfKey(key: string): boolean {
  return key.startsWith('hf_');
}

const EXTRA_KEY = /^hf_[A-Za-z0-9_.-]+$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/;
// With the u flag a surrogate range matches only unpaired halves, which UTF-8 cannot carry: written, they would
// come back as U+FFFD and the checksum would fail.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** A value from a user or a file, shown in a one-line message: quoted, cut short, line breaks escaped. */
export function quote(value: string, max = 60): string {
  const shown = JSON.stringify(value.length > max ? `${value.slice(0, max)}...` : value);
  return shown.replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function invalid(message: string, hint: string): ModelctlError {
  return new ModelctlError('INVALID_INPUT', message, { hint });
}

function checkText(what: string, value: unknown, maxLength = Infinity): string {
  if (typeof value !== 'string') throw invalid(`${what} must be a string`, `pass ${what} as text`);
  if (LONE_SURROGATE.test(value)) throw invalid(`${what} is not valid Unicode (a lone surrogate)`, 'fix the text encoding of the value');
  if (value.length > maxLength) throw invalid(`${what} is longer than ${maxLength} characters`, `shorten ${what}`);
  return value;
}

function checkTimestamp(value: string): string {
  if (!ISO_UTC.test(value) || !Number.isFinite(Date.parse(value))) {
    throw invalid(`export timestamp ${quote(value, 40)} is not an ISO 8601 UTC time`, 'use a time like 2024-05-01T12:00:00Z');
  }
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Code-point order (the order of UTF-8 bytes), which is what Python's sort_keys gives too. */
function byCodePoint(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Compact JSON, compressed behind the marker when it is over the threshold. */
export function storeJsonValue(what: string, value: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw new ModelctlError('INVALID_INPUT', `${what} cannot be written as JSON: ${(err as Error).message}`, {
      hint: 'pass plain JSON data (no BigInt, no cycles)',
      cause: err,
    });
  }
  if (json === undefined) throw invalid(`${what} cannot be written as JSON`, 'pass plain JSON data (objects, arrays, strings, numbers)');
  const bytes = Buffer.from(json, 'utf8');
  if (bytes.length <= COMPRESS_OVER_BYTES) return json;
  return GZIP_MARKER + gzipSync(bytes, { level: zlibConstants.Z_BEST_COMPRESSION }).toString('base64');
}

/**
 * "sha256:<hex>" of the canonical metadata: the JSON object of every hf_* key except hf_checksum mapped to its
 * stored string, keys in code-point order, no whitespace. Equal to Python's
 * json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False) encoded as UTF-8.
 */
export function computeHfChecksum(props: Record<string, string>): string {
  const keys = Object.keys(props)
    .filter((k) => isHfKey(k) && k !== HF_KEYS.checksum)
    .sort(byCodePoint);
  const canonical: Record<string, string> = {};
  for (const key of keys) canonical[key] = props[key] as string;
  return `sha256:${createHash('sha256').update(JSON.stringify(canonical), 'utf8').digest('hex')}`;
}

/** The complete set of hf_* props to write: version first, checksum last. */
export function encodeHfMetadata(meta: HfMetadata, options: { clock?: () => Date } = {}): Record<string, string> {
  const props: Record<string, string> = { [HF_KEYS.version]: HF_METADATA_VERSION };
  if (meta.task !== undefined) {
    const task = checkText('task', meta.task, 256);
    if (task.trim() === '' || /[\u0000-\u001f\u007f]/.test(task)) {
      throw invalid(`task ${quote(task, 40)} is empty or holds control characters`, 'use a pipeline task name such as text-classification');
    }
    props[HF_KEYS.task] = task;
  }
  let stamp = meta.exportTimestamp;
  if (stamp === undefined) {
    const now = (options.clock ?? (() => new Date()))();
    if (!Number.isFinite(now.getTime())) throw invalid('the clock returned an invalid date', 'pass a clock that returns a valid Date');
    stamp = now.toISOString();
  }
  props[HF_KEYS.exportTimestamp] = checkTimestamp(checkText('export timestamp', stamp, 64));
  if (meta.modelConfig !== undefined) props[HF_KEYS.modelConfig] = storeJsonValue('model config', meta.modelConfig);
  if (meta.processorConfig !== undefined) {
    if (!isPlainObject(meta.processorConfig)) {
      throw invalid('processor config must be an object keyed by file name', 'pass e.g. {"tokenizer_config.json": {...}}');
    }
    props[HF_KEYS.processorConfig] = storeJsonValue('processor config', meta.processorConfig);
  }
  if (meta.featureConfig !== undefined) props[HF_KEYS.featureConfig] = storeJsonValue('feature config', meta.featureConfig);
  for (const key of Object.keys(meta.extra ?? {}).sort(byCodePoint)) {
    if (!EXTRA_KEY.test(key)) {
      throw invalid(`metadata key ${quote(key)} is not an hf_* name`, 'extra keys look like hf_name (letters, digits, _ . -)');
    }
    if (RESERVED.has(key))
      throw invalid(`${key} is part of the schema and cannot be set as an extra key`, 'use the matching option instead');
    props[key] = checkText(key, (meta.extra as Record<string, string>)[key]);
  }
  props[HF_KEYS.checksum] = computeHfChecksum(props);
  return props;
}

function corrupt(key: string, problem: string, cause?: unknown): ModelctlError {
  return new ModelctlError(
    'CORRUPT_MODEL',
    `embedded metadata ${key.startsWith('hf_') && /^[\w.-]+$/.test(key) ? key : quote(key)} ${problem}`,
    {
      hint: 'the model was written by a faulty exporter: embed the metadata again with `modelctl embed-metadata`',
      details: { key },
      ...(cause === undefined ? {} : { cause }),
    },
  );
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Reverses storeJsonValue; every failure names its key. */
export function readJsonValue(key: string, stored: string): unknown {
  let json = stored;
  if (stored.startsWith(GZIP_MARKER)) {
    const body = stored.slice(GZIP_MARKER.length);
    if (!BASE64.test(body)) throw corrupt(key, 'is marked compressed but is not valid base64');
    let inflated: Buffer;
    try {
      inflated = gunzipSync(Buffer.from(body, 'base64'), { maxOutputLength: MAX_INFLATED_BYTES });
    } catch (err) {
      throw corrupt(key, `is marked compressed but is not valid gzip (${(err as Error).message.split('\n')[0]})`, err);
    }
    try {
      json = strictUtf8.decode(inflated);
    } catch (err) {
      throw corrupt(key, 'inflates to bytes that are not UTF-8', err);
    }
  }
  if (nestingDepth(json) > MAX_DEPTH) throw corrupt(key, `is nested more than ${MAX_DEPTH} levels deep`);
  try {
    return JSON.parse(json) as unknown;
  } catch (err) {
    throw corrupt(key, `is not valid JSON (${(err as Error).message.split('\n')[0]})`, err);
  }
}

/** Real configs nest a few levels; a value nested thousands deep only exists to overflow a recursive reader. */
const MAX_DEPTH = 256;

function nestingDepth(json: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

function versionError(found: string | undefined, keys: string[]): ModelctlError {
  const shown =
    keys
      .slice(0, 5)
      .map((k) => quote(k, 40))
      .join(', ') + (keys.length > 5 ? ', ...' : '');
  const message =
    found === undefined
      ? `the model has hf_* metadata (${shown}) but no ${HF_KEYS.version}; modelctl reads version ${HF_METADATA_VERSION}`
      : `the embedded metadata is version ${quote(found, 40)}; modelctl reads version ${HF_METADATA_VERSION}`;
  return new ModelctlError('CORRUPT_MODEL', message, {
    hint: `embed it again with \`modelctl embed-metadata\` to write version ${HF_METADATA_VERSION}, or read it with the tool that wrote it`,
    details: { found: found ?? null, supported: [HF_METADATA_VERSION] },
  });
}

function integrityError(stored: string | undefined, computed: string): ModelctlError {
  const message =
    stored === undefined
      ? `the embedded metadata has no ${HF_KEYS.checksum}, so it cannot be verified`
      : 'the embedded metadata was modified after it was written (its checksum does not match)';
  return new ModelctlError('INTEGRITY', message, {
    hint: 'embed the metadata again with `modelctl embed-metadata`, or restore the original file',
    details: { stored: stored?.slice(0, 80) ?? null, computed },
  });
}

/**
 * Reads schema 2.0 back from metadata_props; undefined when the model has no hf_* keys. The checksum is verified
 * before anything is decoded; `verify: false` records a mismatch in `checksum.ok` instead of throwing (for
 * showing what a tampered file says).
 */
export function decodeHfMetadata(props: Record<string, string>, options: { verify?: boolean } = {}): DecodedHfMetadata | undefined {
  const keys = Object.keys(props).filter(isHfKey);
  if (keys.length === 0) return undefined;
  for (const key of keys) if (typeof props[key] !== 'string') throw corrupt(key, 'is not a string');
  const version = props[HF_KEYS.version];
  if (version !== HF_METADATA_VERSION) throw versionError(version, keys);

  const stored = props[HF_KEYS.checksum];
  const computed = computeHfChecksum(props);
  const ok = stored !== undefined && stored.toLowerCase() === computed;
  if (!ok && options.verify !== false) throw integrityError(stored, computed);

  const out: DecodedHfMetadata = {
    version,
    checksum: { ...(stored === undefined ? {} : { stored }), computed, ok },
    extra: {},
    sizes: {},
  };
  for (const key of keys) out.sizes[key] = Buffer.byteLength(props[key] as string, 'utf8');
  const task = props[HF_KEYS.task];
  if (task !== undefined) out.task = task;
  const stamp = props[HF_KEYS.exportTimestamp];
  if (stamp !== undefined) out.exportTimestamp = stamp;
  const modelConfig = props[HF_KEYS.modelConfig];
  if (modelConfig !== undefined) out.modelConfig = readJsonValue(HF_KEYS.modelConfig, modelConfig);
  const processor = props[HF_KEYS.processorConfig];
  if (processor !== undefined) {
    const value = readJsonValue(HF_KEYS.processorConfig, processor);
    if (!isPlainObject(value)) throw corrupt(HF_KEYS.processorConfig, 'is not a JSON object keyed by file name');
    out.processorConfig = value;
  }
  const feature = props[HF_KEYS.featureConfig];
  if (feature !== undefined) out.featureConfig = readJsonValue(HF_KEYS.featureConfig, feature);
  for (const key of keys.sort(byCodePoint)) if (!RESERVED.has(key)) out.extra[key] = props[key] as string;
  return out;
}

/**
 * Turns CLI `--set key=value` pairs into schema fields: known hf_* keys fill their field (JSON ones are parsed),
 * other hf_* keys become extras, and keys without the prefix are plain metadata_props.
 */
export function applyHfSet(meta: HfMetadata, set: Record<string, string>): { meta: HfMetadata; plain: Record<string, string> } {
  const next: HfMetadata = { ...meta, extra: { ...meta.extra } };
  const plain: Record<string, string> = {};
  const json = (key: string, value: string): unknown => {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      throw new ModelctlError('INVALID_INPUT', `--set ${key}: the value is not valid JSON`, {
        hint: `pass JSON, e.g. --set ${key}='{"a":1}'`,
      });
    }
  };
  for (const [key, value] of Object.entries(set)) {
    if (!isHfKey(key)) plain[key] = value;
    else if (key === HF_KEYS.task) next.task = value;
    else if (key === HF_KEYS.exportTimestamp) next.exportTimestamp = value;
    else if (key === HF_KEYS.modelConfig) next.modelConfig = json(key, value);
    else if (key === HF_KEYS.processorConfig) next.processorConfig = json(key, value) as Record<string, unknown>;
    else if (key === HF_KEYS.featureConfig) next.featureConfig = json(key, value);
    else if (key === HF_KEYS.version || key === HF_KEYS.checksum) {
      throw new ModelctlError('INVALID_INPUT', `--set ${key}: modelctl computes this key`, {
        hint: `leave ${key} out; it is written for you`,
      });
    } else (next.extra as Record<string, string>)[key] = value;
  }
  return { meta: next, plain };
}
