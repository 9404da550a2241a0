import { ModelctlError } from '../../errors.js';
import { predict, resolveModel, type PredictResult } from '../../ops/predict.js';
import { parseDevice, type GraphOptimization } from '../../runtime/index.js';
import { fromJson, parseJsonText, readInputFile, type ParsedInput } from '../../tasks/inputs.js';
import { integer, openRegistry, type CliContext } from '../context.js';
import type { Output } from '../render/output.js';
import { printable, renderTable } from '../render/table.js';

/** Positional values: rows of comma-separated numbers (`5.1,3.5,1.4,0.2`). */
function rowsFromArgs(values: string[]): ParsedInput {
  return { kind: 'rows', rows: values.map((v) => v.split(',').map((x) => x.trim())) };
}

function render(out: Output, r: PredictResult): string {
  const { c } = out;
  if (r.predictions) {
    if (r.task === 'tabular-regression') return renderTable(c, ['ROW', 'VALUE'], r.predictions.map((p, i) => [String(i + 1), JSON.stringify(p.value)]));
    return renderTable(
      c,
      ['ROW', 'LABEL', 'PROBABILITIES'],
      r.predictions.map((p, i) => [
        String(i + 1),
        printable(`${p.label ?? '-'}${p.label_name ? ` (${p.label_name})` : ''}`),
        p.probabilities ? Object.entries(p.probabilities).map(([k, v]) => `${printable(k)}: ${v.toFixed(4)}`).join('  ') : '-',
      ]),
    );
  }
  return Object.entries(r.outputs ?? {})
    .map(([name, t]) => {
      const shown = t.data.slice(0, 16).map((v) => (typeof v === 'number' ? Number(v.toPrecision(6)) : v));
      return `${c.bold(printable(name))} ${t.type}[${t.dims.join(', ')}] ${JSON.stringify(shown)}${t.data.length > 16 ? ` ... (${t.data.length} values)` : ''}`;
    })
    .join('\n');
}

export async function run([model = '', ...values]: string[], options: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const { out } = ctx;
  const registry = openRegistry(ctx);
  const given = [options.input !== undefined, options.file !== undefined, values.length > 0].filter(Boolean).length;
  if (given !== 1) {
    throw new ModelctlError('USAGE', given === 0 ? 'no input given' : 'give the input one way only', {
      hint: 'values as arguments (5.1,3.5,1.4,0.2), --input JSON, or --file FILE (.csv, .jsonl, .json, .npy; - for stdin)',
    });
  }
  let input: ParsedInput;
  if (options.input !== undefined) input = fromJson(parseJsonText(String(options.input), '--input'));
  else if (options.file !== undefined) input = await readInputFile(String(options.file), (await resolveModel(model, registry)).summary.inputs[0]?.name ?? 'input');
  else input = rowsFromArgs(values);
  const threads = integer('--threads', options.threads, 0);
  const result = await predict({
    model,
    registry,
    input,
    ...(options.task !== undefined ? { task: String(options.task) } : {}),
    device: parseDevice(String(options.device ?? 'cpu')),
    ...(threads !== undefined ? { threads } : {}),
    ...(options.fallback === 'cpu' ? { fallback: 'cpu' as const } : {}),
    ...(options.optimization !== undefined ? { graphOptimization: String(options.optimization) as GraphOptimization } : {}),
  });
  if (result.fellBack) out.warn(`running on the CPU: ${result.fellBack}`);
  out.debug(`task ${result.task} (${result.taskReason}); ${result.provider}; session ${result.timings.loadMs.toFixed(1)} ms, run ${result.timings.runMs.toFixed(1)} ms`);
  out.result(result, () => render(out, result));
  return 0;
}
