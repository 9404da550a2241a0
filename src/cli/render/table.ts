import type { ChalkInstance } from 'chalk';

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/**
 * Text from a model (config.json values, file names) may hold terminal control sequences: shown raw, they could
 * rewrite the screen or the window title. Every control character is shown as a visible escape instead.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Terminal columns a cell takes: colour codes take none; East Asian wide characters and emoji take two. */
function width(text: string): number {
  const plain = text.includes('\x1b') ? text.replace(ANSI, '') : text;
  let w = 0;
  for (const ch of plain) {
    const cp = ch.codePointAt(0) as number;
    w +=
      cp >= 0x1100 &&
      (cp <= 0x115f ||
        (cp >= 0x2e80 && cp <= 0xa4cf) ||
        (cp >= 0xac00 && cp <= 0xd7a3) ||
        (cp >= 0xf900 && cp <= 0xfaff) ||
        (cp >= 0xfe30 && cp <= 0xfe4f) ||
        (cp >= 0xff00 && cp <= 0xff60) ||
        (cp >= 0xffe0 && cp <= 0xffe6) ||
        cp >= 0x1f300)
        ? 2
        : 1;
  }
  return w;
}

/**
 * A borderless, column-aligned table (the style of docker, kubectl and git): easy to read, and still easy to cut
 * or grep when piped. Written by hand rather than with cli-table3, which took 9.6 s to lay out 10,000 rows
 * (bench/RESULTS.md); this takes milliseconds. Headers are bold only when colour is on.
 */
export function renderTable(c: ChalkInstance, head: string[], rows: string[][]): string {
  const widths = head.map((h) => width(h));
  const cellWidths = rows.map((row) =>
    row.map((cell, i) => {
      const w = width(cell);
      if (w > (widths[i] ?? 0)) widths[i] = w;
      return w;
    }),
  );
  const line = (cells: string[], ws: number[]): string =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - (ws[i] ?? 0) + 2)))
      .join('')
      .trimEnd();
  const out = [
    line(
      head.map((h) => c.bold(h)),
      head.map((h) => width(h)),
    ),
  ];
  rows.forEach((row, r) => out.push(line(row, cellWidths[r] ?? [])));
  return out.join('\n');
}

/** "key: value" lines with the keys aligned, for `info`-style output. */
export function renderFields(c: ChalkInstance, fields: Array<[string, string | undefined]>): string {
  const shown = fields.filter((f): f is [string, string] => f[1] !== undefined && f[1] !== '');
  const keyWidth = Math.max(0, ...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${c.bold(`${k}:`.padEnd(keyWidth + 1))} ${v}`).join('\n');
}
