import { formatBytes } from '../../util/units.js';
import { openRegistry, type CliContext } from '../context.js';
import type { GcFlags } from '../specs/gc.js';

export async function run(_args: string[], options: GcFlags, ctx: CliContext): Promise<number> {
  const { out } = ctx;
  const result = await openRegistry(ctx).gc({
    ...(options.maxSize !== undefined ? { maxSize: options.maxSize } : {}),
    ...(options.maxModels !== undefined ? { maxModels: options.maxModels } : {}),
    ...(options.olderThanMs !== undefined ? { olderThanMs: options.olderThanMs } : {}),
    ...(options.graceMs !== undefined ? { graceMs: options.graceMs } : {}),
    keepAliased: options.keepAliased,
    dryRun: options.dryRun === true,
    lock: { signal: ctx.signal, onWait: () => out.note('waiting for another modelctl process to finish...') },
  });
  for (const u of result.unreadable) out.warn(`${u}: unreadable manifest; its blobs were kept (run \`modelctl validate\`)`);
  out.result(result, () => {
    const { c } = out;
    const verb = result.dryRun ? 'would evict' : 'evicted';
    const lines = result.evicted.map(
      (e) =>
        `${c.red(verb)} ${e.name}:${e.version} (${formatBytes(e.size)}, ${e.reason}, ${e.lastUsed ? `last used ${e.lastUsed}` : `never used, created ${e.createdAt}`})`,
    );
    const freed = result.dryRun ? 'would free' : 'freed';
    const leftovers = [
      result.viewsRemoved > 0 ? `${result.viewsRemoved} view(s)` : '',
      result.recordsRemoved > 0 ? `${result.recordsRemoved} record(s) of removed versions` : '',
      result.emptyModelsRemoved.length > 0 ? `${result.emptyModelsRemoved.length} empty model folder(s)` : '',
    ].filter(Boolean);
    lines.push(
      `${freed} ${formatBytes(result.bytesFreed)}: ${result.blobsRemoved} blob(s), ${result.tmpRemoved} temporary file(s) or folder(s)` +
        `${leftovers.map((l) => `, ${l}`).join('')}; ${result.versionsLeft} version(s) left, ${formatBytes(result.bytesLeft)}`,
    );
    for (const a of result.aliasesFixed) lines.push(`${c.yellow('fixed')} ${a}: it named a version that no longer exists`);
    return lines.join('\n');
  });
  return 0;
}
