import type { Output } from './output.js';
import { formatBytes } from '../../util/units.js';

export interface Progress {
  update(text: string): void;
  bytes(label: string, done: number, total: number): void;
  succeed(text?: string): void;
  stop(): void;
}

const silent: Progress = { update() {}, bytes() {}, succeed() {}, stop() {} };

/**
 * A spinner on stderr for a person at a terminal, and nothing otherwise (CI logs, pipes, --json). Updates are
 * throttled so that a fast copy loop never spends its time redrawing.
 */
export async function startProgress(out: Output, text: string): Promise<Progress> {
  if (!out.interactive || out.json) return silent;
  const { default: ora } = await import('ora');
  const spinner = ora({ text, stream: out.stderr, color: 'cyan' }).start();
  const started = Date.now();
  let last = 0;
  return {
    update(t) {
      spinner.text = t;
    },
    bytes(label, done, total) {
      const now = Date.now();
      if (now - last < 80 && done < total) return;
      last = now;
      const seconds = Math.max((now - started) / 1000, 1e-3);
      const pct = total > 0 ? Math.floor((done / total) * 100) : 100;
      spinner.text = `${label} ${formatBytes(done)} / ${formatBytes(total)} (${pct}%, ${formatBytes(done / seconds)}/s)`;
    },
    succeed(t) {
      if (t) spinner.succeed(t);
      else spinner.stop();
    },
    stop() {
      spinner.stop();
    },
  };
}
