import { ModelctlError } from '../../errors.js';
import { isMlflowUri } from '../../mlflow/target.js';
import { formatBytes } from '../../util/units.js';
import { openRegistry, type CliContext } from '../context.js';
import { credentialsFrom } from '../registry-login.js';
import { startByteProgress } from '../render/progress-bar.js';
import type { PushFlags } from '../specs/push.js';

/** The schemes `push` speaks, each handled by one function below. */
const SCHEMES = ['oci://HOST[:PORT]/REPO[:TAG]', 'mlflow://HOST:PORT/NAME'];

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

async function pushOciTarget(ref: string, target: string, options: PushFlags, ctx: CliContext): Promise<number> {
  const { out } = ctx;
  if (options.chunkSize !== undefined && options.chunkSize < 1024 * 1024) {
    throw new ModelctlError('USAGE', `--chunk-size ${options.chunkSize} is too small`, { hint: 'use 1MiB or more' });
  }
  const credentials = await credentialsFrom(options);
  const registry = openRegistry(ctx);
  const { pushOci } = await import('../../oci/push.js');
  const progress = startByteProgress(out, { force: options.progress === true });
  let result: Awaited<ReturnType<typeof pushOci>>;
  try {
    result = await pushOci({
      registry,
      ref,
      target,
      ...(credentials ? { credentials } : {}),
      ...(options.insecure ? { insecure: true } : {}),
      ...(options.mountFrom ? { mountFrom: options.mountFrom } : {}),
      ...(options.chunkSize !== undefined ? { chunkSize: options.chunkSize } : {}),
      env: ctx.env,
      signal: ctx.signal,
      onProgress: (e) => {
        if (e.type === 'resolved') progress.status(`Pushing ${ref} to ${target}`);
        else if (e.type === 'bytes') progress.bytes(e.done, e.total);
        else progress.status('Storing the manifest');
      },
    });
  } finally {
    progress.stop();
  }
  out.result(result, () => {
    const count = (k: string): number => result.blobs.filter((b) => b.outcome === k).length;
    const m = result.manifest;
    const parts = [
      count('uploaded') ? `${count('uploaded')} uploaded (${formatBytes(result.uploadedBytes)})` : '',
      count('exists') ? `${count('exists')} already there` : '',
      count('mounted') ? `${count('mounted')} mounted` : '',
    ].filter(Boolean);
    return `${out.c.green('Pushed')} ${out.c.bold(`${m.name}:${m.version}`)} to ${result.reference} (${m.files.length} file${m.files.length === 1 ? '' : 's'}, ${formatBytes(m.size)}; ${parts.join(', ')})\ndigest: ${result.digest}`;
  });
  return 0;
}

export async function run([ref = '', target = '']: string[], options: PushFlags, ctx: CliContext): Promise<number> {
  if (/^oci:\/\//i.test(target)) return pushOciTarget(ref, target, options, ctx);
  if (isMlflowUri(target)) return pushMlflow(ref, target, options, ctx);
  throw new ModelctlError('USAGE', `cannot push to ${JSON.stringify(target)}: not a remote modelctl knows`, {
    hint: `give one of: ${SCHEMES.join(', ')}`,
  });
}
