import type { RegisterEvent } from '../../registry/register.js';
import { formatBytes, formatCount } from '../../util/units.js';
import { openRegistry, type CliContext } from '../context.js';
import { startProgress } from '../render/progress.js';
import type { RegisterFlags } from '../specs/register.js';

export async function run([path = '']: string[], options: RegisterFlags, ctx: CliContext): Promise<number> {
  const { out } = ctx;
  const registry = openRegistry(ctx);
  const progress = await startProgress(out, `Inspecting ${path}`);
  const onProgress = (e: RegisterEvent): void => {
    if (e.type === 'copy')
      progress.bytes(e.files > 1 ? `Copying ${e.file} (${e.index + 1}/${e.files})` : `Copying ${e.file}`, e.allBytes, e.allTotal);
    else if (e.type === 'waiting-for-lock') progress.update(`Waiting for another modelctl process (${e.holder ?? 'unknown'})`);
    else if (e.type === 'inspected') out.debug(`detected ${e.format}: ${e.files} file(s), ${formatBytes(e.bytes)}`);
  };
  let result;
  try {
    result = await registry.register({
      path,
      name: options.name,
      ...(options.version !== undefined ? { version: options.version } : {}),
      ...(options.task !== undefined ? { task: options.task } : {}),
      tags: options.tags,
      metrics: options.metrics,
      aliases: options.aliases ?? [],
      ...(options.description !== undefined ? { description: options.description } : {}),
      ...(options.license !== undefined ? { license: options.license } : {}),
      latest: options.latest,
      onProgress,
      signal: ctx.signal,
    });
  } finally {
    progress.stop();
  }
  for (const w of result.warnings) out.warn(w);
  const m = result.manifest;
  out.result(result, () => {
    const c = out.c;
    const params = typeof m.metadata.parameters === 'number' ? `, ${formatCount(m.metadata.parameters)} parameters` : '';
    if (result.upToDate) {
      const lines = [
        `${c.green('Up to date')} ${c.bold(`${m.name}:${m.version}`)} holds the same content (${m.files.length} file${m.files.length === 1 ? '' : 's'}, ${formatBytes(m.size)}); no new version`,
      ];
      if (result.aliases.length > 0) lines.push(`aliases: ${result.aliases.join(', ')}`);
      return lines.join('\n');
    }
    const stored = result.newBlobs === 0 ? 'content already stored' : `${result.newBlobs} new blob${result.newBlobs === 1 ? '' : 's'}`;
    const lines = [
      `${c.green('Registered')} ${c.bold(`${m.name}:${m.version}`)} (${m.format}${m.task ? `, ${m.task}` : ''}, ${m.files.length} file${m.files.length === 1 ? '' : 's'}, ${formatBytes(m.size)}${params}; ${stored})`,
    ];
    if (result.aliases.length > 0) lines.push(`aliases: ${result.aliases.join(', ')}`);
    if (m.metadata.pickle === true) lines.push(c.yellow('note: pickle-based: loading it runs code; only use files you trust'));
    return lines.join('\n');
  });
  return 0;
}
