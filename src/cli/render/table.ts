import Table from 'cli-table3';
import type { ChalkInstance } from 'chalk';

/**
 * A borderless, column-aligned table (the style of docker, kubectl and git): easy to read, and still easy to cut
 * or grep when piped. Headers are bold only when colour is on.
 */
export function renderTable(c: ChalkInstance, head: string[], rows: string[][]): string {
  const table = new Table({
    head: head.map((h) => c.bold(h)),
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
      bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ',
    },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  table.push(...rows);
  return table
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');
}

/** "key: value" lines with the keys aligned, for `info`-style output. */
export function renderFields(c: ChalkInstance, fields: Array<[string, string | undefined]>): string {
  const shown = fields.filter((f): f is [string, string] => f[1] !== undefined && f[1] !== '');
  const width = Math.max(0, ...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${c.bold(`${k}:`.padEnd(width + 1))} ${v}`).join('\n');
}
