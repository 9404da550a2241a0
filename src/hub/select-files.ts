import { posix } from 'node:path';
import { globToRegExp } from '../util/glob.js';

/**
 * Which files of a Hub repo `pull` takes. Without --include: what predict and export need (configs, tokenizer and
 * processor files, ONNX files and their external data, safetensors), and one weight format only: the PyTorch,
 * TensorFlow, Flax or Rust copies of the same weights are left out when safetensors are there, as are
 * quantized ONNX variants beside a full-precision one. --include replaces that default (as `hf download`
 * does); --exclude always applies last.
 */

const CONFIG = /\.(json|txt|model|tiktoken|py)$/i;
const SKIP_ALWAYS = /(^|\/)(\.gitattributes|README\.md|LICENSE.*)$/i;
const ONNX_DATA = /\.onnx(_data|\.data)$|\.onnx_data_\d+$/i;
const QUANTIZED = /_(quantized|int8|uint8|fp16|q4|q4f16|bnb4|q8|int4)\.onnx$/i;

/** Weight formats in order of preference; the first one present is the one taken. */
const WEIGHTS: Array<{ name: string; test: RegExp }> = [
  { name: 'safetensors', test: /\.safetensors$/i },
  { name: 'pytorch', test: /(^|\/)pytorch_model[^/]*\.bin$|\.(pt|pth)$/i },
  { name: 'tensorflow', test: /(^|\/)tf_model[^/]*\.h5$/i },
  { name: 'flax', test: /(^|\/)flax_model[^/]*\.msgpack$/i },
];
const OTHER_WEIGHTS = /\.(bin|h5|msgpack|ot|ckpt|pt|pth|gguf|mlmodel|tflite|onnx)$|(^|\/)rust_model\.ot$/i;
const INDEX_OF = /^(.*)\.index\.json$/i;

export interface Selection {
  selected: string[];
  /** Files named exactly (`pull org/name config.json`) that the repo does not hold. */
  missing: string[];
  /** Files left out by the default selection because another weight format was taken (reported, not fatal). */
  skippedWeights: string[];
}

function defaultSelection(paths: string[]): Omit<Selection, 'missing'> {
  const weights = WEIGHTS.find((w) => paths.some((p) => w.test.test(p)));
  const hasOnnx = new Set(paths.filter((p) => /\.onnx$/i.test(p) && !QUANTIZED.test(p)).map((p) => posix.dirname(p)));
  const selected: string[] = [];
  const skippedWeights: string[] = [];
  for (const p of paths) {
    if (SKIP_ALWAYS.test(p)) continue;
    const index = INDEX_OF.exec(p);
    if (/\.onnx$/i.test(p)) {
      if (QUANTIZED.test(p) && hasOnnx.has(posix.dirname(p))) skippedWeights.push(p);
      else selected.push(p);
    } else if (ONNX_DATA.test(p)) {
      selected.push(p);
    } else if (weights?.test.test(p)) {
      selected.push(p);
    } else if (index && OTHER_WEIGHTS.test(index[1] ?? '') && !(weights?.test.test(index[1] ?? '') ?? false)) {
      // the index of a weight format that was not taken points at files we do not have
      skippedWeights.push(p);
    } else if (WEIGHTS.some((w) => w.test.test(p)) || OTHER_WEIGHTS.test(p)) {
      skippedWeights.push(p);
    } else if (CONFIG.test(p) && !p.endsWith('.py')) {
      selected.push(p);
    }
  }
  // Quantized variants of ONNX models that were left out also leave out their external data.
  const kept = new Set(selected.filter((p) => /\.onnx$/i.test(p)));
  const filtered = selected.filter((p) => {
    if (!ONNX_DATA.test(p)) return true;
    const base = p.replace(/(_data|\.data)$|_data_\d+$/i, '');
    return kept.has(base) || !paths.includes(base);
  });
  return { selected: filtered, skippedWeights: [...skippedWeights, ...selected.filter((p) => !filtered.includes(p))] };
}

/**
 * The files to take: `files` (exact names, as `hf download REPO FILE...` takes them) and `include` globs replace
 * the default selection; `exclude` applies last.
 */
export function selectFiles(paths: string[], include: string[] = [], exclude: string[] = [], files: string[] = []): Selection {
  const sorted = [...paths].sort();
  const ex = exclude.map(globToRegExp);
  const keep = (p: string) => !ex.some((r) => r.test(p));
  const missing = files.filter((f) => !paths.includes(f));
  if (include.length > 0 || files.length > 0) {
    const inc = include.map(globToRegExp);
    const named = new Set(files);
    return { selected: sorted.filter((p) => (named.has(p) || inc.some((r) => r.test(p))) && keep(p)), skippedWeights: [], missing };
  }
  const d = defaultSelection(sorted);
  return { selected: d.selected.filter(keep), skippedWeights: d.skippedWeights, missing };
}
