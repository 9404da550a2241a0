import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { ModelctlError, fsError } from '../errors.js';
import { parseNpy } from './raw.js';
import type { Row } from './tabular.js';

/** What predict was given, before the task decides what it means: rows of a table, or named tensors. */
export type ParsedInput = { kind: 'rows'; rows: Row[] } | { kind: 'tensors'; tensors: Record<string, unknown> };

function isScalar(v: unknown): boolean {
  return v === null || ['number', 'string', 'boolean'].includes(typeof v);
}

/** JSON: an array is rows; an object of scalars is one row; any other object is named tensors. */
export function fromJson(value: unknown): ParsedInput {
  if (Array.isArray(value)) return { kind: 'rows', rows: value as Row[] };
  if (value && typeof value === 'object') {
    const values = Object.values(value);
    return values.every(isScalar) ? { kind: 'rows', rows: [value as Row] } : { kind: 'tensors', tensors: value as Record<string, unknown> };
  }
  throw new ModelctlError('INVALID_INPUT', 'the input JSON must be an object or an array', { hint: '--input \'[[5.1, 3.5, 1.4, 0.2]]\' or \'{"NAME": [[...]]}\'' });
}

export function parseJsonText(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ModelctlError('INVALID_INPUT', `${where} is not valid JSON (${(err as Error).message.split('\n')[0]})`);
  }
}

/** One CSV line into fields: commas, and double quotes around fields that hold them ("" is a quote). */
function csvFields(line: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(field);
      field = '';
    } else field += c;
  }
  out.push(field);
  return out.map((f) => f.trim());
}

/** CSV with a header line: one row object per line, keyed by the header. */
export function parseCsv(text: string, where: string): Row[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = lines.shift();
  if (!header) throw new ModelctlError('INVALID_INPUT', `${where} is empty`, { hint: 'a CSV input needs a header line with the feature names' });
  const names = csvFields(header);
  return lines.map((line, i) => {
    const fields = csvFields(line);
    if (fields.length !== names.length) {
      throw new ModelctlError('INVALID_INPUT', `${where} line ${i + 2} has ${fields.length} fields; the header has ${names.length}`);
    }
    return Object.fromEntries(names.map((n, j) => [n, fields[j]]));
  });
}

/** JSON Lines: one row (or object) per line; a bad line is reported with its line number. */
export function parseJsonl(text: string, where: string): Row[] {
  const rows: Row[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    rows.push(parseJsonText(line, `${where} line ${i + 1}`) as Row);
  });
  return rows;
}

/** --file: by extension (.csv, .jsonl/.ndjson, .json, .npy); `-` reads stdin (JSON, or CSV when it does not start like JSON). */
export async function readInputFile(path: string, firstInput: string, stdin: () => Promise<string> = readStdin): Promise<ParsedInput> {
  if (path === '-') {
    const text = await stdin();
    const head = text.trimStart()[0];
    if (head === '[' || head === '{') {
      const lines = text.trim().split(/\r?\n/);
      return lines.length > 1 && head === '{' ? { kind: 'rows', rows: parseJsonl(text, 'stdin') } : fromJson(parseJsonText(text, 'stdin'));
    }
    return { kind: 'rows', rows: parseCsv(text, 'stdin') };
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw fsError(err, path);
  }
  switch (extname(path).toLowerCase()) {
    case '.npy':
      return { kind: 'tensors', tensors: { [firstInput]: parseNpy(bytes, path) } };
    case '.csv':
      return { kind: 'rows', rows: parseCsv(bytes.toString('utf8'), path) };
    case '.jsonl':
    case '.ndjson':
      return { kind: 'rows', rows: parseJsonl(bytes.toString('utf8'), path) };
    case '.json':
      return fromJson(parseJsonText(bytes.toString('utf8'), path));
    default:
      throw new ModelctlError('INVALID_INPUT', `cannot read ${path} as input`, { hint: 'use .csv (with a header), .jsonl, .json or .npy' });
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
