import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ModelctlError, fsError } from '../errors.js';
import { readOnnxSummary } from '../onnx/summary.js';

export interface FileStamp {
  path: string;
  size: number;
  mtimeMs: number;
}

/** What identifies the bytes onnxruntime will read: the model file and its external data files. */
export interface ModelFingerprint {
  /** Absolute, symlinks kept: onnxruntime resolves external data next to the path it is given, not its target. */
  path: string;
  model: FileStamp;
  external: FileStamp[];
  /** Model plus external data size: a proxy for the RAM a session holds. */
  bytes: number;
}

/** Remembers external data names per model stamp, so a warm cache does not rescan a graph on every lookup. */
export type ExternalMemo = Map<string, string[]>;

const MEMO_LIMIT = 256;

async function stampOf(path: string, what: string): Promise<FileStamp> {
  try {
    const s = await stat(path);
    if (!s.isFile()) {
      throw new ModelctlError('INVALID_INPUT', `expected a model file but found a folder: ${path}`, {
        hint: 'give the .onnx file inside the folder',
      });
    }
    return { path, size: s.size, mtimeMs: s.mtimeMs };
  } catch (err) {
    if (err instanceof ModelctlError) throw err;
    const mapped = fsError(err, path);
    if (mapped instanceof ModelctlError && mapped.code === 'PATH_NOT_FOUND' && what !== 'model') {
      throw new ModelctlError('PATH_NOT_FOUND', `${what} is missing: ${path}`, {
        hint: 'external data files must sit next to the model, under the names the model records',
        cause: err,
      });
    }
    throw mapped;
  }
}

/**
 * The external data names come from a wire-level scan that skips the weights. A file that scan cannot read is
 * left for onnxruntime to judge, so its verdict (and wording) decides what is a corrupt model.
 */
async function externalNames(model: FileStamp, memo?: ExternalMemo): Promise<string[]> {
  const memoKey = `${model.path}\0${model.size}\0${model.mtimeMs}`;
  const known = memo?.get(memoKey);
  if (known) return known;
  let names: string[] = [];
  try {
    names = (await readOnnxSummary(model.path)).externalData;
  } catch {
    names = [];
  }
  if (memo) {
    if (memo.size >= MEMO_LIMIT) memo.clear();
    memo.set(memoKey, names);
  }
  return names;
}

/** `knownExternal`: the model's external data names when the caller has already read them (its summary). */
export async function fingerprintModel(
  modelPath: string,
  memo?: ExternalMemo,
  knownExternal?: readonly string[],
): Promise<ModelFingerprint> {
  const path = resolve(modelPath);
  const model = await stampOf(path, 'model');
  const names = knownExternal ?? (await externalNames(model, memo));
  const external = await Promise.all(
    names.map((name) => stampOf(resolve(dirname(path), name), `external data file ${JSON.stringify(name)} of ${modelPath}`)),
  );
  const bytes = external.reduce((sum, file) => sum + file.size, model.size);
  return { path, model, external, bytes };
}
