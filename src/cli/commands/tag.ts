import { ModelctlError } from '../../errors.js';
import { openRegistry, type CliContext } from '../context.js';
import type { TagFlags } from '../specs/tag.js';

export async function run([ref = '', alias = '']: string[], options: TagFlags, ctx: CliContext): Promise<number> {
  const { out } = ctx;
  const registry = openRegistry(ctx);
  if (alias.includes('=')) {
    // Aliases name versions (production -> 1.2.0); tags are key=value labels on one version.
    throw new ModelctlError(
      'USAGE',
      `"${alias}" is a tag, not an alias: \`modelctl tag\` points aliases (such as production) at versions`,
      {
        hint: `set a tag with \`modelctl set ${ref} --tag ${alias}\` (remove one with --untag KEY)`,
      },
    );
  }
  if (options.remove) {
    if (/[:@]/.test(ref))
      throw new ModelctlError('USAGE', 'with --remove, name the model only', { hint: `e.g. modelctl tag my-model ${alias} --remove` });
    const result = await registry.untag(ref, alias);
    out.result(result, () => `Removed alias ${out.c.bold(`${result.name}@${result.alias}`)} (was ${result.version})`);
    return 0;
  }
  const result = await registry.tag(ref, alias);
  out.result(
    result,
    () => `${out.c.bold(`${result.name}@${result.alias}`)} -> ${result.version}${result.previous ? ` (was ${result.previous})` : ''}`,
  );
  return 0;
}
