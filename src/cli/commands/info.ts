import { modelArg } from '../../registry/model-arg.js';
import { describePath, embeddedOf } from '../../info/describe-path.js';
import { expandHome } from '../../util/paths.js';
import { formatBytes, formatCount } from '../../util/units.js';
import { openRegistry, type CliContext } from '../context.js';
import { renderEmbedded, short } from '../render/metadata.js';
import { printable, renderFields, renderTable } from '../render/table.js';
import type { Output } from '../render/output.js';
import type { InfoFlags } from '../specs/info.js';

function metadataBlock(out: Output, meta: Record<string, unknown>): string[] {
  const skip = new Set(['parameters', 'dtypes', 'pickle', 'metadataProps']);
  const rows = Object.entries(meta)
    .filter(([k]) => !skip.has(k))
    .map(([k, v]): [string, string] => [k, short(v)]);
  return rows.length ? ['', out.c.bold('Metadata'), renderFields(out.c, rows)] : [];
}

function counts(meta: { parameters?: unknown; dtypes?: unknown }): Array<[string, string | undefined]> {
  const p = meta.parameters;
  return [
    ['parameters', typeof p === 'number' ? (p >= 1000 ? `${formatCount(p)} (${p})` : String(p)) : undefined],
    [
      'dtypes',
      meta.dtypes
        ? Object.entries(meta.dtypes as Record<string, number>)
            .map(([k, v]) => `${k} ${formatCount(v)}`)
            .join(', ')
        : undefined,
    ],
  ];
}

/** info REF: a registered version. info PATH: a model file or folder on disk, read without registering it. */
export async function run([ref = '']: string[], _options: InfoFlags, ctx: CliContext): Promise<number> {
  const { out } = ctx;
  const parsed = await modelArg(ref);
  if (parsed.kind === 'path') {
    const d = await describePath(expandHome(parsed.path));
    for (const w of d.warnings) out.warn(w);
    out.result(d, () => {
      const { c } = out;
      const fields: Array<[string, string | undefined]> = [
        ['path', printable(d.path)],
        ['format', d.format],
        ['task', d.task ? `${d.task}${d.taskReason ? ` (${printable(d.taskReason)})` : ''}` : '-'],
        ['size', `${formatBytes(d.files.reduce((n, f) => n + f.size, 0))} in ${d.files.length} file${d.files.length === 1 ? '' : 's'}`],
        ...counts(d),
        ['pickle', d.pickle ? c.yellow('yes: loading it runs code') : undefined],
      ];
      const files = renderTable(
        c,
        ['FILE', 'SIZE'],
        d.files.map((f) => [printable(f.path), formatBytes(f.size)]),
      );
      const embedded = renderEmbedded(c, d);
      return [
        renderFields(c, fields),
        '',
        c.bold('Files'),
        files,
        ...metadataBlock(out, d.metadata),
        ...(embedded ? ['', embedded] : []),
      ].join('\n');
    });
    return 0;
  }
  const info = await openRegistry(ctx).info(ref);
  const embedded = embeddedOf(info.manifest.metadata.metadataProps);
  out.result({ ...info, ...embedded }, () => {
    const { c } = out;
    const m = info.manifest;
    const lineage = m.lineage;
    const fields: Array<[string, string | undefined]> = [
      ['name', m.name],
      ['version', m.version],
      ['aliases', info.aliases.join(', ') || '-'],
      ['format', m.format],
      ['task', m.task ?? '-'],
      ['size', `${formatBytes(m.size)} in ${m.files.length} file${m.files.length === 1 ? '' : 's'}`],
      ...counts(m.metadata),
      ['pickle', m.metadata.pickle === true ? c.yellow('yes: loading it runs code') : undefined],
      ['description', m.description === undefined ? undefined : printable(m.description)],
      ['license', m.license === undefined ? undefined : printable(m.license)],
      [
        'tags',
        printable(
          Object.entries(m.tags)
            .map(([k, v]) => `${k}=${v}`)
            .join(', '),
        ),
      ],
      [
        'metrics',
        Object.entries(m.metrics)
          .map(([k, v]) => `${k}=${v}`)
          .join(', '),
      ],
      ['created', m.createdAt],
      ['last used', info.lastUsed ?? 'never'],
      [
        'lineage',
        `${lineage.operation}${lineage.parent ? ` from ${lineage.parent}` : ''}${lineage.source ? ` ${short(lineage.source)}` : ''} by ${lineage.tool}`,
      ],
      ['digest', m.digest],
    ];
    const files = renderTable(
      c,
      ['FILE', 'SIZE', 'SHA256'],
      m.files.map((f) => [printable(f.path), formatBytes(f.size), f.sha256.slice(0, 16)]),
    );
    const block = renderEmbedded(c, embedded);
    return [renderFields(c, fields), '', c.bold('Files'), files, ...metadataBlock(out, m.metadata), ...(block ? ['', block] : [])].join(
      '\n',
    );
  });
  return 0;
}
