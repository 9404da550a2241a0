import { createInterface } from 'node:readline/promises';
import { ModelctlError } from '../../errors.js';
import { formatBytes } from '../../util/units.js';
import { openRegistry, type CliContext } from '../context.js';
import type { RmFlags } from '../specs/rm.js';

async function confirm(ctx: CliContext, question: string): Promise<boolean> {
  if (!process.stdin.isTTY) {
    throw new ModelctlError('USAGE', 'refusing to remove without confirmation', {
      hint: 'pass --yes (stdin is not a terminal, so modelctl cannot ask)',
    });
  }
  const rl = createInterface({ input: process.stdin, output: ctx.out.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `, { signal: ctx.signal })).trim());
  } catch (err) {
    if ((err as { name?: string }).name === 'AbortError' || ctx.signal.aborted)
      throw new ModelctlError('INTERRUPTED', 'interrupted: nothing removed');
    throw err;
  } finally {
    rl.close();
  }
}

export async function run([ref = '']: string[], options: RmFlags, ctx: CliContext): Promise<number> {
  const { out } = ctx;
  const registry = openRegistry(ctx);
  const allVersions = options.allVersions === true;
  const plan = await registry.planRemove(ref, { allVersions });
  if (!options.yes) {
    const what = plan.map((m) => `${m.name}:${m.version}`).join(', ');
    if (!(await confirm(ctx, `Remove ${what} (${formatBytes(plan.reduce((n, m) => n + (m.size ?? 0), 0))})?`))) {
      out.note('nothing removed');
      return 1;
    }
  }
  const result = await registry.remove(ref, { allVersions, expect: plan.map((m) => m.version) });
  out.result(result, () => {
    const lines = result.removed.map((r) => `${out.c.red('Removed')} ${r.name}:${r.version}`);
    if (result.aliasesRemoved.length > 0) lines.push(`aliases removed: ${result.aliasesRemoved.join(', ')}`);
    lines.push(
      `freed ${formatBytes(result.bytesFreed)} (${result.blobsRemoved} blob${result.blobsRemoved === 1 ? '' : 's'}; blobs other versions use are kept)`,
    );
    return lines.join('\n');
  });
  return 0;
}
