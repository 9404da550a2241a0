import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { ModelctlError, fsError } from '../errors.js';
import { parseNpy } from './raw.js';
import type { Row } from './tabular.js';

/**
 * What predict was given, before the task decides what it means: rows of a table, or named tensors. CSV rows are
 * arrays in column order, with the header's names in `columns`.
 */
export type ParsedInput = { kind: 'rows'; rows: Row[]; columns?: string[] } | { kind: 'tensors'; tensors: Record<string, unknown> };

/** A CSV table: the header's names, then one array of strings per row, in header order. */
export interface CsvTable {
  kind: 'rows';
  rows: string[][];
  columns: string[];
}

const BOM = '\uFEFF';

function stripBom(text: string): string {
  return text.startsWith(BOM) ? text.slice(1) : text;
}

/** Bytes as UTF-8 text (a leading BOM dropped); anything else is refused rather than read as replacement characters. */
export function decodeUtf8(bytes: Uint8Array, where: string): string {
  try {
    return stripBom(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new ModelctlError('INVALID_INPUT', `${where} is not UTF-8 text`, { hint: 'convert it to UTF-8 first, e.g. iconv -f LATIN1 -t UTF-8', cause: err });
  }
}

/** Reads a file given by the user as UTF-8 text. */
export async function readTextInput(path: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw fsError(err, path);
  }
  return decodeUtf8(bytes, path);
}

/** All of stdin as UTF-8 text. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return decodeUtf8(Buffer.concat(chunks), 'stdin');
}

function isScalar(v: unknown): boolean {
  return v === null || ['number', 'string', 'boolean'].includes(typeof v);
}

function noRows(where: string): ModelctlError {
  return new ModelctlError('INVALID_INPUT', `no rows in ${where}`, { hint: 'give at least one row' });
}

/** JSON: an array is rows; an object of scalars is one row; any other object is named tensors. */
export function fromJson(value: unknown, where = '--input'): ParsedInput {
  if (Array.isArray(value)) {
    if (value.length === 0) throw noRows(where);
    // A flat array of values is one row: [5.1, 3.5, 1.4, 0.2].
    return { kind: 'rows', rows: value.every(isScalar) ? [value] : (value as Row[]) };
  }
  if (value && typeof value === 'object') {
    const values = Object.values(value);
    return values.every(isScalar) ? { kind: 'rows', rows: [value as Row] } : { kind: 'tensors', tensors: value as Record<string, unknown> };
  }
  throw new ModelctlError('INVALID_INPUT', 'the input JSON must be an object or an array', { hint: '--input \'[[5.1, 3.5, 1.4, 0.2]]\' or \'{"NAME": [[...]]}\'' });
}

export function parseJsonText(text: string, where: string): unknown {
  try {
    return JSON.parse(stripBom(text));
  } catch (err) {
    throw new ModelctlError('INVALID_INPUT', `${where} is not valid JSON (${(err as Error).message.split('\n')[0]})`);
  }
}

interface CsvRecord {
  fields: string[];
  /** The physical line (from 1) the record starts on. */
  line: number;
  /** Whether the record is a blank line (nothing but white space, no quotes). */
  blank: boolean;
}

/**
 * The records of a CSV text: fields split by commas, double quotes around fields that hold commas, quotes ("")
 * or line breaks. White space around a field is dropped, inside quotes it is kept.
 */
function csvRecords(text: string, where: string, firstLine = 1): CsvRecord[] {
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false; // the current field had a quoted part
  let inQuotes = false;
  let line = firstLine;
  let start = firstLine; // where the current record began
  let quoteLine = firstLine;
  let closedAt = 0; // where the quoted part of the field ended: white space after it is dropped
  const endField = (): void => {
    fields.push(quoted ? field.slice(0, closedAt) + field.slice(closedAt).trim() : field.trim());
    field = '';
    quoted = false;
  };
  const endRecord = (): void => {
    const blank = fields.length === 0 && !quoted && field.trim() === '';
    endField();
    records.push({ fields, line: start, blank });
    fields = [];
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (inQuotes) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          inQuotes = false;
          closedAt = field.length;
        }
      } else {
        if (c === '\n' || (c === '\r' && text[i + 1] !== '\n')) line++;
        field += c;
      }
    } else if (c === '"' && !quoted && field.trim() === '') {
      // A quote opens a field only at its start; anywhere else it is an ordinary character.
      field = '';
      quoted = true;
      inQuotes = true;
      quoteLine = line;
    } else if (c === ',') {
      endField();
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      start = line;
    } else {
      field += c;
    }
  }
  if (inQuotes) {
    throw new ModelctlError('INVALID_INPUT', `${where} line ${quoteLine} opens a quoted field that is never closed`, { hint: 'close it with a double quote; write a quote inside a field as ""' });
  }
  if (fields.length > 0 || quoted || field.trim() !== '') endRecord();
  return records;
}

/** The fields of one CSV record (which may span lines inside quotes) that starts on line `line` of `where`. */
export function csvFields(text: string, where: string, line: number): string[] {
  return csvRecords(text, where, line)[0]?.fields ?? [];
}

/** CSV with a header line: one array of strings per row, in header order; fully blank lines are skipped. */
export function parseCsv(text: string, where: string): CsvTable {
  const records = csvRecords(stripBom(text), where).filter((r) => !r.blank);
  const header = records.shift();
  if (!header) throw new ModelctlError('INVALID_INPUT', `${where} is empty`, { hint: 'a CSV input needs a header line with the feature names' });
  const columns = header.fields;
  const seen = new Set<string>();
  columns.forEach((name, i) => {
    if (name === '') {
      throw new ModelctlError('INVALID_INPUT', `${where} line ${header.line}: column ${i + 1} of the header has no name`, { hint: 'the header line names every column' });
    }
    if (seen.has(name)) {
      throw new ModelctlError('INVALID_INPUT', `${where} line ${header.line}: the header names column "${name}" twice`, { hint: 'give every column its own name' });
    }
    seen.add(name);
  });
  if (records.length === 0) throw noRows(where);
  const rows = records.map((r) => {
    if (r.fields.length !== columns.length) {
      throw new ModelctlError('INVALID_INPUT', `${where} line ${r.line} has ${r.fields.length} field${r.fields.length === 1 ? '' : 's'}; the header has ${columns.length}`, {
        hint: 'quote fields that hold commas or line breaks: "a, b"',
      });
    }
    return r.fields;
  });
  return { kind: 'rows', rows, columns };
}

/** JSON Lines: one row (or object) per line; a bad line is reported with its line number. */
export function parseJsonl(text: string, where: string): Row[] {
  const rows: Row[] = [];
  stripBom(text).split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    rows.push(parseJsonText(line, `${where} line ${i + 1}`) as Row);
  });
  return rows;
}

/**
 * Whether a text that is not one JSON value looks like JSON Lines: several non-blank lines, each starting like
 * JSON (one of `starts`), the first a whole JSON value (so pretty-printed JSON, "[" alone on its line, does not count).
 */
export function looksLikeJsonLines(text: string, starts = '{['): boolean {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  return lines.length > 1 && lines.every((l) => starts.includes(l[0] as string)) && tryJson(lines[0] as string) !== undefined;
}

/** Parses JSON if the text is one JSON value, else undefined (the caller decides what else it may be). */
export function tryJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return undefined;
  }
}

function rowsOrEmpty(rows: Row[], where: string): ParsedInput {
  if (rows.length === 0) throw noRows(where);
  return { kind: 'rows', rows };
}

/** stdin: one JSON value (pretty-printed or not), else JSON Lines, else CSV with a header. */
function parseStdin(raw: string): ParsedInput {
  const text = stripBom(raw);
  if (text.trim() === '') throw new ModelctlError('INVALID_INPUT', 'stdin is empty', { hint: 'pipe JSON, JSON Lines or CSV (with a header) into predict --file -' });
  const json = tryJson(text);
  if (json) return fromJson(json.value, 'stdin');
  if (looksLikeJsonLines(text)) return rowsOrEmpty(parseJsonl(text, 'stdin'), 'stdin');
  const head = text.trimStart()[0];
  // Starts like JSON but is none: report the JSON error rather than read it as CSV.
  if (head === '[' || head === '{') parseJsonText(text, 'stdin');
  return parseCsv(text, 'stdin');
}

/** An input file's bytes; a missing or unreadable file is a one-line error. */
export async function readInputBytes(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw fsError(err, path);
  }
}

/** --file: by extension (.csv, .jsonl/.ndjson, .json, .npy); `-` reads stdin (JSON, JSON Lines, else CSV). */
export async function readInputFile(path: string, firstInput: string, stdin: () => Promise<string> = readStdin): Promise<ParsedInput> {
  if (path === '-') return parseStdin(await stdin());
  const bytes = await readInputBytes(path);
  switch (extname(path).toLowerCase()) {
    case '.npy':
      return { kind: 'tensors', tensors: { [firstInput]: parseNpy(bytes, path) } };
    case '.csv':
      return parseCsv(decodeUtf8(bytes, path), path);
    case '.jsonl':
    case '.ndjson':
      return rowsOrEmpty(parseJsonl(decodeUtf8(bytes, path), path), path);
    case '.json':
      return fromJson(parseJsonText(decodeUtf8(bytes, path), path), path);
    default:
      throw new ModelctlError('INVALID_INPUT', `cannot read ${path} as input`, { hint: 'use .csv (with a header), .jsonl, .json or .npy' });
  }
}
