import { formatBytes } from '../../util/units.js';
import { openRegistry, type CliContext } from '../context.js';
import { startProgress } from '../render/progress.js';
import type { ValidateFlags } from '../specs/validate.js';

export async function run([ref]: string[], options: ValidateFlags, ctx: CliContext): Promise<number> {
  const { out } = ctx;
  const progress = await startProgress(out, 'Checking the registry');
  let result;
  try {
    result = await openRegistry(ctx).validate({
      ...(ref ? { ref } : {}),
      strict: options.strict === true,
      signal: ctx.signal,
      onProgress: (e) => progress.bytes(`Hashing blobs (${e.done}/${e.total})`, e.bytes, e.totalBytes),
    });
  } finally {
    progress.stop();
  }
  out.result(result, () => {
    const { c } = out;
    const g = result.garbage;
    const lines = result.problems.map((p) => `${c.red('problem')} ${p.ref}: ${p.message}`);
    if (g.orphanBlobs > 0)
      lines.push(
        `${c.yellow('garbage')} ${g.orphanBlobs} unreferenced blob(s), ${formatBytes(g.orphanBytes)}: \`modelctl gc\` removes them`,
      );
    const gc = '`modelctl gc` removes';
    const tmp = `${g.staleTmpFiles} stale temporary file(s) or folder(s), ${formatBytes(g.staleTmpBytes)}`;
    if (g.staleTmpFiles > 0) lines.push(`${c.yellow('garbage')} ${tmp}: ${gc} them`);
    if (g.staleViews > 0) lines.push(`${c.yellow('garbage')} ${g.staleViews} view(s) of removed versions: ${gc} them`);
    if (g.staleRecords > 0)
      lines.push(`${c.yellow('garbage')} ${g.staleRecords} usage record(s) or baseline(s) of removed versions: ${gc} them`);
    for (const name of g.emptyModels) lines.push(`${c.yellow('garbage')} the folder of model ${name} holds no version: ${gc} it`);
    const summary = `${result.versions} version(s), ${result.blobs} blob(s), ${formatBytes(result.bytes)} checked`;
    if (result.ok) lines.push(`${c.green('ok')} ${summary}`);
    else if (result.problems.length > 0) lines.push(`${c.red('failed')} ${summary}: ${result.problems.length} problem(s)`);
    else {
      // Nothing is damaged: --strict fails on the garbage listed above, and says so.
      const items = [
        g.orphanBlobs > 0 ? `${g.orphanBlobs} unreferenced blob(s)` : '',
        g.staleTmpFiles > 0 ? `${g.staleTmpFiles} stale temporary file(s) or folder(s)` : '',
        g.staleViews > 0 ? `${g.staleViews} stale view(s)` : '',
        g.staleRecords > 0 ? `${g.staleRecords} stale record(s)` : '',
        g.emptyModels.length > 0 ? `${g.emptyModels.length} empty model folder(s)` : '',
      ].filter(Boolean);
      lines.push(`${c.red('failed')} ${summary}: no damage, but --strict fails on garbage (${items.join(', ')}): run \`modelctl gc\``);
    }
    return lines.join('\n');
  });
  return result.ok ? 0 : 1;
}
