import { ModelctlError } from '../../errors.js';
import { openRegistry, type CliContext } from '../context.js';
import type { SetFlags } from '../specs/set.js';

export async function run([ref = '']: string[], options: SetFlags, ctx: CliContext): Promise<number> {
  const { out } = ctx;
  if (options.description !== undefined && options.clearDescription) {
    throw new ModelctlError('USAGE', '--description and --clear-description were both given', { hint: 'give one' });
  }
  const result = await openRegistry(ctx).edit(ref, {
    tags: options.tags,
    metrics: options.metrics,
    ...(options.untag ? { untag: options.untag } : {}),
    ...(options.unmetric ? { unmetric: options.unmetric } : {}),
    ...(options.description !== undefined ? { description: options.description } : {}),
    ...(options.clearDescription ? { description: null } : {}),
  });
  const m = result.manifest;
  out.result(result, () => {
    const { c } = out;
    const head = `${result.changed ? c.green('Updated') : c.green('Unchanged')} ${c.bold(`${m.name}:${m.version}`)}`;
    const pairs = (r: Record<string, unknown>): string =>
      Object.entries(r)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(', ') || '-';
    const lines = [head, `tags: ${pairs(m.tags)}`, `metrics: ${pairs(m.metrics)}`];
    if (m.description !== undefined) lines.push(`description: ${m.description}`);
    if (result.changed) lines.push(c.dim(`edit ${m.history?.length ?? 0}; the earlier manifest was ${result.previousDigest}`));
    return lines.join('\n');
  });
  return 0;
}
