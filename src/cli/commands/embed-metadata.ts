import { embedMetadata } from '../../embed-metadata/embed-metadata.js';
import { formatBytes } from '../../util/units.js';
import { openRegistry, type CliContext } from '../context.js';
import { printable } from '../render/table.js';
import type { EmbedMetadataFlags } from '../specs/embed-metadata.js';

export async function run([model = '']: string[], options: EmbedMetadataFlags, ctx: CliContext): Promise<number> {
  const { out } = ctx;
  const result = await embedMetadata({
    model,
    registry: openRegistry(ctx),
    ...(options.task ? { task: options.task } : {}),
    ...(options.config ? { config: options.config } : {}),
    ...(options.processor ? { processor: options.processor } : {}),
    ...(options.fromDir ? { fromDir: options.fromDir } : {}),
    ...(options.features ? { features: options.features } : {}),
    set: options.set,
    ...(options.out ? { out: options.out } : {}),
    ...(options.version ? { version: options.version } : {}),
    ...(options.verify === true ? { verify: true } : {}),
    signal: ctx.signal,
  });
  if (result.task) out.note(`task: ${result.task.task} (${result.task.reason})`);
  else out.warn('no task detected: pass --task (predict will need one)');
  out.result(result, () => {
    const { c } = out;
    const target = result.manifest ? `${result.manifest.name}:${result.manifest.version}` : (result.output ?? result.input);
    const lines = [
      `${c.green('Embedded')} metadata 2.0 into ${c.bold(printable(target))} (${Object.keys(result.written).length} properties, ${formatBytes(result.totalBytes)})`,
    ];
    for (const [key, bytes] of Object.entries(result.written)) lines.push(`  ${key.padEnd(22)} ${formatBytes(bytes)}`);
    if (result.sources.length > 0) lines.push(`from: ${result.sources.map(printable).join(', ')}`);
    if (result.parent) lines.push(`new version of ${result.parent}${result.output ? `; copy written to ${printable(result.output)}` : ''}`);
    return lines.join('\n');
  });
  return 0;
}
