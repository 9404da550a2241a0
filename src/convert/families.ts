import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../util/package-root.js';
import { ModelctlError } from '../errors.js';

/**
 * Converter families: what `setup python --with` installs, and which managed environment holds it. Families whose
 * pins agree share an environment only where that saves a big install (hf reuses torch's copy of torch); the
 * tabular families each get their own, small ones, so that one never breaks another.
 */
export const FAMILIES = ['sklearn', 'xgboost', 'lightgbm', 'torch', 'hf', 'tf'] as const;
export type Family = (typeof FAMILIES)[number];

export const FAMILY_ENV: Record<Family, string> = {
  sklearn: 'sklearn',
  xgboost: 'xgboost',
  lightgbm: 'lightgbm',
  torch: 'torch',
  hf: 'torch',
  tf: 'tf',
};

/** The converter each family runs, for messages and `setup python --check`. */
export const FAMILY_CONVERTER: Record<Family, string> = {
  sklearn: 'skl2onnx',
  xgboost: 'onnxmltools',
  lightgbm: 'onnxmltools',
  torch: 'torch.onnx',
  hf: 'optimum (optimum-onnx)',
  tf: 'tf2onnx',
};

export const FRAMEWORKS = ['hf', 'pytorch', 'tf', 'keras', 'sklearn', 'xgboost', 'lightgbm'] as const;
export type Framework = (typeof FRAMEWORKS)[number];

export const FRAMEWORK_FAMILY: Record<Framework, Family> = {
  hf: 'hf',
  pytorch: 'torch',
  tf: 'tf',
  keras: 'tf',
  sklearn: 'sklearn',
  xgboost: 'xgboost',
  lightgbm: 'lightgbm',
};

/** `--with hf,sklearn` or `all` -> the families, in a stable order. */
/**
 * The framework a registered format converts with, as export tells it from the content; `pickle` for pickles and
 * joblib files, told apart by the classes they reference (sklearn, xgboost or lightgbm).
 */
export const FORMAT_FRAMEWORK: Readonly<Record<string, Framework | 'pickle'>> = {
  transformers: 'hf',
  pytorch: 'pytorch',
  keras: 'keras',
  'keras-h5': 'keras',
  'tf-savedmodel': 'tf',
  xgboost: 'xgboost',
  lightgbm: 'lightgbm',
  pickle: 'pickle',
  joblib: 'pickle',
};

export function parseFamilies(text: string | undefined): Family[] {
  if (text === undefined || text.trim() === '') return [...FAMILIES];
  const wanted = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (wanted.includes('all')) return [...FAMILIES];
  for (const w of wanted) {
    if (!(FAMILIES as readonly string[]).includes(w)) {
      throw new ModelctlError('USAGE', `unknown converter family "${w}"`, { hint: `families: ${FAMILIES.join(', ')} or all` });
    }
  }
  return FAMILIES.filter((f) => wanted.includes(f));
}

/** The python/ folder shipped in the package (beside dist/ in the published package and in the repository). */
export function pythonDir(): string {
  const root = packageRoot();
  const candidate = root === null ? undefined : join(root, 'python');
  if (candidate && existsSync(join(candidate, 'export.py'))) return candidate;
  throw new ModelctlError('MISSING_DEPENDENCY', 'the converter scripts (python/export.py) are missing from this installation', {
    hint: 'reinstall modelctl: the package ships its python/ folder',
  });
}
