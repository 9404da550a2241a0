import { lastExtension } from './io.js';
import { looksLikeLightgbm } from './lightgbm.js';
import { looksLikeOnnx } from './onnx.js';
import { detectCompression, hasPickleExtension, pickleProtocol, type Compression } from './pickle.js';
import { isLegacyTorch } from './pytorch.js';
import { looksLikeSafetensors } from './safetensors.js';
import { looksLikeXgboostJson, looksLikeXgboostUbj } from './xgboost.js';
import { looksLikeZip } from './zip.js';

/**
 * Content sniffing: what a file's first bytes say it is. Magic numbers win over names; the extension only
 * decides between readings the bytes leave open (an ONNX protobuf has no magic number, compressed joblib looks
 * like any zlib stream) and whether a failed parse is a damaged model or simply not a model.
 */

export type Sniffed =
  | { kind: 'safetensors' }
  | { kind: 'zip' }
  | { kind: 'torch-legacy' }
  | { kind: 'pickle'; compression?: Compression }
  | { kind: 'hdf5' }
  | { kind: 'lightgbm' }
  | { kind: 'xgboost'; encoding: 'json' | 'ubj' }
  | { kind: 'onnx' };

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** Protocol 0 and 1 pickles have no header; their first opcode is one of these (MARK, GLOBAL, EMPTY_* ...). */
const TEXT_PICKLE_STARTS = new Set([0x28, 0x63, 0x5d, 0x7d, 0x29, 0x4e, 0x49, 0x4b, 0x4a, 0x53, 0x56, 0x58, 0x55]);

function hdf5At(head: Uint8Array, at: number): boolean {
  return at + 8 <= head.length && HDF5_SIGNATURE.every((b, i) => head[at + i] === b);
}

/** Signatures the head alone can show; offsets past the head are checked by the HDF5 reader itself. */
export function looksLikeHdf5(head: Uint8Array): boolean {
  for (let at = 0; at + 8 <= head.length; at = at === 0 ? 512 : at * 2) if (hdf5At(head, at)) return true;
  return false;
}

export function sniff(head: Uint8Array, name: string, size: number): Sniffed | undefined {
  if (looksLikeSafetensors(head, size)) return { kind: 'safetensors' };
  if (looksLikeZip(head)) return { kind: 'zip' };
  if (isLegacyTorch(head)) return { kind: 'torch-legacy' };
  if (pickleProtocol(head) !== undefined) return { kind: 'pickle' };
  if (looksLikeHdf5(head)) return { kind: 'hdf5' };
  if (looksLikeLightgbm(head)) return { kind: 'lightgbm' };
  if (looksLikeXgboostJson(head)) return { kind: 'xgboost', encoding: 'json' };
  if (looksLikeXgboostUbj(head)) return { kind: 'xgboost', encoding: 'ubj' };
  const pickleName = hasPickleExtension(name);
  const compression = detectCompression(head);
  if (compression && pickleName) return { kind: 'pickle', compression };
  if (pickleName && head[0] !== undefined && TEXT_PICKLE_STARTS.has(head[0])) return { kind: 'pickle' };
  if (lastExtension(name) === '.onnx' || looksLikeOnnx(head)) return { kind: 'onnx' };
  return undefined;
}

/** Extensions that claim a format strongly enough that content which fails to parse is a damaged model. */
const CLAIMING_EXTENSIONS: Record<string, string> = {
  '.onnx': 'ONNX',
  '.safetensors': 'safetensors',
  '.pt': 'PyTorch',
  '.pth': 'PyTorch',
  '.ckpt': 'PyTorch',
  '.keras': 'Keras',
  '.h5': 'Keras HDF5',
  '.hdf5': 'Keras HDF5',
  '.ubj': 'XGBoost UBJSON',
  '.pkl': 'pickle',
  '.pickle': 'pickle',
  '.joblib': 'joblib',
};

/** The format a file's name claims, when the name is specific enough to call unreadable content damaged. */
export function claimedFormat(name: string): string | undefined {
  return CLAIMING_EXTENSIONS[lastExtension(name)] ?? (hasPickleExtension(name) ? 'pickle' : undefined);
}
