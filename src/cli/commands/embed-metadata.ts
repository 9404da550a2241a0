import { embedMetadata } from '../../embed-metadata/embed-metadata.js';
import { formatBytes } from '../../util/units.js';
import { keyValues, openRegistry, type CliContext } from '../context.js';
import { printable } from '../render/table.js';

export async function run([model = ''], options: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const { out } = ctx;
  const str = (key: string): string | undefined => (options[key] === undefined ? undefined : String(options[key]));
  const features = str('features')?.split(',').map((f) => f.trim()).filter(Boolean);
  const result = await embedMetadata({
    model,
    registry: openRegistry(ctx),
    ...(str('task') ? { task: str('task') as string } : {}),
    ...(str('config') ? { config: str('config') as string } : {}),
    ...(str('processor') ? { processor: str('processor') as string } : {}),
    ...(str('fromDir') ? { fromDir: str('fromDir') as string } : {}),
    ...(features ? { features } : {}),
    set: keyValues('--set', options.set),
    ...(str('out') ? { out: str('out') as string } : {}),
    ...(str('version') ? { version: str('version') as string } : {}),
    ...(options.verify === true ? { verify: true } : {}),
    signal: ctx.signal,
  });
  if (result.task) out.note(`task: ${result.task.task} (${result.task.reason})`);
  else out.warn('no task detected: pass --task (predict will need one)');
  out.result(result, () => {
    const { c } = out;
    const target = result.manifest ? `${result.manifest.name}:${result.manifest.version}` : (result.output ?? result.input);
    const lines = [`${c.green('Embedded')} metadata 2.0 into ${c.bold(printable(target))} (${Object.keys(result.written).length} properties, ${formatBytes(result.totalBytes)})`];
    for (const [key, bytes] of Object.entries(result.written)) lines.push(`  ${key.padEnd(22)} ${formatBytes(bytes)}`);
    if (result.sources.length > 0) lines.push(`from: ${result.sources.map(printable).join(', ')}`);
    if (result.parent) lines.push(`new version of ${result.parent}${result.output ? `; copy written to ${printable(result.output)}` : ''}`);
    return lines.join('\n');
  });
  return 0;
}
