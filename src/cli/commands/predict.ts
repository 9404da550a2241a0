import { ModelctlError } from '../../errors.js';
import { chooseTask, predict, resolveModel, type PredictInput, type PredictResult } from '../../ops/predict.js';
import { isImageTask } from '../../ops/predict-image.js';
import { isTextTask, readTextFile, textsFromJson } from '../../ops/predict-text.js';
import { pairsFromJson } from '../../tasks/question-answering.js';
import { AGGREGATIONS, isAggregation } from '../../tasks/token-classification.js';
import { parseDevice, type GraphOptimization } from '../../runtime/index.js';
import { fromJson, parseJsonText, readInputFile, readStdin, readTextInput, tryJson, type ParsedInput } from '../../tasks/inputs.js';
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

/** Entities per text (token-classification); the answer per question (question-answering). */
function renderSpans(out: Output, r: PredictResult, texts: string[]): string {
  if (r.task === 'question-answering') {
    return renderTable(out.c, ['QUESTION', 'ANSWER', 'SCORE', 'SPAN'], (r.predictions ?? []).map((p, i) => [shorten(texts[i] ?? ''), shorten(p.answer ?? '', 60), (p.score ?? 0).toFixed(4), `${p.start}-${p.end}`]));
  }
  return renderTable(out.c, ['TEXT', 'ENTITY', 'WORD', 'SCORE', 'SPAN'], (r.predictions ?? []).flatMap((p, i) =>
    (p.entities ?? []).map((e, k) => [k === 0 ? shorten(texts[i] ?? '') : '', printable(e.entity_group ?? e.entity ?? ''), shorten(e.word), e.score.toFixed(4), `${e.start}-${e.end}`]),
  ));
}

/** --file for question-answering: one JSON value, or JSON Lines of {"question", "context"}; - reads stdin. */
async function readPairs(path: string): Promise<ReturnType<typeof pairsFromJson>> {
  const where = path === '-' ? 'stdin' : path;
  const text = path === '-' ? await readStdin() : await readTextInput(path);
  const whole = tryJson(text);
  if (whole) return pairsFromJson(whole.value, where);
  return text.split(/\r?\n/).flatMap((line, i) => (line.trim() === '' ? [] : pairsFromJson(parseJsonText(line, `${where} line ${i + 1}`), `${where} line ${i + 1}`)));
}

function aggregation(value: unknown): (typeof AGGREGATIONS)[number] | undefined {
  if (value === undefined) return undefined;
  const v = String(value);
  if (!isAggregation(v)) throw new ModelctlError('USAGE', `--aggregation takes ${AGGREGATIONS.join(', ')}, got "${v}"`);
  return v;
}

/** The best label per image file, or the K asked for. */
function renderImages(out: Output, r: PredictResult, files: string[], topK: number | undefined): string {
  return renderTable(out.c, ['IMAGE', 'LABEL', 'SCORE'], (r.predictions ?? []).flatMap((p, i) =>
    (p.labels ?? []).slice(0, topK ?? 1).map((l, k) => [k === 0 ? shorten(files[i] ?? '', 60) : '', printable(l.label), l.score.toFixed(4)]),
  ));
}

/** Detections per image file: one row each (a '-' row for an image without any). */
function renderDetections(out: Output, r: PredictResult, files: string[]): string {
  return renderTable(out.c, ['IMAGE', 'CLASS', 'SCORE', 'BOX'], (r.predictions ?? []).flatMap((p, i) => {
    const file = shorten(files[i] ?? '', 60);
    const found = p.detections ?? [];
    if (found.length === 0) return [[file, '-', '-', '-']];
    return found.map((d, k) => [k === 0 ? file : '', printable(d.label), d.score.toFixed(4), d.box.map((v) => v.toFixed(1)).join(', ')]);
  }));
}

/** --conf and --iou: a number from 0 to 1. */
function fraction(flag: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const v = Number(value);
  if (String(value).trim() === '' || !Number.isFinite(v) || v < 0 || v > 1) throw new ModelctlError('USAGE', `${flag} takes a number from 0 to 1, got "${String(value)}"`);
  return v;
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
  const asked = options.question !== undefined || options.context !== undefined;
  const given = [options.input !== undefined, options.file !== undefined, values.length > 0, asked].filter(Boolean).length;
  if (given !== 1) {
    throw new ModelctlError('USAGE', given === 0 ? 'no input given' : 'give the input one way only', {
      hint: 'values as arguments (5.1,3.5,1.4,0.2, texts for a text model, image files for an image model), --input JSON, --file FILE (.csv, .jsonl, .json, .npy, .txt; - for stdin), or --question with --context',
    });
  }
  const resolved = await resolveModel(model, registry);
  const explicitTask = options.task !== undefined ? String(options.task) : undefined;
  const task = (await chooseTask(explicitTask, resolved, registry)).task;
  let input: PredictInput;
  if (asked && task !== 'question-answering') throw new ModelctlError('USAGE', `--question and --context are for question-answering models, not ${task}`);
  if (task === 'question-answering') {
    if (asked) {
      if (options.question === undefined || options.context === undefined) throw new ModelctlError('USAGE', `--${options.question === undefined ? 'question' : 'context'} is missing`, { hint: 'give --question Q --context C together' });
      input = { kind: 'questions', pairs: pairsFromJson({ question: String(options.question), context: String(options.context) }, 'the question') };
    } else if (options.input !== undefined) input = { kind: 'questions', pairs: pairsFromJson(parseJsonText(String(options.input), '--input'), '--input') };
    else if (options.file !== undefined) input = { kind: 'questions', pairs: await readPairs(String(options.file)) };
    else throw new ModelctlError('USAGE', 'a question-answering model takes --question and --context', { hint: 'or --input \'{"question": "...", "context": "..."}\'' });
  } else if (isImageTask(task)) {
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
  const agg = aggregation(options.aggregation);
  const conf = fraction('--conf', options.conf);
  const iou = fraction('--iou', options.iou);
  if (agg !== undefined && task !== 'token-classification') throw new ModelctlError('USAGE', `--aggregation is for token-classification models, not ${task}`);
  const result = await predict({
    model,
    registry,
    input,
    resolved,
    ...(explicitTask !== undefined ? { task: explicitTask } : {}),
    ...(batchSize !== undefined ? { batchSize } : {}),
    ...(topK !== undefined ? { topK } : {}),
    ...(typeof options.normalize === 'boolean' ? { normalize: options.normalize } : {}),
    ...(agg !== undefined ? { aggregation: agg } : {}),
    ...(conf !== undefined ? { conf } : {}),
    ...(iou !== undefined ? { iou } : {}),
    device: parseDevice(String(options.device ?? 'cpu')),
    ...(threads !== undefined ? { threads } : {}),
    ...(fallback(options.fallback) ? { fallback: 'cpu' as const } : {}),
    ...(options.optimization !== undefined ? { graphOptimization: String(options.optimization) as GraphOptimization } : {}),
  });
  if (result.fellBack) out.warn(`running on the CPU: ${result.fellBack}`);
  out.debug(`task ${result.task} (${result.taskReason}); ${result.provider}; session ${result.timings.loadMs.toFixed(1)} ms, run ${result.timings.runMs.toFixed(1)} ms`);
  const truncated = result.predictions?.filter((p) => p.truncated).length ?? 0;
  if (truncated > 0) out.warn(`${truncated} text${truncated > 1 ? 's were' : ' was'} longer than the model takes and ${truncated > 1 ? 'were' : 'was'} truncated`);
  out.result(result, () => (input.kind === 'questions' ? renderSpans(out, result, input.pairs.map((p) => p.question)) : input.kind === 'texts' && (task === 'token-classification') ? renderSpans(out, result, input.texts) : input.kind === 'texts' ? renderTexts(out, result, input.texts, topK) : input.kind === 'images' ? (task === 'object-detection' ? renderDetections(out, result, input.files) : renderImages(out, result, input.files, topK)) : render(out, result)));
  return 0;
}
