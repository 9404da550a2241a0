import { basename } from 'node:path';
import { ModelctlError } from '../errors.js';
import { HEAD_BYTES } from './context.js';
import { sniff, type Sniffed } from './detect.js';
import { readHead } from './io.js';
import { firstLocalName } from './zip.js';

/**
 * Commands that run ONNX (predict, bench) are handed other models too: a joblib file read as a protobuf fails deep
 * in the wire reader ("field number 0 at byte 5"), which reads as a damaged ONNX file. The first bytes say what the
 * file is, so the user is told that, and that `export` turns it into ONNX.
 */

/** A sniffed file's format in words ("a joblib model"), or undefined for ONNX and for what the bytes leave open. */
export function foreignFormat(found: Sniffed | undefined, head: Uint8Array, name: string): string | undefined {
  switch (found?.kind) {
    case 'safetensors':
      return 'a safetensors weights file';
    case 'zip': {
      const first = firstLocalName(head);
      if (first?.endsWith('data.pkl')) return 'a PyTorch model';
      return first === 'metadata.json' || first === 'config.json' ? 'a Keras model' : 'a zip archive';
    }
    case 'torch-legacy':
      return 'a PyTorch model';
    case 'pickle':
      return /\.joblib(\.|$)/i.test(name) ? 'a joblib model' : 'a pickle';
    case 'hdf5':
      return 'a Keras HDF5 model';
    case 'lightgbm':
      return 'a LightGBM model';
    case 'xgboost':
      return 'an XGBoost model';
    default:
      return undefined;
  }
}

/**
 * Refuses a file whose first bytes show another model format than ONNX: INVALID_INPUT (exit 2), as the argument
 * has to change (predict and bench run ONNX by design; no later version will run a pickle). Files the bytes leave
 * open (an ONNX protobuf has no magic number) pass, for the ONNX reader to judge.
 */
export function refuseNonOnnx(abs: string, size: number, display: string, why: string): void {
  const head = readHead(abs, HEAD_BYTES);
  const name = basename(abs);
  const what = foreignFormat(sniff(head, name, size), head, name);
  if (what === undefined) return;
  const weightsOnly = what.startsWith('a safetensors');
  throw new ModelctlError('INVALID_INPUT', `${display} is ${what}, not ONNX: ${why}`, {
    hint: weightsOnly
      ? 'export the Hugging Face folder that holds it (config.json beside it) to ONNX: `modelctl export FOLDER --name NAME`, then use NAME'
      : `convert it to ONNX first: \`modelctl export ${display} --name NAME\`, then use NAME`,
  });
}
