import { ModelctlError } from '../../errors.js';
import { deployImage } from '../../deploy/image.js';
import { deployKserve } from '../../deploy/kserve.js';
import { deployTriton } from '../../deploy/triton.js';
import { openRegistry, type CliContext } from '../context.js';
import { deployTarget, type DeployFlags } from '../specs/deploy.js';

/** Options that only one target takes: given to another, they are a usage error, not silently ignored. */
const ONLY_FOR: Record<string, { flag: string; target: string }> = {
  maxBatchSize: { flag: '--max-batch-size', target: 'triton' },
  storageUri: { flag: '--storage-uri', target: 'kserve' },
  image: { flag: '--image', target: 'kserve' },
  tag: { flag: '--tag', target: 'image' },
  base: { flag: '--base', target: 'image' },
};

async function image(refs: string[], options: DeployFlags, ctx: CliContext): Promise<number> {
  if (refs.length !== 1) throw new ModelctlError('USAGE', `deploy image takes one model reference, got ${refs.length}`);
  if (options.out === undefined) throw new ModelctlError('USAGE', 'deploy image needs --out FILE', { hint: 'e.g. --out image.tar' });
  const result = await deployImage(openRegistry(ctx), refs[0] as string, {
    out: options.out,
    ...(options.tag !== undefined ? { tag: options.tag } : {}),
    ...(options.base !== undefined ? { base: options.base } : {}),
    force: options.force === true,
    signal: ctx.signal,
  });
  ctx.out.result(
    result,
    () => `${ctx.out.c.bold(result.ref)} ${result.outcome}: ${result.out} (tag ${result.tag}, ${result.platform}, ${result.digest})`,
  );
  return 0;
}

export async function run([word = '', ...refs]: string[], options: DeployFlags, ctx: CliContext): Promise<number> {
  const { out } = ctx;
  const target = deployTarget(word);
  for (const [key, only] of Object.entries(ONLY_FOR)) {
    if (options[key as keyof DeployFlags] !== undefined && only.target !== target)
      throw new ModelctlError('USAGE', `${only.flag} is for deploy ${only.target}, not deploy ${target}`);
  }
  if (target === 'image') return image(refs, options, ctx);
  const registry = openRegistry(ctx);
  if (target === 'triton') {
    if (options.out === undefined)
      throw new ModelctlError('USAGE', 'deploy triton needs --out DIR', { hint: 'the model repository folder Triton is started with' });
    const result = await deployTriton(registry, refs, {
      out: options.out,
      ...(options.maxBatchSize !== undefined ? { maxBatchSize: options.maxBatchSize } : {}),
      force: options.force === true,
      signal: ctx.signal,
    });
    for (const m of result.models)
      if (m.skippedOutputs.length > 0) out.warn(`${m.name}: outputs left out (not tensors): ${m.skippedOutputs.join(', ')}`);
    out.result(result, () =>
      result.models
        .map((m) => {
          const batching = m.maxBatchSize > 0 ? `max_batch_size ${m.maxBatchSize}` : 'no batching';
          return `${out.c.bold(m.name)} ${m.outcome}: ${m.dir} (${m.versions.map((v, i) => `${i + 1}: ${v}`).join(', ')}; ${batching})`;
        })
        .join('\n'),
    );
    return 0;
  }
  if (refs.length !== 1) throw new ModelctlError('USAGE', `deploy kserve takes one model reference, got ${refs.length}`);
  const result = await deployKserve(registry, refs[0] as string, {
    ...(options.storageUri !== undefined ? { storageUri: options.storageUri } : {}),
    ...(options.image !== undefined ? { image: options.image } : {}),
    ...(options.out !== undefined ? { out: options.out } : {}),
    force: options.force === true,
    signal: ctx.signal,
  });
  if (result.out === undefined) {
    // No --out: the manifest is the output (for `| kubectl apply -f -`); --json wraps it.
    out.result(result, () => result.yaml);
    return 0;
  }
  out.result(result, () => `${out.c.bold(result.name)} ${result.outcome}: ${result.out} (${result.ref}, ${result.mode})`);
  return 0;
}
