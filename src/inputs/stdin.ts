import { tryJson } from '../util/text.js';
import type { Line } from './types.js';

/**
 * The one stdin sniffer. stdin has no extension, so its first two non-blank lines decide how it is read: several
 * lines of which the first is a whole JSON value are JSON Lines; otherwise, for the kinds that have one, the kind's
 * own line format (CSV with a header for rows, one text per line for texts). Anything else (one JSON document,
 * pretty-printed or not, or a single line) is returned whole, for the caller to read as a document.
 */

export type Sniffed = { format: 'jsonl' | 'csv' | 'lines'; lines: AsyncIterable<Line[]> } | { whole: string };

async function* replay(seen: Line[][], rest: AsyncIterator<Line[]>): AsyncGenerator<Line[]> {
  yield* seen;
  for (let r = await rest.next(); !r.done; r = await rest.next()) yield r.value;
}

/** All the lines as one text; a line that is not UTF-8 makes the whole input unreadable. */
async function wholeText(lines: AsyncIterable<Line[]>): Promise<string> {
  let text = '';
  for await (const batch of lines) {
    for (const l of batch) {
      if (l.bad) throw l.bad;
      text += `${l.text}\n`;
    }
  }
  return text;
}

/** `fallback`: the kind's line format, for stdin that is not JSON: CSV (rows), text lines (texts), or none. */
export async function sniffStdin(batches: AsyncIterable<Line[]>, fallback: 'csv' | 'lines' | undefined): Promise<Sniffed> {
  const it = batches[Symbol.asyncIterator]();
  const seen: Line[][] = [];
  let first: string | undefined;
  let several = false;
  sniff: for (let r = await it.next(); !r.done; r = await it.next()) {
    seen.push(r.value);
    for (const l of r.value) {
      if (!l.bad && l.text.trim() === '') continue;
      if (first !== undefined) {
        several = true;
        break sniff;
      }
      first = l.text.trim();
    }
  }
  const lines = replay(seen, it);
  if (first === undefined) return { whole: await wholeText(lines) };
  const opener = first[0];
  // A text may be given as a JSON string ("text"), so for texts a quote opens JSON as well.
  const jsonStart = opener === '{' || opener === '[' || (fallback === 'lines' && opener === '"');
  if (several && jsonStart && tryJson(first) !== undefined) return { format: 'jsonl', lines };
  if (several && !jsonStart && fallback === 'csv') return { format: 'csv', lines };
  // Texts: anything but one JSON document (a first line that is a whole JSON value, or a lone "[" or "{" opening a
  // pretty-printed one) is one text per line, whatever its first character.
  if (fallback === 'lines' && (!jsonStart || (several && first !== '[' && first !== '{'))) return { format: 'lines', lines };
  return { whole: await wholeText(lines) };
}
