import { join } from 'node:path';
import { FAMILY_CONVERTER } from '../../convert/families.js';
import { checkFamilies } from '../../convert/run.js';
import { setupPython, type SetupEvent } from '../../convert/setup.js';
import { ModelctlError } from '../../errors.js';
import { openRegistry, type CliContext } from '../context.js';
import { startProgress } from '../render/progress.js';
import { renderTable } from '../render/table.js';
import type { SetupFlags } from '../specs/setup.js';

export async function run([what = '']: string[], options: SetupFlags, ctx: CliContext): Promise<number> {
  const { out } = ctx;
  if (what !== 'python')
    throw new ModelctlError('USAGE', `unknown setup target "${what}"`, { hint: 'modelctl setup python [--with FAMILIES] [--check]' });
  const { families, python } = options;
  const root = join(openRegistry(ctx).home, 'python');
  if (options.check) {
    const checks = await checkFamilies({ root, env: ctx.env, families, signal: ctx.signal, ...(python ? { python } : {}) });
    out.result({ root, families: checks }, () =>
      renderTable(
        out.c,
        ['family', 'converter', 'usable', 'versions', 'python'],
        checks.map((f) => [
          f.family,
          FAMILY_CONVERTER[f.family],
          f.usable ? out.c.green('yes') : out.c.red('no'),
          f.usable
            ? Object.entries(f.versions)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')
            : (f.error ?? ''),
          `${f.python} (${f.source})`,
        ]),
      ),
    );
    for (const f of checks.filter((x) => !x.usable)) out.note(`${f.family}: run \`modelctl setup python --with ${f.family}\``);
    return checks.every((f) => f.usable) ? 0 : 1;
  }
  const progress = await startProgress(out, 'Setting up the Python converters');
  const onProgress = (e: SetupEvent): void => {
    if (e.type === 'create-venv') out.note(`creating ${e.path} with ${e.python}`);
    else if (e.type === 'install') {
      progress.update(`Installing ${e.family} converters (pip)`);
      if (!out.interactive) out.note(`installing ${e.requirements}`);
    } else if (e.type === 'pip') {
      if (/^(Collecting|Installing|Successfully)/.test(e.line)) progress.update(`${e.family}: ${e.line.slice(0, 100)}`);
      out.debug(`  ${e.line}`);
    } else if (e.type === 'ready') out.note(`${e.family}: ready in ${e.seconds.toFixed(1)} s (${e.env})`);
    else out.note(`${e.family}: up to date (${e.env})`);
  };
  let result;
  try {
    result = await setupPython({
      root,
      families,
      env: ctx.env,
      onProgress,
      signal: ctx.signal,
      force: options.force === true,
      ...(python ? { python } : {}),
    });
  } finally {
    progress.stop();
  }
  out.result({ root, ...result }, () =>
    renderTable(
      out.c,
      ['family', 'environment', 'state'],
      result.families.map((f) => [f.family, f.env, f.installed ? `installed in ${f.seconds.toFixed(1)} s` : 'up to date']),
    ),
  );
  return 0;
}
