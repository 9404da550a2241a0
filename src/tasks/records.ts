import { createReadStream } from 'node:fs';
import { extname } from 'node:path';
import { ModelctlError, fsError } from '../errors.js';
import { csvFields, parseJsonText, tryJson } from './inputs.js';

/**
 * Inputs read as a stream of records (JSON Lines, CSV, one text per line), so that a large file is predicted in
 * batches while it is read and a bad record is reported by its line number without stopping the others.
 */

/** A record with the physical line (from 1) it starts on: a value, or why it could not be read. */
export type StreamRecord = { line: number; value: unknown; error?: undefined } | { line: number; error: ModelctlError; value?: undefined };

export interface RecordStream {
  format: 'jsonl' | 'csv' | 'lines';
  /** Where the records come from, for messages: the path or "stdin". */
  where: string;
  /** CSV: the header's column names. */
  columns?: string[];
  records: AsyncIterable<StreamRecord>;
}

/** What the caller reads the input as: rows of a table, texts, question/context pairs or named tensors. */
export type RecordKind = 'rows' | 'texts' | 'questions' | 'tensors';

interface Line {
  line: number;
  text: string;
}

/** Lines of strict UTF-8 text (a leading BOM dropped, \r\n or \n endings). */
async function* readLines(chunks: AsyncIterable<Buffer | string>, where: string): AsyncGenerator<Line> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let pending = '';
  let line = 1;
  let first = true;
  const decode = (chunk?: Buffer | string): string => {
    try {
      return chunk === undefined ? decoder.decode() : typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    } catch (err) {
      throw new ModelctlError('INVALID_INPUT', `${where} is not UTF-8 text (near line ${line})`, { hint: 'convert it to UTF-8 first, e.g. iconv -f LATIN1 -t UTF-8', cause: err });
    }
  };
  const take = function* (text: string): Generator<Line> {
    pending += text;
    if (first && pending.length > 0) {
      if (pending.startsWith('\uFEFF')) pending = pending.slice(1);
      first = false;
    }
    let nl = pending.indexOf('\n');
    while (nl >= 0) {
      yield { line: line++, text: pending.slice(0, pending[nl - 1] === '\r' ? nl - 1 : nl) };
      pending = pending.slice(nl + 1);
      nl = pending.indexOf('\n');
    }
  };
  for await (const chunk of chunks) yield* take(decode(chunk));
  yield* take(decode());
  if (pending !== '') yield { line, text: pending.endsWith('\r') ? pending.slice(0, -1) : pending };
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

async function* nonBlank(lines: AsyncIterable<Line>): AsyncGenerator<Line> {
  for await (const l of lines) if (l.text.trim() !== '') yield l;
}

async function* jsonRecords(lines: AsyncIterable<Line>, where: string): AsyncGenerator<StreamRecord> {
  for await (const l of nonBlank(lines)) {
    try {
      yield { line: l.line, value: parseJsonText(l.text, `${where} line ${l.line}`) };
    } catch (err) {
      yield { line: l.line, error: err as ModelctlError };
    }
  }
}

async function* textRecords(lines: AsyncIterable<Line>): AsyncGenerator<StreamRecord> {
  for await (const l of nonBlank(lines)) yield { line: l.line, value: l.text };
}

/** CSV records, joined across physical lines while a quoted field is open; the header comes first. */
async function* csvRecordTexts(lines: AsyncIterable<Line>): AsyncGenerator<Line> {
  let open: Line | undefined;
  let quotes = 0;
  for await (const l of lines) {
    if (!open && l.text.trim() === '') continue;
    open = open ? { line: open.line, text: `${open.text}\n${l.text}` } : { ...l };
    quotes += l.text.split('"').length - 1;
    if (quotes % 2 === 0) {
      yield open;
      open = undefined;
      quotes = 0;
    }
  }
  if (open) yield open;
}

async function openCsv(lines: AsyncIterable<Line>, where: string): Promise<RecordStream> {
  const it = csvRecordTexts(lines)[Symbol.asyncIterator]();
  const head = await it.next();
  if (head.done) throw new ModelctlError('INVALID_INPUT', `${where} is empty`, { hint: 'a CSV input needs a header line with the feature names' });
  const columns = csvFields(head.value.text, where, head.value.line);
  const seen = new Set<string>();
  columns.forEach((name, i) => {
    if (name === '') throw new ModelctlError('INVALID_INPUT', `${where} line ${head.value.line}: column ${i + 1} of the header has no name`, { hint: 'the header line names every column' });
    if (seen.has(name)) throw new ModelctlError('INVALID_INPUT', `${where} line ${head.value.line}: the header names column "${name}" twice`, { hint: 'give every column its own name' });
    seen.add(name);
  });
  const records = (async function* (): AsyncGenerator<StreamRecord> {
    for (let r = await it.next(); !r.done; r = await it.next()) {
      const { line, text } = r.value;
      try {
        const fields = csvFields(text, where, line);
        if (fields.length !== columns.length) {
          throw new ModelctlError('INVALID_INPUT', `${where} line ${line} has ${fields.length} field${fields.length === 1 ? '' : 's'}; the header has ${columns.length}`, {
            hint: 'quote fields that hold commas or line breaks: "a, b"',
          });
        }
        yield { line, value: fields };
      } catch (err) {
        yield { line, error: err as ModelctlError };
      }
    }
  })();
  return { format: 'csv', where, columns, records };
}

async function* prepend(first: Line[], rest: AsyncIterator<Line>): AsyncGenerator<Line> {
  yield* first;
  for (let r = await rest.next(); !r.done; r = await rest.next()) yield r.value;
}

/**
 * stdin, read as a stream when it looks like one: several lines of which the first is a whole JSON value (JSON
 * Lines); CSV with a header (rows) or one text per line (texts). Anything else (one JSON document, pretty-printed
 * or not) is returned whole, for the caller to read as before.
 */
async function openStdin(kind: RecordKind, chunks: AsyncIterable<Buffer | string>): Promise<RecordStream | { whole: string }> {
  const it = readLines(chunks, 'stdin')[Symbol.asyncIterator]();
  const seen: Line[] = [];
  let firstText: string | undefined;
  let several = false;
  for (let r = await it.next(); !r.done; r = await it.next()) {
    seen.push(r.value);
    if (r.value.text.trim() === '') continue;
    if (firstText === undefined) firstText = r.value.text.trim();
    else {
      several = true;
      break;
    }
  }
  if (firstText === undefined) return { whole: seen.map((l) => l.text).join('\n') };
  const lines = prepend(seen, it);
  const jsonStart = '{['.includes(firstText[0] as string) || (kind === 'texts' && firstText.startsWith('"'));
  const parsed = jsonStart ? tryJson(firstText) : undefined;
  if (several && parsed) return { format: 'jsonl', where: 'stdin', records: jsonRecords(lines, 'stdin') };
  if (!jsonStart && several && kind === 'rows') return openCsv(lines, 'stdin');
  if (!jsonStart && kind === 'texts') return { format: 'lines', where: 'stdin', records: textRecords(lines) };
  let whole = '';
  for await (const l of lines) whole += `${l.text}\n`;
  return { whole };
}

/**
 * The records of --file PATH (or `-` for stdin) when it is a stream: .jsonl/.ndjson, .csv for rows, .txt for
 * texts. Undefined for a file read whole (.json, .npy, images); `{ whole }` for stdin holding one document.
 */
export async function openRecords(path: string, kind: RecordKind, stdin: AsyncIterable<Buffer | string> = process.stdin): Promise<RecordStream | { whole: string } | undefined> {
  if (path === '-') return openStdin(kind, stdin);
  const ext = extname(path).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson') return { format: 'jsonl', where: path, records: jsonRecords(readLines(fileChunks(path), path), path) };
  if (ext === '.csv' && kind === 'rows') return openCsv(readLines(fileChunks(path), path), path);
  if (ext === '.txt' && kind === 'texts') return { format: 'lines', where: path, records: textRecords(readLines(fileChunks(path), path)) };
  return undefined;
}
