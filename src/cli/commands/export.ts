import type { Framework } from '../../convert/families.js';
import { ModelctlError } from '../../errors.js';
import { exportModel, type ExportEvent } from '../../export/export.js';
import { integer, openRegistry, type CliContext } from '../context.js';
import { startProgress } from '../render/progress.js';
import { renderFields } from '../render/table.js';

export async function run([source = ''], options: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const { out } = ctx;
  const str = (key: string): string | undefined => (options[key] === undefined ? undefined : String(options[key]));
  const atol = Number(str('atol') ?? '1e-4');
  if (!Number.isFinite(atol) || atol < 0) throw new ModelctlError('USAGE', `--atol takes a number of at least 0, got "${str('atol')}"`);
  const opset = integer('--opset', options.opset, 1);
  const progress = await startProgress(out, `Exporting ${source}`);
  const onProgress = (e: ExportEvent): void => {
    if (e.type === 'source') out.debug(`${e.format} model: framework ${e.framework}, converter family ${e.family} (${e.path})`);
    else if (e.type === 'python') out.debug(`python: ${e.python} (${e.source})`);
    else if (e.type === 'converter') {
      progress.update(e.message);
      out.debug(`[${e.stage}] ${e.message}`);
    } else if (e.type === 'warning') out.warn(e.message);
    else progress.update(`Registering ${e.name}`);
  };
  let result;
  try {
    result = await exportModel({
      source,
      registry: openRegistry(ctx),
      framework: (str('framework') ?? 'auto') as Framework | 'auto',
      atol,
      validate: options.validate !== false,
      ...(str('task') ? { task: str('task') as string } : {}),
      ...(opset !== undefined ? { opset } : {}),
      ...(str('optimize') ? { optimize: str('optimize') as 'O1' } : {}),
      ...(str('quantize') ? { quantize: str('quantize') as 'int8' } : {}),
      ...(str('sampleInput') ? { sampleInput: str('sampleInput') as string } : {}),
      ...(Array.isArray(options.inputShape) ? { inputShapes: options.inputShape as string[] } : {}),
      ...(str('modelClass') ? { modelClass: str('modelClass') as string } : {}),
      ...(str('name') ? { name: str('name') as string } : {}),
      ...(str('version') ? { version: str('version') as string } : {}),
      ...(str('out') ? { out: str('out') as string } : {}),
      ...(str('python') ? { python: str('python') as string } : {}),
      trustRemoteCode: options.trustRemoteCode === true,
      ...(options.verify === true ? { verify: true } : {}),
      env: ctx.env,
      onProgress,
      // The converter's own log is noise unless asked for; it is what to read when a conversion fails.
      onLog: (line) => out.debug(`  ${line}`),
      signal: ctx.signal,
    });
  } finally {
    progress.stop();
  }
  const r = result;
  out.result(r, () => {
    const { c } = out;
    const v = r.validation;
    const check = v ? `max abs diff ${v.max_abs_diff.toExponential(2)} <= atol ${v.atol} on ${v.samples} sample(s)${v.labels_equal === undefined ? '' : ', labels equal'}` : c.yellow('not validated (--no-validate)');
    return [
      `${c.green('Exported')} ${c.bold(`${r.manifest.name}:${r.manifest.version}`)} (${r.framework} -> ONNX)`,
      renderFields(c, [
        ['converter', `${r.converter.name} ${r.converter.version}`],
        ['opset', Object.entries(r.opset).map(([d, n]) => `${d} ${n}`).join(', ')],
        ['task', r.task ?? 'none (predict runs raw tensors)'],
        ['validation', check],
        ['python', `${r.python.python} (${r.python.source})`],
        ['written to', r.out],
      ]),
    ].join('\n');
  });
  return 0;
}
