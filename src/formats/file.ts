import { ModelctlError } from '../errors.js';
import { HEAD_BYTES, type FileContext } from './context.js';
import { claimedFormat, sniff } from './detect.js';
import { corrupt, readHead, throwIfAborted, withSource } from './io.js';
import { inspectKerasH5, inspectKerasZip, kerasH5Facts } from './keras.js';
import { inspectLightgbm } from './lightgbm.js';
import { inspectOnnx } from './onnx.js';
import { inspectPickle } from './pickle.js';
import { inspectPytorchLegacy, inspectPytorchZip } from './pytorch.js';
import { inspectSafetensors } from './safetensors.js';
import type { Inspection } from './types.js';
import { inspectXgboost } from './xgboost.js';
import { ZipError, firstLocalName, listZip } from './zip.js';

/**
 * One model file: sniff its first bytes, hand it to the reader of that format, and turn "no reader fits" into
 * UNKNOWN_FORMAT, or into CORRUPT_MODEL when the name claims a format the bytes do not hold.
 */

export const SUPPORTED_FORMATS_HINT =
  'supported: ONNX (.onnx), safetensors, PyTorch (.pt/.pth/.bin), pickle/joblib, Keras (.keras, .h5), ' +
  'TensorFlow SavedModel folders, XGBoost (.json/.ubj), LightGBM text models, Hugging Face model folders';

export function unknownFormat(display: string, why: string): ModelctlError {
  return new ModelctlError('UNKNOWN_FORMAT', `${display}: ${why}`, { hint: SUPPORTED_FORMATS_HINT });
}

function inspectZipFile(ctx: FileContext): Inspection {
  return withSource(ctx.abs, (source) => {
    try {
      const entries = listZip(source);
      if (entries.some((e) => /^([^/]+\/)?data\.pkl$/.test(e.name))) return inspectPytorchZip(ctx, source, entries);
      const names = new Set(entries.map((e) => e.name));
      if (names.has('config.json') && (names.has('metadata.json') || names.has('model.weights.h5'))) {
        return inspectKerasZip(ctx, source, entries);
      }
      const claimed = claimedFormat(ctx.name);
      if (claimed) throw corrupt(ctx.display, `a zip archive, but not a ${claimed} one (no data.pkl or config.json inside)`);
      throw unknownFormat(
        ctx.display,
        `a zip archive that holds no model (${entries
          .slice(0, 5)
          .map((e) => e.name)
          .join(', ')})`,
      );
    } catch (err) {
      if (!(err instanceof ZipError)) throw err;
      const first = firstLocalName(ctx.head);
      const what = first?.endsWith('data.pkl')
        ? 'PyTorch archive'
        : first === 'metadata.json' || first === 'config.json'
          ? 'Keras archive'
          : 'zip archive';
      throw corrupt(ctx.display, `damaged ${what}: ${err.message}`);
    }
  });
}

function inspectHdf5(ctx: FileContext): Inspection {
  const claimed = /\.(h5|hdf5|keras)$/i.test(ctx.name);
  if (!claimed) {
    const { hasConfig } = withSource(ctx.abs, (s) => kerasH5Facts(s, ctx.display));
    if (!hasConfig) throw unknownFormat(ctx.display, 'an HDF5 file without a Keras model config (only Keras HDF5 models are supported)');
  }
  return inspectKerasH5(ctx);
}

/** Inspects one regular file of known size; `display` names it in messages. */
export async function inspectFile(abs: string, name: string, size: number, display: string, signal?: AbortSignal): Promise<Inspection> {
  throwIfAborted(signal);
  if (size === 0) {
    throw new ModelctlError('INVALID_INPUT', `${display} is empty (0 bytes)`, {
      hint: 'the file was probably not written or downloaded completely; export or download it again',
    });
  }
  const head = readHead(abs, HEAD_BYTES);
  const ctx: FileContext = { abs, name, display, size, head, ...(signal ? { signal } : {}) };
  const found = sniff(head, name, size);
  switch (found?.kind) {
    case 'safetensors':
      return inspectSafetensors(ctx);
    case 'zip':
      return inspectZipFile(ctx);
    case 'torch-legacy':
      return inspectPytorchLegacy(ctx);
    case 'pickle':
      return inspectPickle(ctx, found.compression);
    case 'hdf5':
      return inspectHdf5(ctx);
    case 'lightgbm':
      return inspectLightgbm(ctx);
    case 'xgboost':
      return inspectXgboost(ctx, found.encoding);
    case 'onnx': {
      try {
        return await inspectOnnx(ctx);
      } catch (err) {
        // Without the extension, "starts like a protobuf" is a weak guess: failing it means unknown, not damaged.
        const weak = !name.toLowerCase().endsWith('.onnx');
        if (weak && err instanceof ModelctlError && err.code === 'CORRUPT_MODEL')
          throw unknownFormat(display, 'not a recognised model format');
        throw err;
      }
    }
    case undefined: {
      // The safetensors reader says exactly what is wrong with a header (length past the end, not JSON ...).
      if (name.toLowerCase().endsWith('.safetensors')) return inspectSafetensors(ctx);
      const claimed = claimedFormat(name);
      if (claimed) throw corrupt(display, `not a valid ${claimed} file (its first bytes match no ${claimed} layout)`);
      throw unknownFormat(display, 'not a recognised model format');
    }
  }
}
