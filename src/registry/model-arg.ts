import { stat } from 'node:fs/promises';
import { parseRef, type ModelRef } from './names.js';

/**
 * A model argument: a registry reference, or a path. Paths need no ./ when they exist: `model.onnx` or
 * `fixtures/models/x/model.onnx` mean the file, not a model name (which could not hold two slashes anyway).
 */
export async function modelArg(text: string): Promise<ModelRef> {
  const exists = (): Promise<boolean> =>
    stat(text).then(
      () => true,
      () => false,
    );
  let ref: ModelRef;
  try {
    ref = parseRef(text);
  } catch (err) {
    if (await exists()) return { kind: 'path', path: text };
    throw err;
  }
  if (ref.kind === 'registry' && !ref.version && !ref.alias && (await exists())) return { kind: 'path', path: text };
  return ref;
}
