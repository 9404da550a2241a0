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
  /** Set when the line's bytes are not UTF-8: the record is an error, the lines after it go on. */
  bad?: ModelctlError;
}

const UTF8_HINT = 'convert it to UTF-8 first, e.g. iconv -f LATIN1 -t UTF-8';

/**
 * Lines (\r\n or \n endings, a leading BOM dropped), each decoded as strict UTF-8 on its own, so that one bad byte
 * costs its line, not the stream.
 */
async function* readLines(chunks: AsyncIterable<Buffer | string>, where: string): AsyncGenerator<Line> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let pending: Buffer = Buffer.alloc(0);
  let line = 1;
  let first = true;
  const decode = (bytes: Buffer): Line => {
    let body = bytes.at(-1) === 0x0d ? bytes.subarray(0, -1) : bytes;
    if (first) {
      first = false;
      if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) body = body.subarray(3);
    }
    const at = line++;
    try {
      return { line: at, text: decoder.decode(body) };
    } catch (err) {
      return { line: at, text: '', bad: new ModelctlError('INVALID_INPUT', `${where} line ${at} is not UTF-8 text`, { hint: UTF8_HINT, cause: err }) };
    }
  };
  for await (const chunk of chunks) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let start = 0;
    let nl = bytes.indexOf(0x0a);
    if (nl >= 0 && pending.length > 0) {
      yield decode(Buffer.concat([pending, bytes.subarray(0, nl)]));
      pending = Buffer.alloc(0);
      start = nl + 1;
      nl = bytes.indexOf(0x0a, start);
    }
    while (nl >= 0) {
      yield decode(bytes.subarray(start, nl));
      start = nl + 1;
      nl = bytes.indexOf(0x0a, start);
    }
    if (start < bytes.length) pending = pending.length > 0 ? Buffer.concat([pending, bytes.subarray(start)]) : Buffer.from(bytes.subarray(start));
  }
  if (pending.length > 0) yield decode(pending);
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
  for await (const l of lines) if (l.bad || l.text.trim() !== '') yield l;
}

async function* jsonRecords(lines: AsyncIterable<Line>, where: string): AsyncGenerator<StreamRecord> {
  for await (const l of nonBlank(lines)) {
    if (l.bad) {
      yield { line: l.line, error: l.bad };
      continue;
    }
    try {
      yield { line: l.line, value: parseJsonText(l.text, `${where} line ${l.line}`) };
    } catch (err) {
      yield { line: l.line, error: err as ModelctlError };
    }
  }
}

async function* textRecords(lines: AsyncIterable<Line>): AsyncGenerator<StreamRecord> {
  for await (const l of nonBlank(lines)) yield l.bad ? { line: l.line, error: l.bad } : { line: l.line, value: l.text };
}

/**
 * Whether a quoted field is still open at the end of `text`, by the rules csvFields reads with: a quote opens a
 * field only where the field has nothing but white space so far; inside, "" is a quote and " closes it.
 */
function endsInQuotes(text: string): boolean {
  let inQuotes = false;
  let quoted = false;
  let blank = true;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (inQuotes) {
      if (c === '"') {
        if (text[i + 1] === '"') i++;
        else inQuotes = false;
      }
    } else if (c === '"' && !quoted && blank) {
      inQuotes = true;
      quoted = true;
    } else if (c === ',' || c === '\n') {
      quoted = false;
      blank = true;
    } else if (!/\s/.test(c)) blank = false;
  }
  return inQuotes;
}

/** A quoted field may hold line breaks, but one that never closes must not swallow the rest of the input. */
const MAX_RECORD_LINES = 1000;

/**
 * CSV records, joined across physical lines while a quoted field is open; the header comes first. A quote still
 * open after MAX_RECORD_LINES lines, or at the end of the input, makes its first line a bad record and the lines
 * after it are read again.
 */
async function* csvRecordTexts(lines: AsyncIterable<Line>): AsyncGenerator<Line & { unclosed?: boolean }> {
  const it = lines[Symbol.asyncIterator]();
  const replay: Line[] = [];
  const next = async (): Promise<Line | undefined> => replay.shift() ?? (await it.next()).value ?? undefined;
  let open: Line[] = [];
  for (let l = await next(); ; l = await next()) {
    if (l === undefined) {
      if (open.length === 0) return;
      // The input ended inside a quote: the record's first line is bad, the lines after it are read again.
      yield { ...(open[0] as Line), unclosed: true };
      replay.push(...open.slice(1));
      open = [];
      continue;
    }
    if (open.length === 0 && (l.bad || l.text.trim() === '')) {
      if (l.bad) yield l;
      continue;
    }
    if (l.bad) {
      // A bad line inside an open quote: the open record cannot be read either.
      yield { ...(open[0] as Line), text: open.map((x) => x.text).join('\n'), unclosed: true };
      yield l;
      open = [];
      continue;
    }
    open.push(l);
    const text = open.map((x) => x.text).join('\n');
    if (!endsInQuotes(text)) {
      yield { line: (open[0] as Line).line, text };
      open = [];
    } else if (open.length >= MAX_RECORD_LINES) {
      yield { ...(open[0] as Line), unclosed: true };
      replay.unshift(...open.slice(1));
      open = [];
    }
  }
}

/** A header whose names are all numbers, one of them not a whole number, is a row of data: there is no header. */
function looksLikeData(columns: string[]): boolean {
  return columns.every((c) => c.trim() !== '' && Number.isFinite(Number(c))) && columns.some((c) => !Number.isInteger(Number(c)));
}

async function openCsv(lines: AsyncIterable<Line>, where: string): Promise<RecordStream> {
  const it = csvRecordTexts(lines)[Symbol.asyncIterator]();
  const head = await it.next();
  if (head.done) throw new ModelctlError('INVALID_INPUT', `${where} is empty`, { hint: 'a CSV input needs a header line with the feature names' });
  if (head.value.bad) throw head.value.bad;
  const columns = csvFields(head.value.text, where, head.value.line);
  if (looksLikeData(columns)) {
    throw new ModelctlError('INVALID_INPUT', `${where} line ${head.value.line} is a row of numbers, not a header`, {
      hint: 'a CSV input starts with a header line naming the columns (e.g. the feature names); or give JSON Lines, one [v1, v2, ...] per line',
    });
  }
  const seen = new Set<string>();
  columns.forEach((name, i) => {
    if (name === '') throw new ModelctlError('INVALID_INPUT', `${where} line ${head.value.line}: column ${i + 1} of the header has no name`, { hint: 'the header line names every column' });
    if (seen.has(name)) throw new ModelctlError('INVALID_INPUT', `${where} line ${head.value.line}: the header names column "${name}" twice`, { hint: 'give every column its own name' });
    seen.add(name);
  });
  const records = (async function* (): AsyncGenerator<StreamRecord> {
    for (let r = await it.next(); !r.done; r = await it.next()) {
      const { line, text, bad, unclosed } = r.value;
      if (bad) {
        yield { line, error: bad };
        continue;
      }
      if (unclosed) {
        yield { line, error: new ModelctlError('INVALID_INPUT', `${where} line ${line} opens a quoted field that is never closed`, { hint: 'close it with a double quote; write a quote inside a field as ""' }) };
        continue;
      }
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
    if (!r.value.bad && r.value.text.trim() === '') continue;
    if (firstText === undefined) firstText = r.value.text.trim();
    else {
      several = true;
      break;
    }
  }
  const whole = async (): Promise<{ whole: string }> => {
    let text = '';
    for await (const l of prepend(seen, it)) {
      if (l.bad) throw l.bad;
      text += `${l.text}\n`;
    }
    return { whole: text };
  };
  if (firstText === undefined) return whole();
  const lines = prepend(seen, it);
  const jsonStart = '{['.includes(firstText[0] as string) || (kind === 'texts' && firstText.startsWith('"'));
  const parsed = jsonStart ? tryJson(firstText) : undefined;
  if (several && parsed) return { format: 'jsonl', where: 'stdin', records: jsonRecords(lines, 'stdin') };
  if (!jsonStart && several && kind === 'rows') return openCsv(lines, 'stdin');
  // Texts: anything but one JSON document (a first line that is a whole JSON value, or a lone "[" or "{" opening a
  // pretty-printed one) is one text per line, whatever its first character.
  if (kind === 'texts' && (!jsonStart || (several && firstText !== '[' && firstText !== '{'))) return { format: 'lines', where: 'stdin', records: textRecords(lines) };
  return whole();
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
