import { ModelctlError } from '../../errors.js';
import { chooseTask, predict, resolveModel, type PredictInput, type PredictResult } from '../../ops/predict.js';
import { isImageTask } from '../../ops/predict-image.js';
import { isTextTask, readTextFile, textsFromJson } from '../../ops/predict-text.js';
import { parseDevice, type GraphOptimization } from '../../runtime/index.js';
import { fromJson, parseJsonText, readInputFile, type ParsedInput } from '../../tasks/inputs.js';
import { integer, openRegistry, type CliContext } from '../context.js';
import type { Output } from '../render/output.js';
import { printable, renderTable } from '../render/table.js';

/** Positional values: rows of comma-separated numbers (`5.1,3.5,1.4,0.2`). */
function rowsFromArgs(values: string[]): ParsedInput {
  return { kind: 'rows', rows: values.map((v) => v.split(',').map((x) => x.trim())) };
}

/** A text for a table cell: one line, cut to `max` characters. */
function shorten(text: string, max = 40): string {
  const flat = [...text.replace(/\s+/g, ' ').trim()];
  return printable(flat.length > max ? `${flat.slice(0, max - 1).join('')}…` : flat.join(''));
}

/** Classification: the best label per text, or the K asked for; embeddings: the dimension and the first values. */
function renderTexts(out: Output, r: PredictResult, texts: string[], topK: number | undefined): string {
  const preds = r.predictions ?? [];
  if (r.task === 'feature-extraction') {
    return renderTable(out.c, ['TEXT', 'DIM', 'EMBEDDING'], preds.map((p, i) => {
      const v = p.embedding ?? [];
      return [shorten(texts[i] ?? ''), String(v.length), `[${v.slice(0, 4).map((x) => x.toFixed(4)).join(', ')}${v.length > 4 ? ', …' : ''}]`];
    }));
  }
  return renderTable(out.c, ['TEXT', 'LABEL', 'SCORE'], preds.flatMap((p, i) =>
    (p.labels ?? []).slice(0, topK ?? 1).map((l, k) => [k === 0 ? shorten(texts[i] ?? '') : '', printable(l.label), l.score.toFixed(4)]),
  ));
}

/** The best label per image file, or the K asked for. */
function renderImages(out: Output, r: PredictResult, files: string[], topK: number | undefined): string {
  return renderTable(out.c, ['IMAGE', 'LABEL', 'SCORE'], (r.predictions ?? []).flatMap((p, i) =>
    (p.labels ?? []).slice(0, topK ?? 1).map((l, k) => [k === 0 ? shorten(files[i] ?? '', 60) : '', printable(l.label), l.score.toFixed(4)]),
  ));
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

function fallback(value: unknown): boolean {
  if (value === undefined) return false;
  if (value !== 'cpu') throw new ModelctlError('USAGE', `--fallback takes cpu, got "${String(value)}"`);
  return true;
}

export async function run([model = '', ...values]: string[], options: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const { out } = ctx;
  const registry = openRegistry(ctx);
  const given = [options.input !== undefined, options.file !== undefined, values.length > 0].filter(Boolean).length;
  if (given !== 1) {
    throw new ModelctlError('USAGE', given === 0 ? 'no input given' : 'give the input one way only', {
      hint: 'values as arguments (5.1,3.5,1.4,0.2, texts for a text model, image files for an image model), --input JSON, or --file FILE (.csv, .jsonl, .json, .npy, .txt; - for stdin)',
    });
  }
  const resolved = await resolveModel(model, registry);
  const explicitTask = options.task !== undefined ? String(options.task) : undefined;
  const task = (await chooseTask(explicitTask, resolved, registry)).task;
  let input: PredictInput;
  if (isImageTask(task)) {
    if (options.input !== undefined) throw new ModelctlError('USAGE', `a ${task} model takes image files, not --input`, { hint: 'give image files as arguments or --file IMAGE' });
    input = { kind: 'images', files: options.file !== undefined ? [String(options.file)] : values };
  } else if (isTextTask(task)) {
    const texts = options.input !== undefined ? textsFromJson(parseJsonText(String(options.input), '--input'), '--input') : options.file !== undefined ? await readTextFile(String(options.file)) : values;
    input = { kind: 'texts', texts };
  } else if (options.input !== undefined) input = fromJson(parseJsonText(String(options.input), '--input'));
  else if (options.file !== undefined) input = await readInputFile(String(options.file), resolved.summary.inputs[0]?.name ?? 'input');
  else input = rowsFromArgs(values);
  const threads = integer('--threads', options.threads, 0);
  const batchSize = integer('--batch-size', options.batchSize, 1);
  const topK = integer('--top-k', options.topK, 1);
  const result = await predict({
    model,
    registry,
    input,
    resolved,
    ...(explicitTask !== undefined ? { task: explicitTask } : {}),
    ...(batchSize !== undefined ? { batchSize } : {}),
    ...(topK !== undefined ? { topK } : {}),
    ...(typeof options.normalize === 'boolean' ? { normalize: options.normalize } : {}),
    device: parseDevice(String(options.device ?? 'cpu')),
    ...(threads !== undefined ? { threads } : {}),
    ...(fallback(options.fallback) ? { fallback: 'cpu' as const } : {}),
    ...(options.optimization !== undefined ? { graphOptimization: String(options.optimization) as GraphOptimization } : {}),
  });
  if (result.fellBack) out.warn(`running on the CPU: ${result.fellBack}`);
  out.debug(`task ${result.task} (${result.taskReason}); ${result.provider}; session ${result.timings.loadMs.toFixed(1)} ms, run ${result.timings.runMs.toFixed(1)} ms`);
  const truncated = result.predictions?.filter((p) => p.truncated).length ?? 0;
  if (truncated > 0) out.warn(`${truncated} text${truncated > 1 ? 's were' : ' was'} longer than the model takes and ${truncated > 1 ? 'were' : 'was'} truncated`);
  out.result(result, () => (input.kind === 'texts' ? renderTexts(out, result, input.texts, topK) : input.kind === 'images' ? renderImages(out, result, input.files, topK) : render(out, result)));
  return 0;
}
