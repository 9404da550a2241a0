import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { ModelctlError, fsError } from '../errors.js';
import { pairsFromJson, type QuestionContext } from '../tasks/question-answering.js';
import type { Row } from '../tasks/tabular.js';
import { UTF8_HINT, notJson, parseJsonText, tryJson, utf8Text } from '../util/text.js';
import { openCsv } from './csv.js';
import { parseNpy } from './npy.js';
import { sniffStdin } from './stdin.js';
import type { InputKind, InputRecord, InputSource, Line, OpenOptions, OpenedInput, PredictInput, RecordStream } from './types.js';

/**
 * The one way in for what predict is given, used by the CLI, the library, bench --e2e and serve's /v1 predict:
 * openInput reads a file by its extension, stdin by what it holds (stdin.ts), JSON text, a parsed JSON value or
 * command-line values, as the kind of input the task takes (KINDS below). Line-based inputs (JSON Lines, CSV, one
 * text per line) come back as a stream of records, each with the line it starts on, read while they are predicted;
 * a record that cannot be read is an error record and the others go on. Everything else comes back whole.
 *
 * A record's path: bytes -> readLines -> a line format (JSON Lines and text lines here, CSV in csv.ts) -> its kind's
 * record() -> the caller.
 */

/** What a --file holds, by extension: a line format read as a stream, a whole document, or a file the task decodes. */
type Format = 'jsonl' | 'csv' | 'lines' | 'json' | 'npy' | 'path';

/** One kind of input: what each source holds when read as it. */
interface Kind<T = unknown> {
  /** Its items in messages: "no texts in FILE". */
  noun: string;
  /** The --file formats it reads, by extension; '*' for any other extension. */
  files: Readonly<Record<string, Format>>;
  /** For a --file it cannot read: "cannot read FILE as {as}", and what it takes. */
  unreadable: { as: string; hint: string };
  /** stdin that is not JSON: read in this line format (CSV, one text per line), else refused as broken JSON. */
  stdin?: 'csv' | 'lines';
  /** One JSON Lines value as one item (a CSV row or a line of text already is one); throws INVALID_INPUT naming `at`. */
  record(value: unknown, at: string): T;
  /** A JSON document (--input, a .json file, stdin holding one, a request's field) as one input. */
  document(value: unknown, where: string): PredictInput;
  /** Command-line values (or, for '*' files, the file itself) as one input. */
  values(values: string[]): PredictInput;
  /** Records' items as one input for a run. */
  batch(items: T[], columns?: string[]): PredictInput;
}

const JSON_FILES = { '.jsonl': 'jsonl', '.ndjson': 'jsonl', '.json': 'json' } as const;

function isScalar(v: unknown): boolean {
  return v === null || ['number', 'string', 'boolean'].includes(typeof v);
}

function noRows(where: string): ModelctlError {
  return new ModelctlError('INVALID_INPUT', `no rows in ${where}`, { hint: 'give at least one row' });
}

/** Tabular JSON: an array is rows (a flat one is one row); an object of scalars is one row; any other object is named tensors. */
function tableFromJson(value: unknown, where: string): PredictInput {
  if (Array.isArray(value)) {
    if (value.length === 0) throw noRows(where);
    return { kind: 'rows', rows: value.every(isScalar) ? [value] : (value as Row[]) };
  }
  if (value && typeof value === 'object') {
    return Object.values(value).every(isScalar)
      ? { kind: 'rows', rows: [value as Row] }
      : { kind: 'tensors', tensors: value as Record<string, unknown> };
  }
  throw new ModelctlError('INVALID_INPUT', 'the input JSON must be an object or an array', {
    hint: "--input '[[5.1, 3.5, 1.4, 0.2]]' or '{\"NAME\": [[...]]}'",
  });
}

/** Values given as 5.1,3.5,1.4,0.2: one row each. */
function rowsFromValues(values: string[]): PredictInput {
  return { kind: 'rows', rows: values.map((v) => v.split(',').map((x) => x.trim())) };
}

const TEXT_HINT = 'give "text", ["text", ...] or [{"text": "..."}, ...]';

/** `"text"` or `{"text": ...}`. */
function textOf(value: unknown, at: string): string {
  if (typeof value === 'string') return value;
  const text = value && typeof value === 'object' ? (value as { text?: unknown }).text : undefined;
  if (typeof text === 'string') return text;
  throw new ModelctlError('INVALID_INPUT', `${at} is not a text`, { hint: TEXT_HINT });
}

/** `"text"`, `["text", ...]`, `{"text": ...}` or `[{"text": ...}, ...]`. */
export function textsFromJson(value: unknown, where: string): string[] {
  return Array.isArray(value) ? value.map((v, i) => textOf(v, `${where} item ${i + 1}`)) : [textOf(value, where)];
}

function nonEmpty(texts: string[], where: string): string[] {
  if (texts.length === 0) throw new ModelctlError('INVALID_INPUT', `no texts in ${where}`, { hint: 'give at least one text' });
  return texts;
}

/** Files a task decodes itself (images with sharp, audio in audio.ts): any extension, named on the command line or by --file. */
function filesKind(kind: 'images' | 'audio', noun: string, hint: string): Kind<never> {
  const refuse = (): never => {
    throw new ModelctlError('INVALID_INPUT', `an ${noun} model takes ${noun} files`, { hint });
  };
  return {
    noun: kind,
    files: { '*': 'path' },
    unreadable: { as: kind, hint: `give ${noun} files` },
    record: refuse,
    document: refuse,
    values: (files) => ({ kind, files }),
    batch: refuse,
  };
}

/**
 * The kinds of input, one entry each. A new kind is one entry here: chat messages would read a JSON Lines record of
 * {"messages": [{"role", "content"}, ...]} in record() and a list of them in document(). Image and audio files are
 * paths the task decodes (sharp; audio.ts beside this file).
 */
// biome-ignore lint/suspicious/noExplicitAny: each kind reads its own item type; callers narrow by kind
export const KINDS: Readonly<Record<InputKind, Kind<any>>> = {
  rows: {
    noun: 'rows',
    files: { ...JSON_FILES, '.csv': 'csv', '.npy': 'npy' },
    unreadable: { as: 'input', hint: 'use .csv (with a header), .jsonl, .json or .npy' },
    stdin: 'csv',
    record(value: unknown, at: string): Row {
      if (value === null || typeof value !== 'object') {
        throw new ModelctlError('INVALID_INPUT', `${at} is not a row`, {
          hint: 'one row per line: [5.1, 3.5, ...] or {"feature": value, ...}',
        });
      }
      return value as Row;
    },
    document: tableFromJson,
    values: rowsFromValues,
    batch: (rows: Row[], columns) => ({ kind: 'rows', rows, ...(columns ? { columns } : {}) }),
  },
  tensors: {
    noun: 'records',
    files: { ...JSON_FILES, '.npy': 'npy' },
    unreadable: { as: 'input', hint: 'use .jsonl, .json or .npy' },
    record(value: unknown, at: string): Record<string, unknown> {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new ModelctlError('INVALID_INPUT', `${at} is not an object of named tensors`, { hint: '{"NAME": [[...]]} per line' });
      }
      return value as Record<string, unknown>;
    },
    document: tableFromJson,
    values: rowsFromValues,
    batch(items: Array<Record<string, unknown>>) {
      // Named tensors are one run each: a stream runs its records one at a time.
      if (items.length !== 1) {
        throw new ModelctlError('INVALID_INPUT', `${items.length} sets of named tensors given; a run takes one`, {
          hint: 'stream them: modelctl predict MODEL --file FILE.jsonl',
        });
      }
      return { kind: 'tensors', tensors: items[0] as Record<string, unknown> };
    },
  },
  texts: {
    noun: 'texts',
    files: { ...JSON_FILES, '.txt': 'lines' },
    unreadable: { as: 'texts', hint: 'use .txt (one text per line), .jsonl ({"text": ...} per line) or .json' },
    stdin: 'lines',
    record(value: unknown, at: string): string {
      if (Array.isArray(value))
        throw new ModelctlError('INVALID_INPUT', `${at} is not one text`, { hint: 'one text per line: "text" or {"text": "..."}' });
      return textOf(value, at);
    },
    document: (value, where) => ({ kind: 'texts', texts: nonEmpty(textsFromJson(value, where), where) }),
    values: (texts) => ({ kind: 'texts', texts }),
    batch: (texts: string[]) => ({ kind: 'texts', texts }),
  },
  questions: {
    noun: 'questions',
    files: JSON_FILES,
    unreadable: { as: 'questions', hint: 'use .jsonl ({"question": "...", "context": "..."} per line) or .json' },
    record(value: unknown, at: string): QuestionContext {
      if (Array.isArray(value)) {
        throw new ModelctlError('INVALID_INPUT', `${at} is not one question`, {
          hint: 'one {"question": "...", "context": "..."} per line',
        });
      }
      return pairsFromJson(value, at)[0] as QuestionContext;
    },
    document: (value, where) => ({ kind: 'questions', pairs: pairsFromJson(value, where) }),
    values() {
      throw new ModelctlError('INVALID_INPUT', 'a question-answering model takes a question and its context', {
        hint: 'give {"question": "...", "context": "..."}',
      });
    },
    batch: (pairs: QuestionContext[]) => ({ kind: 'questions', pairs }),
  },
  images: filesKind('images', 'image', 'give image files as arguments or --file IMAGE'),
  audio: filesKind('audio', 'audio', 'give audio files (WAV, FLAC, MP3) as arguments or --file AUDIO'),
};

export function noItems(kind: InputKind, where: string): ModelctlError {
  return new ModelctlError('INVALID_INPUT', `no ${KINDS[kind].noun} in ${where}`, { hint: 'give at least one line of input' });
}

const strict = new TextDecoder('utf-8', { fatal: true });

/**
 * The one line reader: bytes as they come -> numbered lines, a batch per chunk read; \n or \r\n endings, a leading
 * BOM dropped. A batch is decoded at once; when it is not UTF-8, each line alone, so that a bad byte costs its line.
 */
export async function* readLines(
  chunks: AsyncIterable<Buffer | string> | Iterable<Buffer | string>,
  where: string,
): AsyncGenerator<Line[]> {
  let next = 1;
  let first = true;
  const split = (region: Buffer): Line[] => {
    let bytes = region;
    if (first) {
      first = false;
      if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    }
    const out: Line[] = [];
    let text: string | undefined;
    try {
      text = strict.decode(bytes);
    } catch {
      text = undefined;
    }
    if (text !== undefined) {
      for (const t of text.split('\n')) out.push({ line: next++, text: t.endsWith('\r') ? t.slice(0, -1) : t });
      return out;
    }
    for (let start = 0; ; ) {
      const nl = bytes.indexOf(0x0a, start);
      const end = nl < 0 ? bytes.length : nl;
      const line = next++;
      try {
        out.push({ line, text: strict.decode(bytes.subarray(start, end > start && bytes[end - 1] === 0x0d ? end - 1 : end)) });
      } catch (err) {
        out.push({
          line,
          text: '',
          bad: new ModelctlError('INVALID_INPUT', `${where} line ${line} is not UTF-8 text`, { hint: UTF8_HINT, cause: err }),
        });
      }
      if (nl < 0) return out;
      start = nl + 1;
    }
  };
  let pending: Buffer | undefined;
  for await (const chunk of chunks) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const last = bytes.lastIndexOf(0x0a);
    if (last < 0) {
      pending = pending ? Buffer.concat([pending, bytes]) : Buffer.from(bytes);
      continue;
    }
    const head = pending ? Buffer.concat([pending, bytes.subarray(0, last)]) : bytes.subarray(0, last);
    pending = last + 1 < bytes.length ? Buffer.from(bytes.subarray(last + 1)) : undefined;
    yield split(head);
  }
  if (pending) yield split(pending);
}

function fileChunks(path: string): AsyncIterable<Buffer> {
  return (async function* () {
    const stream = createReadStream(path, { highWaterMark: 256 * 1024 });
    try {
      for await (const chunk of stream) yield chunk as Buffer;
    } catch (err) {
      throw fsError(err, path);
    }
  })();
}

/** JSON Lines: one JSON value per non-blank line, as the kind's item; a line that is not one is an error record. */
async function* jsonLines<T>(batches: AsyncIterable<Line[]>, where: string, kind: Kind<T>): AsyncGenerator<InputRecord<T>> {
  for await (const batch of batches) {
    for (const l of batch) {
      if (l.bad) {
        yield { line: l.line, error: l.bad };
        continue;
      }
      if (l.text.trim() === '') continue;
      const at = `${where} line ${l.line}`;
      let value: unknown;
      try {
        // JSON.parse itself, not parseJsonText: the line reader already dropped the BOM, and this runs per record.
        value = JSON.parse(l.text);
      } catch (err) {
        yield { line: l.line, error: notJson(at, err) };
        continue;
      }
      let r: InputRecord<T>;
      try {
        r = { line: l.line, value: kind.record(value, at) };
      } catch (err) {
        if (!(err instanceof ModelctlError)) throw err;
        r = { line: l.line, error: err };
      }
      yield r;
    }
  }
}

/** One text per non-blank line, as it is (white space kept). */
async function* textLines(batches: AsyncIterable<Line[]>): AsyncGenerator<InputRecord<string>> {
  for await (const batch of batches) {
    for (const l of batch) {
      if (l.bad) yield { line: l.line, error: l.bad };
      else if (l.text.trim() !== '') yield { line: l.line, value: l.text };
    }
  }
}

async function stream(
  format: 'jsonl' | 'csv' | 'lines',
  lines: AsyncIterable<Line[]>,
  kind: InputKind,
  where: string,
): Promise<RecordStream> {
  if (format === 'jsonl') return { format, kind, where, records: jsonLines(lines, where, KINDS[kind]) };
  if (format === 'lines') return { format, kind, where, records: textLines(lines) };
  return { format, kind, where, ...(await openCsv(lines, where)) };
}

/** The records of a stream as one input; the first bad record is thrown. */
async function collect(s: RecordStream): Promise<PredictInput> {
  const items: unknown[] = [];
  for await (const r of s.records) {
    if (r.error) throw r.error;
    items.push(r.value);
  }
  if (items.length === 0) throw s.kind === 'rows' ? noRows(s.where) : noItems(s.kind, s.where);
  return KINDS[s.kind].batch(items, s.columns);
}

/** stdin that is not a stream: one JSON document, else one line of the kind's line format. */
async function wholeStdin(text: string, kind: InputKind): Promise<PredictInput> {
  const k = KINDS[kind];
  const json = tryJson(text);
  // For texts, a lone number, true or null is a line of text, not JSON meant for predict.
  const meant = json && (kind !== 'texts' || (json.value !== null && typeof json.value === 'object') || typeof json.value === 'string');
  if (json && meant) return k.document(json.value, 'stdin');
  const body = text.trim();
  if (body === '') {
    if (k.stdin === 'csv') {
      throw new ModelctlError('INVALID_INPUT', 'stdin is empty', {
        hint: 'pipe JSON, JSON Lines or CSV (with a header) into predict --file -',
      });
    }
    throw noItems(kind, 'stdin');
  }
  // It starts like JSON (several lines of it, for texts) or the kind reads nothing else: the JSON error says why.
  const jsonLike = (body.startsWith('[') || body.startsWith('{')) && (k.stdin !== 'lines' || body.includes('\n'));
  if (jsonLike || !k.stdin) parseJsonText(body, 'stdin');
  return collect(await stream(k.stdin as 'csv' | 'lines', readLines([text], 'stdin'), kind, 'stdin'));
}

/**
 * Opens an input as `kind`: a stream of records (.jsonl/.ndjson, .csv for rows, .txt for texts, and stdin holding
 * one of them), or one input read whole (.json, .npy, stdin holding one document, JSON, command-line values).
 */
export async function openInput(source: InputSource, kind: InputKind, options: OpenOptions = {}): Promise<OpenedInput> {
  const k = KINDS[kind];
  if ('values' in source) return { input: k.values(source.values) };
  if ('json' in source) return { input: k.document(parseJsonText(source.json, source.where), source.where) };
  if ('value' in source) return { input: k.document(source.value, source.where) };
  const path = source.file;
  if (path === '-') {
    // stdin is read as text records: image and audio bytes there would be "lines" that are not UTF-8.
    if (k.files['*'] === 'path')
      throw new ModelctlError('USAGE', `--file - reads text, rows or JSON from stdin, not ${kind === 'images' ? 'an image' : 'audio'}`, {
        hint: 'save it to a file and give its path as an argument or with --file',
      });
    const sniffed = await sniffStdin(readLines(options.stdin ?? process.stdin, 'stdin'), k.stdin);
    if ('whole' in sniffed) return { input: await wholeStdin(sniffed.whole, kind) };
    return { stream: await stream(sniffed.format, sniffed.lines, kind, 'stdin') };
  }
  const format = k.files[extname(path).toLowerCase()] ?? k.files['*'];
  if (!format) throw new ModelctlError('INVALID_INPUT', `cannot read ${path} as ${k.unreadable.as}`, { hint: k.unreadable.hint });
  if (format === 'path') return { input: k.values([path]) };
  // A missing file is reported now, before the caller loads a model for it.
  await stat(path).catch((err: unknown) => {
    throw fsError(err, path);
  });
  if (format === 'jsonl' || format === 'csv' || format === 'lines')
    return { stream: await stream(format, readLines(fileChunks(path), path), kind, path) };
  const bytes = await readFile(path).catch((err: unknown) => {
    throw fsError(err, path);
  });
  if (format === 'npy') return { input: { kind: 'tensors', tensors: { [options.firstInput ?? 'input']: parseNpy(bytes, path) } } };
  return { input: k.document(parseJsonText(utf8Text(bytes, path), path), path) };
}

/** An input read whole, whatever its source: a stream's records become one input, and its first bad record is thrown. */
export async function readInput(source: InputSource, kind: InputKind, options: OpenOptions = {}): Promise<PredictInput> {
  const opened = await openInput(source, kind, options);
  return opened.stream ? collect(opened.stream) : opened.input;
}
