import { formatAgo, formatBytes } from '../../util/units.js';
import { openRegistry, type CliContext } from '../context.js';
import { printable, renderTable } from '../render/table.js';
import type { ListFlags } from '../specs/list.js';

export async function run(_args: string[], options: ListFlags, ctx: CliContext): Promise<number> {
  const { out } = ctx;
  const { entries, failures, storedSize } = await openRegistry(ctx).list({
    ...(options.name !== undefined ? { name: options.name } : {}),
    ...(options.task !== undefined ? { task: options.task } : {}),
    ...(options.format !== undefined ? { format: options.format } : {}),
    tags: options.tags ?? [],
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
  for (const f of failures) out.warn(`${f.name}:${f.version} skipped: ${f.error.message} (run \`modelctl validate\`)`);
  const size = entries.reduce((n, e) => n + e.size, 0);
  const total = { versions: entries.length, size, storedSize };
  out.result({ models: entries, unreadable: failures.map((f) => `${f.name}:${f.version}`), total }, () => {
    if (entries.length === 0) return out.c.dim('no models (add one with `modelctl register PATH --name NAME`)');
    const now = Date.now();
    // SIZE is what the version's files take; UNIQUE what only it holds (what removing it frees): identical
    // content is stored once, so SIZEs do not add up to the store's size.
    const table = renderTable(
      out.c,
      ['NAME', 'VERSION', 'ALIASES', 'FORMAT', 'TASK', 'SIZE', 'UNIQUE', 'LAST USED'],
      entries.map((e) => [
        e.name,
        e.version,
        e.aliases.join(',') || '-',
        printable(e.format),
        printable(e.task ?? '-'),
        formatBytes(e.size),
        formatBytes(e.uniqueSize),
        e.lastUsed ? formatAgo(e.lastUsed, now) : out.c.dim('never'),
      ]),
    );
    const shared = size > storedSize ? `; ${formatBytes(size - storedSize)} saved by storing identical content once` : '';
    return `${table}\n${out.c.dim(`${entries.length} version(s): ${formatBytes(size)} of files, ${formatBytes(storedSize)} stored${shared}`)}`;
  });
  return 0;
}
