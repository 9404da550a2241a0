import { formatBytes } from '../../util/units.js';
import type { Output } from './output.js';

export interface ByteProgress {
  /** A phase without byte counts ("Resolving hf:org/name@main"). */
  status(text: string): void;
  /** Bytes so far of the total. */
  bytes(done: number, total: number): void;
  stop(): void;
}

const WIDTH = 24;

/** Rate over the last few seconds, so a stall shows at once instead of being averaged away. */
class Rate {
  private samples: Array<[number, number]> = [];
  add(t: number, done: number): number {
    this.samples.push([t, done]);
    while (this.samples.length > 2 && t - (this.samples[0] as [number, number])[0] > 3000) this.samples.shift();
    const [t0, d0] = this.samples[0] as [number, number];
    return t > t0 ? ((done - d0) * 1000) / (t - t0) : 0;
  }
}

function eta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

export function progressLine(label: string, done: number, total: number, rate: number, bar: boolean): string {
  const frac = total > 0 ? Math.min(done / total, 1) : 0;
  const filled = Math.round(frac * WIDTH);
  const parts = [
    label,
    ...(bar ? [`[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}]`] : []),
    `${Math.floor(frac * 100)}%`,
    `${formatBytes(done)} / ${formatBytes(total)}`,
    `${formatBytes(rate)}/s`,
    `ETA ${rate > 0 ? eta((total - done) / rate) : '--'}`,
  ];
  return parts.join('  ');
}

/**
 * Download progress on stderr: on a terminal one redrawn line with a bar, bytes, rate and ETA (at most ten
 * redraws a second); elsewhere nothing, unless `force` (--progress), which prints a plain line every two seconds.
 */
export function startByteProgress(out: Output, options: { force?: boolean; label?: string; now?: () => number } = {}): ByteProgress {
  const tty = out.interactive && !out.json;
  if (!tty && !options.force) return { status() {}, bytes() {}, stop() {} };
  const now = options.now ?? Date.now;
  const rate = new Rate();
  let label = options.label ?? 'Downloading';
  let last = 0;
  let drawn = false;
  const draw = (line: string): void => {
    if (tty) {
      out.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns || 100) - 1)}`);
      drawn = true;
    } else out.stderr.write(`${line}\n`);
  };
  return {
    status(text) {
      label = text;
      draw(text);
    },
    bytes(done, total) {
      const t = now();
      const r = rate.add(t, done);
      const finished = done >= total;
      if (t - last < (tty ? 100 : 2000) && !finished) return;
      if (finished && !tty && last === -1) return;
      last = finished ? -1 : t;
      draw(progressLine(label, done, total, r, tty));
    },
    stop() {
      if (tty && drawn) out.stderr.write('\r\x1b[2K');
    },
  };
}
