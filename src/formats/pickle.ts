import { createReadStream } from 'node:fs';
import { createGunzip, createInflate } from 'node:zlib';
import { BufferSource, type ByteSource } from '../onnx/wire.js';
import { singleFile, type FileContext } from './context.js';
import { Cursor, MB, corrupt, extensions, throwIfAborted, withSource } from './io.js';
import { dangerWarning, dottedNames, estimatorChain, frameworkOf, topLevelClass } from './pickle-globals.js';
import { PickleScanner, calleeName, type PickleValue } from './pickle-scan.js';
import { classNamesTask, detectTaskFromClasses } from './task.js';
import type { Inspection } from './types.js';

/**
 * Plain pickles and joblib files (optionally compressed). joblib writes numpy arrays as raw bytes between pickle
 * opcodes, right after each NumpyArrayWrapper's BUILD; the scan skips those bytes using the wrapper's own shape
 * and dtype, so it reaches STOP and sees every global, not only the ones before the first array.
 */

export type Compression = 'zlib' | 'gzip' | 'bz2' | 'xz' | 'lzma' | 'lz4' | 'zfile';

const PICKLE_EXTENSIONS = new Set(['.pkl', '.pickle', '.joblib', '.jbl', '.sav', '.p']);
const COMPRESSED_SUFFIXES = new Set(['.z', '.gz', '.bz2', '.xz', '.lzma', '.lz4']);
/** Bytes of decompressed stream scanned; enough for any model's object graph, bounded for a hostile one. */
const MAX_DECOMPRESSED = 64 * MB;

export function pickleProtocol(head: Uint8Array): number | undefined {
  const proto = head[1];
  return head[0] === 0x80 && proto !== undefined && proto >= 2 && proto <= 5 ? proto : undefined;
}

export function detectCompression(head: Uint8Array): Compression | undefined {
  const starts = (...bytes: number[]): boolean => bytes.every((b, i) => head[i] === b);
  if (starts(0x1f, 0x8b)) return 'gzip';
  if (starts(0x42, 0x5a, 0x68)) return 'bz2';
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a)) return 'xz';
  if (starts(0x04, 0x22, 0x4d, 0x18)) return 'lz4';
  if (starts(0x5a, 0x46)) return 'zfile';
  if (starts(0x5d, 0x00, 0x00)) return 'lzma';
  // zlib: CMF 0x78 and a header checksum that makes CMF*256+FLG a multiple of 31.
  if (head[0] === 0x78 && head[1] !== undefined && (0x7800 + head[1]) % 31 === 0) return 'zlib';
  return undefined;
}

/** Whether the file name says pickle or joblib, also under a compression suffix ("model.pkl.z", "m.joblib.gz"). */
export function hasPickleExtension(name: string): boolean {
  const exts = extensions(name);
  const last = exts.at(-1) ?? '';
  if (PICKLE_EXTENSIONS.has(last)) return true;
  return COMPRESSED_SUFFIXES.has(last) && PICKLE_EXTENSIONS.has(exts.at(-2) ?? '');
}

function entry(value: PickleValue | undefined, key: string): PickleValue | undefined {
  if (value?.kind !== 'dict') return undefined;
  return value.entries.find(([k]) => k.kind === 'str' && k.value === key)?.[1];
}

function intValue(value: PickleValue | undefined): number | undefined {
  return value?.kind === 'int' && typeof value.value === 'number' ? value.value : undefined;
}

/** numpy pickles a dtype as numpy.dtype("f8", ...) with the element size in its state when the code lacks it ("U5"). */
function itemSize(dtype: PickleValue | undefined): number | 'object' | undefined {
  if (dtype?.kind !== 'object' || dtype.args.kind !== 'tuple') return undefined;
  const code = dtype.args.items[0];
  if (code?.kind !== 'str') return undefined;
  if (code.value.startsWith('O')) return 'object';
  const fromState = dtype.state?.kind === 'tuple' ? intValue(dtype.state.items[5]) : undefined;
  if (fromState !== undefined && fromState > 0) return fromState;
  const digits = /^[<>|=]?[a-zA-Z](\d+)/.exec(code.value)?.[1];
  return digits ? Number(digits) : undefined;
}

const MAX_ATTRIBUTES = 40;

/**
 * The plain scalar attributes of the top-level object (an estimator's hyperparameters and fitted sizes such as
 * n_features_in_); arrays and nested objects are left out to keep metadata small.
 */
function scalarAttributes(state: PickleValue | undefined): Record<string, string | number | boolean | null> {
  const out: Record<string, string | number | boolean | null> = {};
  if (state?.kind !== 'dict') return out;
  for (const [k, v] of state.entries) {
    if (k.kind !== 'str' || k.value.startsWith('_') || Object.keys(out).length >= MAX_ATTRIBUTES) continue;
    if (v.kind === 'int' || v.kind === 'float') out[k.value] = Number(v.value);
    else if (v.kind === 'bool') out[k.value] = v.value;
    else if (v.kind === 'none') out[k.value] = null;
    else if (v.kind === 'str' && v.value.length <= 200) out[k.value] = v.value;
  }
  return out;
}

interface JoblibStats {
  arrays: number;
  unreadable: number;
}

function joblibArraySkipper(stats: JoblibStats) {
  return (target: PickleValue, cursor: Cursor): undefined | 'nested-pickle' => {
    if (calleeName(target) !== 'joblib.numpy_pickle.NumpyArrayWrapper' || target.kind !== 'object') return;
    stats.arrays++;
    const state = target.state;
    const size = itemSize(entry(state, 'dtype'));
    if (size === 'object') return 'nested-pickle';
    const shape = entry(state, 'shape');
    const dims = shape?.kind === 'tuple' ? shape.items.map(intValue) : undefined;
    if (size === undefined || !dims || dims.some((d) => d === undefined || d < 0)) {
      stats.unreadable++;
      return;
    }
    if (intValue(entry(state, 'numpy_array_alignment_bytes')) !== undefined) cursor.skip(cursor.uintLE(1));
    cursor.skip((dims as number[]).reduce((a, b) => a * b, 1) * size);
  };
}

async function decompressPrefix(path: string, kind: 'zlib' | 'gzip'): Promise<{ bytes: Uint8Array; error?: string }> {
  const chunks: Buffer[] = [];
  let total = 0;
  const input = createReadStream(path);
  const inflater = kind === 'gzip' ? createGunzip() : createInflate();
  // pipe() does not forward read errors; without this a failing read would leave the loop waiting forever.
  input.on('error', (err) => inflater.destroy(err));
  input.pipe(inflater);
  try {
    for await (const chunk of inflater as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      total += chunk.length;
      if (total >= MAX_DECOMPRESSED) break;
    }
  } catch (err) {
    return { bytes: Buffer.concat(chunks), error: (err as Error).message };
  } finally {
    input.destroy();
    inflater.destroy();
  }
  return { bytes: Buffer.concat(chunks) };
}

export interface PickleSummary {
  metadata: Record<string, unknown>;
  warnings: string[];
  topClass: string | undefined;
  classes: string[];
  /** From the pickled object to the estimator that predicts (see estimatorChain). */
  chain: string[];
  joblib: boolean;
}

/** Walks one pickle stream and sums up what it references. */
export function summarizePickle(source: ByteSource, where: string, signal?: AbortSignal): PickleSummary {
  const stats: JoblibStats = { arrays: 0, unreadable: 0 };
  const scanner = new PickleScanner(new Cursor(source), {
    onBuild: joblibArraySkipper(stats),
    checkAbort: () => throwIfAborted(signal),
  });
  const result = scanner.run();
  if (scanner.opcodes <= 2 && !result.complete) throw corrupt(where, `not a readable pickle (${result.stopReason ?? 'no opcodes'})`);
  const topClass = topLevelClass(result.root, scanner.globals);
  const classes = dottedNames(scanner.globals);
  const joblib = scanner.globals.some((g) => g.module.startsWith('joblib.'));
  const warnings: string[] = [];
  const danger = dangerWarning(where, scanner.globals);
  if (danger) warnings.push(danger);
  if (!result.complete) {
    warnings.push(`the pickle scan of ${where} stopped early (${result.stopReason}); globals after that point were not checked`);
  }
  const state = result.root?.kind === 'object' ? result.root.state : undefined;
  const version = entry(state, '_sklearn_version');
  const attributes = scalarAttributes(state);
  const metadata: Record<string, unknown> = {
    ...(result.protocol !== undefined ? { protocol: result.protocol } : {}),
    ...(topClass ? { topClass } : {}),
    framework: frameworkOf(topClass, scanner.globals),
    ...(version?.kind === 'str' ? { sklearnVersion: version.value } : {}),
    ...(Object.keys(attributes).length > 0 ? { attributes } : {}),
    globals: classes.slice(0, 200),
    scanComplete: result.complete,
    ...(result.stopReason ? { scanStopReason: result.stopReason } : {}),
    ...(stats.arrays > 0 ? { numpyArrays: stats.arrays } : {}),
  };
  return { metadata, warnings, topClass, classes, chain: estimatorChain(result.root, classNamesTask), joblib };
}

export async function inspectPickle(ctx: FileContext, compression: Compression | undefined): Promise<Inspection> {
  const joblibName = extensions(ctx.name).some((e) => e === '.joblib' || e === '.jbl');
  let summary: PickleSummary;
  const warnings: string[] = [];
  if (compression === undefined) {
    summary = withSource(ctx.abs, (source) => summarizePickle(source, ctx.display, ctx.signal));
  } else if (compression === 'zlib' || compression === 'gzip') {
    const { bytes, error } = await decompressPrefix(ctx.abs, compression);
    throwIfAborted(ctx.signal);
    if (bytes.length === 0) throw corrupt(ctx.display, `${compression} data does not decompress${error ? `: ${error}` : ''}`);
    if (error) warnings.push(`${ctx.display}: the ${compression} stream is damaged after ${bytes.length} bytes (${error})`);
    if (pickleProtocol(bytes) === undefined) throw corrupt(ctx.display, `${compression}-compressed data is not a pickle`);
    summary = summarizePickle(new BufferSource(bytes), ctx.display, ctx.signal);
  } else {
    summary = { metadata: { contentsScanned: false }, warnings: [], topClass: undefined, classes: [], chain: [], joblib: true };
    warnings.push(
      `${ctx.display} is ${compression}-compressed; modelctl only decompresses zlib and gzip, so its classes were not read and dangerous globals cannot be ruled out`,
    );
  }
  const format = joblibName || summary.joblib || compression !== undefined ? 'joblib' : 'pickle';
  const task = detectTaskFromClasses(summary.topClass, summary.classes, summary.chain);
  return singleFile(ctx, format, {
    metadata: { ...summary.metadata, ...(compression ? { compression } : {}) },
    pickle: true,
    warnings: [...summary.warnings, ...warnings],
    ...(task ? { task } : {}),
  });
}
