import { CsvError, parse } from 'csv-parse/sync';
import { ModelctlError } from '../errors.js';
import type { InputRecord, Line } from './types.js';

/**
 * The streaming CSV reader: a header line, then rows, read with csv-parse a batch of lines at a time as they
 * arrive, each record with the line it starts on. csv-parse alone decides where a record ends and what its fields
 * hold: a quote opens a field only at its start ("a, b"), "" is a quote inside one, a quoted field may span lines,
 * white space around a field is dropped (inside quotes it is kept), a quote inside an unquoted field is an ordinary
 * character, and lines of white space are skipped. A record it refuses, or a quote still open after
 * MAX_RECORD_LINES lines or at the end of the input, costs that record only: its first line becomes an error record
 * and the lines after it are read again.
 */

const OPTIONS = { relax_quotes: true, relax_column_count: true, trim: true, skip_empty_lines: true, record_delimiter: '\n' } as const;

/** A quoted field may hold line breaks, but one that never closes must not swallow the rest of the input. */
const MAX_RECORD_LINES = 1000;

type CsvRecord = InputRecord<string[]>;

/** csv-parse skips the lines JavaScript's trim() empties (its list of white space is the same). */
function isBlank(l: Line): boolean {
  return l.text.trim() === '';
}

function refused(err: CsvError, where: string, line: number): ModelctlError {
  if (err.code === 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE') {
    return new ModelctlError('INVALID_INPUT', `${where} line ${line}: a quoted field has text after its closing quote`, {
      hint: 'quote the whole field and write a quote inside it as "": "say ""hi"" twice"',
    });
  }
  return new ModelctlError('INVALID_INPUT', `${where} line ${line} is not valid CSV (${err.code})`, {
    hint: 'quote fields that hold commas, quotes or line breaks: "a, b"',
  });
}

function unclosed(where: string, line: number): ModelctlError {
  return new ModelctlError('INVALID_INPUT', `${where} line ${line} opens a quoted field that is never closed`, {
    hint: 'close it with a double quote; write a quote inside a field as ""',
  });
}

function newlines(fields: string[]): number {
  let n = 0;
  for (const f of fields) for (let i = f.indexOf('\n'); i >= 0; i = f.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * The common case, a batch csv-parse reads to its end: each record starts on the next line that is not blank and
 * spans as many more lines as its quoted fields hold line breaks (the lines were joined with \n alone). Undefined
 * when csv-parse stops on an error or a quote still open: parseLines then asks it record by record.
 */
function parseWhole(lines: Line[]): CsvRecord[] | undefined {
  let rows: string[][];
  try {
    rows = parse(lines.map((l) => l.text).join('\n'), OPTIONS);
  } catch (err) {
    if (err instanceof CsvError) return undefined;
    throw err;
  }
  const out: CsvRecord[] = [];
  let next = 0;
  for (const fields of rows) {
    while (next < lines.length && isBlank(lines[next] as Line)) next++;
    const first = lines[next];
    // A record csv-parse saw where the lines say there is none: let the slower path number them.
    if (!first) return undefined;
    out.push({ line: first.line, value: fields });
    next += 1 + newlines(fields);
  }
  return out;
}

/**
 * The records csv-parse completes in `lines` (all of them UTF-8), appended to `out`. Returns the index of the first
 * line of a record still open at the end (a quote not closed yet), or lines.length.
 */
function parseLines(lines: Line[], where: string, out: CsvRecord[]): number {
  const whole = parseWhole(lines);
  if (whole) {
    for (const r of whole) out.push(r);
    return lines.length;
  }
  let from = 0;
  while (from < lines.length) {
    const part = from === 0 ? lines : lines.slice(from);
    // The first line of `part` not yet in a record: a record starts on the next line that is not blank.
    let next = 0;
    const startOf = (): number => {
      while (next < part.length && isBlank(part[next] as Line)) next++;
      return next;
    };
    try {
      parse(part.map((l) => l.text).join('\n'), {
        ...OPTIONS,
        on_record: (fields: string[], info) => {
          out.push({ line: (part[startOf()] as Line).line, value: fields });
          next = info.lines; // the record's last line (from 1) is the index of the line after it
          return null;
        },
      });
      return lines.length;
    } catch (err) {
      if (!(err instanceof CsvError)) throw err;
      const start = startOf();
      if (err.code === 'CSV_QUOTE_NOT_CLOSED' || start >= part.length) return from + start;
      out.push({ line: (part[start] as Line).line, error: refused(err, where, (part[start] as Line).line) });
      // Reading goes on after the line the parser stopped on.
      const stopped = typeof err.lines === 'number' ? err.lines : 0;
      from += Math.max(start + 1, stopped);
    }
  }
  return lines.length;
}

/**
 * Records of `lines`; the lines of a record still open at the end are returned to be read with the next batch,
 * unless `final` (the input ended, or a line that is not UTF-8 came) or they are too many: then the record's first
 * line is an error and the lines after it are read again.
 */
function* take(lines: Line[], final: boolean, where: string): Generator<CsvRecord, Line[]> {
  let pending = lines;
  for (;;) {
    const out: CsvRecord[] = [];
    const openAt = parseLines(pending, where, out);
    yield* out;
    if (openAt >= pending.length) return [];
    const open = pending.slice(openAt);
    if (!final && open.length < MAX_RECORD_LINES) return open;
    yield { line: (open[0] as Line).line, error: unclosed(where, (open[0] as Line).line) };
    pending = open.slice(1);
  }
}

async function* csvRecords(batches: AsyncIterable<Line[]>, where: string): AsyncGenerator<CsvRecord> {
  let open: Line[] = [];
  for await (const batch of batches) {
    let start = 0;
    for (let i = 0; i < batch.length; i++) {
      const bad = (batch[i] as Line).bad;
      if (!bad) continue;
      yield* take(open.concat(batch.slice(start, i)), true, where);
      open = [];
      yield { line: (batch[i] as Line).line, error: bad };
      start = i + 1;
    }
    open = yield* take(open.concat(start === 0 ? batch : batch.slice(start)), false, where);
  }
  yield* take(open, true, where);
}

/** A header whose names are all numbers, one of them not a whole number, is a row of data: there is no header. */
function looksLikeData(columns: string[]): boolean {
  return columns.every((c) => c.trim() !== '' && Number.isFinite(Number(c))) && columns.some((c) => !Number.isInteger(Number(c)));
}

function checkHeader(columns: string[], where: string, line: number): void {
  if (looksLikeData(columns)) {
    throw new ModelctlError('INVALID_INPUT', `${where} line ${line} is a row of numbers, not a header`, {
      hint: 'a CSV input starts with a header line naming the columns (e.g. the feature names); or give JSON Lines, one [v1, v2, ...] per line',
    });
  }
  const seen = new Set<string>();
  columns.forEach((name, i) => {
    if (name === '') {
      throw new ModelctlError('INVALID_INPUT', `${where} line ${line}: column ${i + 1} of the header has no name`, {
        hint: 'the header line names every column',
      });
    }
    if (seen.has(name)) {
      throw new ModelctlError('INVALID_INPUT', `${where} line ${line}: the header names column "${name}" twice`, {
        hint: 'give every column its own name',
      });
    }
    seen.add(name);
  });
}

/** CSV with a header line: the column names, then one record per row (its fields in header order), read as they come. */
export async function openCsv(
  batches: AsyncIterable<Line[]>,
  where: string,
): Promise<{ columns: string[]; records: AsyncIterable<CsvRecord> }> {
  const it = csvRecords(batches, where);
  const head = await it.next();
  if (head.done)
    throw new ModelctlError('INVALID_INPUT', `${where} is empty`, { hint: 'a CSV input needs a header line with the feature names' });
  if (head.value.error) throw head.value.error;
  const columns = head.value.value;
  checkHeader(columns, where, head.value.line);
  const records = (async function* (): AsyncGenerator<CsvRecord> {
    for await (const r of it) {
      if (r.error || r.value.length === columns.length) yield r;
      else {
        const n = r.value.length;
        yield {
          line: r.line,
          error: new ModelctlError(
            'INVALID_INPUT',
            `${where} line ${r.line} has ${n} field${n === 1 ? '' : 's'}; the header has ${columns.length}`,
            {
              hint: 'quote fields that hold commas or line breaks: "a, b"',
            },
          ),
        };
      }
    }
  })();
  return { columns, records };
}
