import type { ByteSource } from '../onnx/wire.js';
import { addCount, singleFile, type FileContext, type FormatFacts } from './context.js';
import { H5File, H5Unsupported, SliceSource, type H5Dataset } from './h5.js';
import { MB, corrupt, decodeLatin1, decodeUtf8, isRecord, readAt, tryParseJson, withSource } from './io.js';
import type { Inspection } from './types.js';
import { entryDataOffset, readZipEntry, type ZipEntry } from './zip.js';

/**
 * Keras models: the v3 ".keras" zip (config.json, metadata.json, model.weights.h5) and the legacy HDF5 file.
 * Attributes and weight shapes come from the small HDF5 reader in h5.ts. For HDF5 layouts it does not cover, the
 * first megabytes are searched for the model_config JSON text instead ('{"class_name"' and its balanced braces),
 * which h5py stores contiguously; that fallback is a heuristic and reports "not found" rather than guess when
 * the config lies past the scanned prefix.
 */

const HDF5_SIGNATURE = Uint8Array.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
const H5_SCAN_BYTES = 8 * MB;
const MAX_CONFIG_JSON = 16 * MB;

/** HDF5 allows a user block before the superblock, so the signature may sit at 0, 512, 1024, 2048, ... */
export function hdf5SignatureOffset(source: ByteSource): number | undefined {
  for (let at = 0; at + 8 <= source.size && at <= 64 * MB; at = at === 0 ? 512 : at * 2) {
    const bytes = readAt(source, at, 8);
    if (HDF5_SIGNATURE.every((b, i) => bytes[i] === b)) return at;
  }
  return undefined;
}

/** Class, name and layers of a model config; the InputLayer is not counted, as model.layers does not list it. */
function layerFacts(config: unknown): Record<string, unknown> {
  if (!isRecord(config)) return {};
  const inner = isRecord(config.config) ? config.config : {};
  const layers = (Array.isArray(inner.layers) ? inner.layers : []).filter(isRecord);
  const list = layers
    .filter((l) => l.class_name !== 'InputLayer')
    .map((l) => ({ name: isRecord(l.config) && typeof l.config.name === 'string' ? l.config.name : '?', class: String(l.class_name) }));
  return {
    ...(typeof config.class_name === 'string' ? { className: config.class_name } : {}),
    ...(typeof inner.name === 'string' ? { name: inner.name } : {}),
    ...(Array.isArray(inner.layers) ? { layerCount: list.length, layers: list.slice(0, 100) } : {}),
  };
}

/** Parameters from weight datasets; optimizer state (a separate group) is not part of the model. */
function weightFacts(datasets: H5Dataset[]): Pick<FormatFacts, 'parameters' | 'dtypes'> {
  const dtypes: Record<string, number> = {};
  let parameters = 0;
  for (const d of datasets) {
    if (d.dtype === 'string') continue;
    const n = d.shape.reduce((a, b) => a * b, 1);
    parameters += n;
    addCount(dtypes, d.dtype, n);
  }
  return { parameters, dtypes };
}

const isOptimizerGroup = (path: string): boolean => /^optimizer(_weights)?(\/|$)/.test(path);

/** Facts of a .keras archive already listed as `entries`. */
export function kerasZipFacts(source: ByteSource, entries: ZipEntry[], where: string): FormatFacts {
  const json = (name: string): unknown => {
    const entry = entries.find((e) => e.name === name);
    if (!entry) return undefined;
    const parsed = tryParseJson(decodeUtf8(readZipEntry(source, entry, MAX_CONFIG_JSON)));
    if (parsed === undefined) throw corrupt(where, `${name} inside the .keras archive is not valid JSON`);
    return parsed;
  };
  const config = json('config.json');
  if (!isRecord(config)) throw corrupt(where, '.keras archive without a config.json object');
  const meta = json('metadata.json');
  const weights = entries.find((e) => e.name === 'model.weights.h5' || e.name === 'model.weights.npz');
  const warnings = weights ? [] : [`${where} has no model.weights.h5: it holds an architecture without weights`];
  let counted: Pick<FormatFacts, 'parameters' | 'dtypes'> = {};
  if (weights?.name.endsWith('.h5') && weights.method === 0) {
    try {
      const h5 = new H5File(new SliceSource(source, entryDataOffset(source, weights), weights.size));
      counted = weightFacts(h5.datasets(isOptimizerGroup));
    } catch (err) {
      if (!(err instanceof H5Unsupported)) throw err;
      warnings.push(`${where}: model.weights.h5 uses an HDF5 layout modelctl does not read (${err.message}); parameters unknown`);
    }
  }
  return {
    ...counted,
    metadata: {
      ...(isRecord(meta) && typeof meta.keras_version === 'string' ? { kerasVersion: meta.keras_version } : {}),
      ...(isRecord(meta) && typeof meta.date_saved === 'string' ? { dateSaved: meta.date_saved } : {}),
      ...(typeof config.module === 'string' ? { module: config.module } : {}),
      ...layerFacts(config),
      ...(weights ? { weightsFile: weights.name, weightsBytes: weights.size } : {}),
      entries: entries.map((e) => e.name).slice(0, 50),
    },
    warnings,
  };
}

export function inspectKerasZip(ctx: FileContext, source: ByteSource, entries: ZipEntry[]): Inspection {
  return singleFile(ctx, 'keras', kerasZipFacts(source, entries, ctx.display));
}

/** The balanced JSON object starting at `start`, honouring strings, or undefined when it does not close in `text`. */
function balancedObject(text: string, start: number): string | undefined {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length && i - start < MAX_CONFIG_JSON; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '{') depth++;
    else if (ch === '}' && --depth === 0) return text.slice(start, i + 1);
  }
  return undefined;
}

/** Finds Keras' model_config JSON in the scanned prefix: the first '{"class_name"' object that parses. */
function findModelConfig(text: string): Record<string, unknown> | undefined {
  for (let at = text.indexOf('{"class_name"'); at >= 0; at = text.indexOf('{"class_name"', at + 1)) {
    const candidate = balancedObject(text, at);
    const parsed = candidate ? tryParseJson(decodeUtf8(Buffer.from(candidate, 'latin1'))) : undefined;
    if (isRecord(parsed) && isRecord(parsed.config)) return parsed;
  }
  return undefined;
}

/** A version string stored next to an attribute name (fixed-length strings sit inline; h5py's vlen ones nearby). */
function nearbyValue(text: string, attribute: string, pattern: RegExp): string | undefined {
  const at = text.indexOf(attribute);
  if (at < 0) return undefined;
  return pattern.exec(text.slice(at + attribute.length, at + attribute.length + 512))?.[1];
}

export interface Hdf5Facts {
  facts: FormatFacts;
  hasConfig: boolean;
}

export function kerasH5Facts(source: ByteSource, where: string): Hdf5Facts {
  const base = hdf5SignatureOffset(source) ?? 0;
  const warnings: string[] = [];
  let attrs: Record<string, string> = {};
  let counted: Pick<FormatFacts, 'parameters' | 'dtypes'> = {};
  try {
    const h5 = new H5File(source, base);
    attrs = h5.rootAttributes();
    counted = weightFacts(h5.datasets(isOptimizerGroup));
  } catch (err) {
    if (!(err instanceof H5Unsupported)) throw err;
    warnings.push(`${where}: HDF5 layout not read in full (${err.message}); facts come from a text scan`);
  }
  let config = attrs.model_config !== undefined ? tryParseJson(attrs.model_config) : undefined;
  let text: string | undefined;
  if (!isRecord(config)) {
    // latin1 keeps one character per byte, so offsets in the text are offsets in the file.
    text = decodeLatin1(readAt(source, 0, H5_SCAN_BYTES));
    config = findModelConfig(text);
  }
  const kerasVersion = attrs.keras_version ?? (text ? nearbyValue(text, 'keras_version', /(\d+\.\d+\.\d+[\w.+-]*)/) : undefined);
  const backend = attrs.backend;
  if (!isRecord(config))
    warnings.push(`${where}: no Keras model_config found (a weights-only file, or a config modelctl could not locate)`);
  return {
    hasConfig: isRecord(config),
    facts: {
      metadata: {
        ...(kerasVersion ? { kerasVersion } : {}),
        ...(backend ? { backend } : {}),
        ...layerFacts(config),
        modelConfigFound: isRecord(config),
        ...(attrs.training_config !== undefined ? { trainingConfig: true } : {}),
      },
      ...counted,
      warnings,
    },
  };
}

export function inspectKerasH5(ctx: FileContext): Inspection {
  const { facts } = withSource(ctx.abs, (s) => kerasH5Facts(s, ctx.display));
  return singleFile(ctx, 'keras-h5', facts);
}
