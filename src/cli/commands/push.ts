import { ModelctlError } from '../../errors.js';
import { formatBytes } from '../../util/units.js';
import { openRegistry, type CliContext } from '../context.js';
import { credentialsFrom } from '../registry-login.js';
import { startByteProgress } from '../render/progress-bar.js';
import type { PushFlags } from '../specs/push.js';

/** The remotes push speaks to, by URL scheme. */
const SCHEMES = ['oci://'];

export async function run([ref = '', target = '']: string[], options: PushFlags, ctx: CliContext): Promise<number> {
  const { out } = ctx;
  if (!/^oci:\/\//i.test(target)) {
    throw new ModelctlError('USAGE', `cannot push to ${JSON.stringify(target)}: push knows ${SCHEMES.join(', ')}`, {
      hint: 'e.g. modelctl push NAME:VERSION oci://HOST[:PORT]/REPO:TAG',
    });
  }
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
