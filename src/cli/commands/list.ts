import { formatAgo, formatBytes } from '../../util/units.js';
import { openRegistry, type CliContext } from '../context.js';
import { printable, renderTable } from '../render/table.js';
import type { ListFlags } from '../specs/list.js';

export async function run(_args: string[], options: ListFlags, ctx: CliContext): Promise<number> {
  const { out } = ctx;
  const { entries, failures } = await openRegistry(ctx).list({
    ...(options.name !== undefined ? { name: options.name } : {}),
    ...(options.task !== undefined ? { task: options.task } : {}),
    ...(options.format !== undefined ? { format: options.format } : {}),
    tags: options.tags ?? [],
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
  for (const f of failures) out.warn(`${f.name}:${f.version} skipped: ${f.error.message} (run \`modelctl validate\`)`);
  out.result({ models: entries, unreadable: failures.map((f) => `${f.name}:${f.version}`) }, () => {
    if (entries.length === 0) return out.c.dim('no models (add one with `modelctl register PATH --name NAME`)');
    const now = Date.now();
    return renderTable(
      out.c,
      ['NAME', 'VERSION', 'ALIASES', 'FORMAT', 'TASK', 'SIZE', 'LAST USED'],
      entries.map((e) => [
        e.name,
        e.version,
        e.aliases.join(',') || '-',
        printable(e.format),
        printable(e.task ?? '-'),
        formatBytes(e.size),
        e.lastUsed ? formatAgo(e.lastUsed, now) : out.c.dim('never'),
      ]),
    );
  });
  return 0;
}
