import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { ModelctlError, fsError } from '../errors.js';
import { inspectFile } from './file.js';
import { inspectFolder } from './folder.js';
import { throwIfAborted } from './io.js';
import type { Inspection } from './types.js';

export type { Inspection, InspectedFile, ModelFormat } from './types.js';
export { MODEL_FORMATS } from './types.js';
export { detectTaskFromConfig, type DetectedTask } from './task.js';
export { SUPPORTED_FORMATS_HINT } from './file.js';

export interface InspectOptions {
  signal?: AbortSignal;
  /** What messages call the model (default: the path), e.g. the Hub repo a staging folder holds. */
  display?: string;
}

/**
 * Detects the format of a model file or folder from its content and reads its metadata without loading weights.
 * Throws ModelctlError: PATH_NOT_FOUND, PERMISSION_DENIED, INVALID_INPUT (empty), UNKNOWN_FORMAT, CORRUPT_MODEL.
 */
export async function inspectModel(path: string, options: InspectOptions = {}): Promise<Inspection> {
  throwIfAborted(options.signal);
  const abs = resolve(path);
  let st;
  try {
    st = await stat(abs);
  } catch (err) {
    throw fsError(err, path);
  }
  const display = options.display ?? path;
  if (st.isDirectory()) return inspectFolder(abs, display, options.signal);
  if (!st.isFile()) throw new ModelctlError('INVALID_INPUT', `${display} is neither a regular file nor a folder`);
  // saved_model.pb is meaningless without its variables/ folder: the model is the folder.
  if (basename(abs) === 'saved_model.pb') return inspectFolder(dirname(abs), options.display ?? dirname(path), options.signal);
  return inspectFile(abs, basename(abs), st.size, display, options.signal);
}
