import type { ChalkInstance } from 'chalk';
import type { EmbeddedMetadata } from '../../info/describe-path.js';
import { formatBytes } from '../../util/units.js';
import { printable, renderFields } from './table.js';

function short(value: unknown, max = 100): string {
  const text = printable(typeof value === 'string' ? value : (JSON.stringify(value) ?? ''));
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

/** The "Embedded metadata" block of info: the decoded hf_* properties, or why they could not be read. */
export function renderEmbedded(c: ChalkInstance, e: EmbeddedMetadata): string | undefined {
  if (e.embeddedError) return `${c.bold('Embedded metadata')}\n${c.red('invalid:')} ${printable(e.embeddedError.message)}`;
  const m = e.embedded;
  if (!m) return undefined;
  const config = m.modelConfig as { architectures?: unknown; model_type?: unknown } | undefined;
  const fields: Array<[string, string | undefined]> = [
    ['schema', printable(m.version)],
    ['task', m.task === undefined ? undefined : printable(m.task)],
    ['exported', m.exportTimestamp === undefined ? undefined : printable(m.exportTimestamp)],
    ['model config', config ? short(`${String(config.model_type ?? '?')} ${JSON.stringify(config.architectures ?? [])}`) : undefined],
    [
      'processor files',
      m.processorConfig
        ? Object.keys(m.processorConfig)
            .map((k) => printable(k))
            .join(', ')
        : undefined,
    ],
    ['features', m.featureConfig ? short(m.featureConfig) : undefined],
    ['checksum', m.checksum.ok ? c.green('ok') : c.red('mismatch')],
    ['stored', formatBytes(Object.values(m.sizes).reduce((a, b) => a + b, 0))],
    ...Object.entries(m.extra).map(([k, v]): [string, string] => [printable(k), short(v)]),
  ];
  return `${c.bold('Embedded metadata')}\n${renderFields(c, fields)}`;
}

export { short };
