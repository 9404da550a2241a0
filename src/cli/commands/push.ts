import { ModelctlError } from '../../errors.js';
import { isMlflowUri } from '../../mlflow/target.js';
import { formatBytes } from '../../util/units.js';
import { openRegistry, type CliContext } from '../context.js';
import { startByteProgress } from '../render/progress-bar.js';
import type { PushFlags } from '../specs/push.js';

/** The schemes `push` speaks, each handled by one function below. */
const SCHEMES = ['mlflow://HOST:PORT/NAME'];

async function pushMlflow(ref: string, target: string, options: PushFlags, ctx: CliContext): Promise<number> {
  const { out } = ctx;
  const { pushToMlflow } = await import('../../mlflow/push.js');
  const progress = startByteProgress(out, { force: options.progress === true });
  let result: Awaited<ReturnType<typeof pushToMlflow>>;
  try {
    result = await pushToMlflow({
      registry: openRegistry(ctx),
      ref,
      target,
      ...(options.alias ? { aliases: options.alias } : {}),
      ...(options.experiment !== undefined ? { experiment: options.experiment } : {}),
      ...(options.insecure ? { insecure: true } : {}),
      env: ctx.env,
      signal: ctx.signal,
      onProgress: (e) => {
        if (e.type === 'uploading') progress.bytes(e.done, e.total);
        else progress.status('Registering the model version');
      },
    });
  } finally {
    progress.stop();
  }
  out.result(result, () => {
    const lines = [
      `${out.c.green('Pushed')} ${out.c.bold(result.ref)} to ${out.c.bold(result.uri)}: version ${result.version} of ${result.name} (${result.files} file${result.files === 1 ? '' : 's'}, ${formatBytes(result.bytes)}; run ${result.runId})`,
    ];
    if (result.aliases.length > 0) lines.push(`aliases: ${result.aliases.join(', ')}`);
    return lines.join('\n');
  });
  return 0;
}

export async function run([ref = '', target = '']: string[], options: PushFlags, ctx: CliContext): Promise<number> {
  if (isMlflowUri(target)) return pushMlflow(ref, target, options, ctx);
  throw new ModelctlError('USAGE', `cannot push to ${JSON.stringify(target)}: not a remote modelctl knows`, {
    hint: `give one of: ${SCHEMES.join(', ')}`,
  });
}
