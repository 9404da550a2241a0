import { formatBytes, formatCount } from '../../util/units.js';
import { openRegistry, type CliContext } from '../context.js';
import { printable, renderFields, renderTable } from '../render/table.js';

function short(value: unknown): string {
  const text = printable(typeof value === 'string' ? value : JSON.stringify(value));
  return text.length > 100 ? `${text.slice(0, 97)}...` : text;
}

export async function run([ref = ''], _options: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const { out } = ctx;
  const info = await openRegistry(ctx).info(ref);
  out.result(info, () => {
    const { c } = out;
    const m = info.manifest;
    const meta = m.metadata;
    const lineage = m.lineage;
    const fields: Array<[string, string | undefined]> = [
      ['name', m.name],
      ['version', m.version],
      ['aliases', info.aliases.join(', ') || '-'],
      ['format', m.format],
      ['task', m.task ?? '-'],
      ['size', `${formatBytes(m.size)} in ${m.files.length} file${m.files.length === 1 ? '' : 's'}`],
      ['parameters', typeof meta.parameters === 'number' ? (meta.parameters >= 1000 ? `${formatCount(meta.parameters)} (${meta.parameters})` : String(meta.parameters)) : undefined],
      ['dtypes', meta.dtypes ? Object.entries(meta.dtypes as Record<string, number>).map(([k, v]) => `${k} ${formatCount(v)}`).join(', ') : undefined],
      ['pickle', meta.pickle === true ? c.yellow('yes: loading it runs code') : undefined],
      ['description', m.description === undefined ? undefined : printable(m.description)],
      ['license', m.license === undefined ? undefined : printable(m.license)],
      ['tags', printable(Object.entries(m.tags).map(([k, v]) => `${k}=${v}`).join(', '))],
      ['metrics', Object.entries(m.metrics).map(([k, v]) => `${k}=${v}`).join(', ')],
      ['created', m.createdAt],
      ['last used', info.lastUsed ?? 'never'],
      ['lineage', `${lineage.operation}${lineage.parent ? ` from ${lineage.parent}` : ''}${lineage.source ? ` ${short(lineage.source)}` : ''} by ${lineage.tool}`],
      ['digest', m.digest],
    ];
    const skip = new Set(['parameters', 'dtypes', 'pickle']);
    const metaRows = Object.entries(meta).filter(([k]) => !skip.has(k)).map(([k, v]): [string, string] => [k, short(v)]);
    const files = renderTable(c, ['FILE', 'SIZE', 'SHA256'], m.files.map((f) => [printable(f.path), formatBytes(f.size), f.sha256.slice(0, 16)]));
    return [renderFields(c, fields), '', c.bold('Files'), files, ...(metaRows.length ? ['', c.bold('Metadata'), renderFields(c, metaRows)] : [])].join('\n');
  });
  return 0;
}
