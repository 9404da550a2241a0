import { exportModel, type ExportEvent } from '../../export/export.js';
import { openRegistry, type CliContext } from '../context.js';
import { startProgress } from '../render/progress.js';
import { renderFields } from '../render/table.js';
import type { ExportFlags } from '../specs/export.js';

export async function run([source = '']: string[], options: ExportFlags, ctx: CliContext): Promise<number> {
  const { out } = ctx;
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
      framework: options.framework,
      atol: options.atol,
      validate: options.validate,
      ...(options.task ? { task: options.task } : {}),
      ...(options.opset !== undefined ? { opset: options.opset } : {}),
      ...(options.optimize ? { optimize: options.optimize } : {}),
      ...(options.quantize ? { quantize: options.quantize } : {}),
      ...(options.sampleInput ? { sampleInput: options.sampleInput } : {}),
      ...(options.inputShapes ? { inputShapes: options.inputShapes } : {}),
      ...(options.modelClass ? { modelClass: options.modelClass } : {}),
      ...(options.name ? { name: options.name } : {}),
      ...(options.version ? { version: options.version } : {}),
      ...(options.out ? { out: options.out } : {}),
      ...(options.python ? { python: options.python } : {}),
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
    const check = v
      ? `max abs diff ${v.max_abs_diff.toExponential(2)} <= atol ${v.atol} on ${v.samples} sample(s)${v.labels_equal === undefined ? '' : ', labels equal'}`
      : c.yellow('not validated (--no-validate)');
    return [
      `${c.green('Exported')} ${c.bold(`${r.manifest.name}:${r.manifest.version}`)} (${r.framework} -> ONNX)`,
      renderFields(c, [
        ['converter', `${r.converter.name} ${r.converter.version}`],
        [
          'opset',
          Object.entries(r.opset)
            .map(([d, n]) => `${d} ${n}`)
            .join(', '),
        ],
        ['task', r.task ?? 'none (predict runs raw tensors)'],
        ['validation', check],
        ['python', `${r.python.python} (${r.python.source})`],
        ['written to', r.out],
      ]),
    ].join('\n');
  });
  return 0;
}
