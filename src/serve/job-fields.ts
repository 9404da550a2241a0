import { FRAMEWORKS } from '../convert/families.js';

/** The JSON bodies of pull and export requests: one description serves the checks (v1-jobs.ts) and the OpenAPI document. */

/** The JSON fields a job request takes: one description serves the checks below and the OpenAPI document. */
export type FieldSchema =
  | { type: 'string'; enum?: readonly string[]; description?: string }
  | { type: 'integer' | 'number'; minimum: number; description?: string }
  | { type: 'boolean'; description?: string }
  | { type: 'array'; items: { type: 'string' }; description?: string };

export const PULL_FIELDS: Record<string, FieldSchema> = {
  source: { type: 'string', description: 'A Hub repo: ORG/NAME or hf:ORG/NAME[@REVISION] (URLs and server paths: `modelctl pull`)' },
  name: { type: 'string', description: 'Registry name (default: the repo id)' },
  revision: { type: 'string', description: 'Branch, tag or commit (default main)' },
  version: { type: 'string', description: "Version (default: the commit's short sha)" },
  include: { type: 'array', items: { type: 'string' }, description: 'Globs of files to take' },
  exclude: { type: 'array', items: { type: 'string' }, description: 'Globs of files to leave out' },
};

export const EXPORT_FIELDS: Record<string, FieldSchema> = {
  framework: { type: 'string', enum: ['auto', ...FRAMEWORKS] },
  task: { type: 'string' },
  opset: { type: 'integer', minimum: 1 },
  atol: { type: 'number', minimum: 0 },
  validate: { type: 'boolean', description: 'Compare ONNX Runtime with the source framework (default true)' },
  optimize: { type: 'string', enum: ['O1', 'O2', 'O3'] },
  quantize: { type: 'string', enum: ['int8', 'fp16'] },
  name: { type: 'string', description: 'Registry name of the ONNX version (default: the source name)' },
  version: { type: 'string' },
};

export function fits(value: unknown, f: FieldSchema): boolean {
  switch (f.type) {
    case 'string':
      return typeof value === 'string' && value !== '' && (f.enum === undefined || f.enum.includes(value));
    case 'integer':
      return Number.isSafeInteger(value) && (value as number) >= f.minimum;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) && value >= f.minimum;
    case 'boolean':
      return typeof value === 'boolean';
    case 'array':
      return Array.isArray(value) && value.every((v) => typeof v === 'string' && v !== '');
  }
}

export function describe(f: FieldSchema): string {
  if (f.type === 'string') return f.enum ? `one of ${f.enum.join(', ')}` : 'a non-empty string';
  if (f.type === 'array') return 'an array of non-empty strings';
  if (f.type === 'boolean') return 'true or false';
  return `${f.type === 'integer' ? 'a whole number' : 'a number'} of at least ${f.minimum}`;
}
