import { FRAMEWORKS } from '../convert/families.js';

/**
 * The JSON bodies of pull and export requests. One description serves the checks (v1-jobs.ts) and the OpenAPI
 * document (openapi-registry.ts), so the fuzzer and the server agree on what a valid body is.
 */

export type FieldSchema =
  | { type: 'string'; minLength: 1; enum?: readonly string[]; description?: string }
  | { type: 'integer' | 'number'; minimum: number; description?: string }
  | { type: 'boolean'; description?: string }
  | { type: 'array'; items: { type: 'string'; minLength: 1 }; description?: string };

const text = (description?: string, values?: readonly string[]): FieldSchema => ({
  type: 'string',
  minLength: 1,
  ...(values ? { enum: values } : {}),
  ...(description ? { description } : {}),
});
const globs = (description: string): FieldSchema => ({ type: 'array', items: { type: 'string', minLength: 1 }, description });

export const PULL_FIELDS: Record<string, FieldSchema> = {
  source: text('A Hub repo: ORG/NAME or hf:ORG/NAME[@REVISION] (URLs and server paths: `modelctl pull`)'),
  name: text('Registry name (default: the repo id)'),
  revision: text('Branch, tag or commit (default main)'),
  version: text("Version (default: the commit's short sha)"),
  include: globs('Globs of files to take'),
  exclude: globs('Globs of files to leave out'),
};

export const EXPORT_FIELDS: Record<string, FieldSchema> = {
  framework: text(undefined, ['auto', ...FRAMEWORKS]),
  task: text(),
  opset: { type: 'integer', minimum: 1 },
  atol: { type: 'number', minimum: 0 },
  validate: { type: 'boolean', description: 'Compare ONNX Runtime with the source framework (default true)' },
  optimize: text(undefined, ['O1', 'O2', 'O3']),
  quantize: text(undefined, ['int8', 'fp16']),
  name: text('Registry name of the ONNX version (default: the source name)'),
  version: text(),
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
