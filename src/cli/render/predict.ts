import type { PredictInput, PredictResult, StreamOutcome } from '../../predict/types.js';
import type { Output } from './output.js';
import { printable, renderTable } from './table.js';

/** predict's tables, one layout per kind of task; JSON output needs nothing from here. */

/** A text for a table cell: one line, cut to `max` characters. */
export function shorten(text: string, max = 40): string {
  const flat = [...text.replace(/\s+/g, ' ').trim()];
  return printable(flat.length > max ? `${flat.slice(0, max - 1).join('')}…` : flat.join(''));
}

/** Classification: the best label per text, or the K asked for; embeddings: the dimension and the first values. */
function renderTexts(out: Output, r: PredictResult, texts: string[], topK: number | undefined): string {
  const preds = r.predictions ?? [];
  if (r.task === 'feature-extraction') {
    return renderTable(
      out.c,
      ['TEXT', 'DIM', 'EMBEDDING'],
      preds.map((p, i) => {
        const v = p.embedding ?? [];
        return [
          shorten(texts[i] ?? ''),
          String(v.length),
          `[${v
            .slice(0, 4)
            .map((x) => x.toFixed(4))
            .join(', ')}${v.length > 4 ? ', …' : ''}]`,
        ];
      }),
    );
  }
  return renderTable(
    out.c,
    ['TEXT', 'LABEL', 'SCORE'],
    preds.flatMap((p, i) =>
      (p.labels ?? []).slice(0, topK ?? 1).map((l, k) => [k === 0 ? shorten(texts[i] ?? '') : '', printable(l.label), l.score.toFixed(4)]),
    ),
  );
}

/** Entities per text (token-classification); the answer per question (question-answering). */
function renderSpans(out: Output, r: PredictResult, texts: string[]): string {
  if (r.task === 'question-answering') {
    return renderTable(
      out.c,
      ['QUESTION', 'ANSWER', 'SCORE', 'SPAN'],
      // With --top-k, each question's K answers, the best first.
      (r.predictions ?? []).flatMap((p, i) =>
        (p.answers ?? [p]).map((a, k) => [
          k === 0 ? shorten(texts[i] ?? '') : '',
          shorten(a.answer ?? '', 60),
          (a.score ?? 0).toFixed(4),
          `${a.start}-${a.end}`,
        ]),
      ),
    );
  }
  return renderTable(
    out.c,
    ['TEXT', 'ENTITY', 'WORD', 'SCORE', 'SPAN'],
    (r.predictions ?? []).flatMap((p, i) =>
      (p.entities ?? []).map((e, k) => [
        k === 0 ? shorten(texts[i] ?? '') : '',
        printable(e.entity_group ?? e.entity ?? ''),
        shorten(e.word),
        e.score.toFixed(4),
        `${e.start}-${e.end}`,
      ]),
    ),
  );
}

/** Fill-mask: per mask of each text, its candidates (the K asked for, 5 by default) and the texts they make. */
function renderFills(out: Output, r: PredictResult, texts: string[]): string {
  return renderTable(
    out.c,
    ['TEXT', 'MASK', 'TOKEN', 'SCORE', 'SEQUENCE'],
    (r.predictions ?? []).flatMap((p, i) =>
      (p.masks ?? []).flatMap((fills, m) =>
        fills.map((f, k) => [
          m === 0 && k === 0 ? shorten(texts[i] ?? '') : '',
          k === 0 ? String(m + 1) : '',
          printable(f.token_str),
          f.score.toFixed(4),
          shorten(f.sequence, 60),
        ]),
      ),
    ),
  );
}

/** The best label per image or audio file, or the K asked for. */
function renderFiles(out: Output, r: PredictResult, files: string[], topK: number | undefined, head = 'IMAGE'): string {
  return renderTable(
    out.c,
    [head, 'LABEL', 'SCORE'],
    (r.predictions ?? []).flatMap((p, i) =>
      (p.labels ?? [])
        .slice(0, topK ?? 1)
        .map((l, k) => [k === 0 ? shorten(files[i] ?? '', 60) : '', printable(l.label), l.score.toFixed(4)]),
    ),
  );
}

/** Detections per image file: one row each (a '-' row for an image without any). */
function renderDetections(out: Output, r: PredictResult, files: string[]): string {
  return renderTable(
    out.c,
    ['IMAGE', 'CLASS', 'SCORE', 'BOX'],
    (r.predictions ?? []).flatMap((p, i) => {
      const file = shorten(files[i] ?? '', 60);
      const found = p.detections ?? [];
      if (found.length === 0) return [[file, '-', '-', '-']];
      return found.map((d, k) => [k === 0 ? file : '', printable(d.label), d.score.toFixed(4), d.box.map((v) => v.toFixed(1)).join(', ')]);
    }),
  );
}

/** Tabular predictions (a row each, named by `rowNames` or numbered from 1) or raw output tensors. */
function renderRows(out: Output, r: PredictResult, rowNames?: string[]): string {
  const { c } = out;
  const row = (i: number): string => rowNames?.[i] ?? String(i + 1);
  const head = rowNames ? 'LINE' : 'ROW';
  if (r.predictions) {
    if (r.task === 'tabular-regression')
      return renderTable(
        c,
        [head, 'VALUE'],
        r.predictions.map((p, i) => [row(i), JSON.stringify(p.value)]),
      );
    return renderTable(
      c,
      [head, 'LABEL', 'PROBABILITIES'],
      r.predictions.map((p, i) => [
        row(i),
        printable(`${p.label ?? '-'}${p.label_name ? ` (${p.label_name})` : ''}`),
        p.probabilities
          ? Object.entries(p.probabilities)
              .map(([k, v]) => `${printable(k)}: ${v.toFixed(4)}`)
              .join('  ')
          : '-',
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

/** The table for a result, laid out for the task and the input it answered. */
export function renderResult(
  out: Output,
  result: PredictResult,
  input: PredictInput,
  topK: number | undefined,
  rowNames?: string[],
): string {
  if (input.kind === 'questions')
    return renderSpans(
      out,
      result,
      input.pairs.map((p) => p.question),
    );
  if (input.kind === 'texts') {
    if (result.task === 'fill-mask') return renderFills(out, result, input.texts);
    return result.task === 'token-classification' ? renderSpans(out, result, input.texts) : renderTexts(out, result, input.texts, topK);
  }
  // The generated text per file: an image's caption, an audio file's transcript.
  const written = result.task === 'image-to-text' || result.task === 'automatic-speech-recognition';
  if ((input.kind === 'images' || input.kind === 'audio') && written)
    return renderTable(
      out.c,
      [input.kind === 'images' ? 'IMAGE' : 'AUDIO', 'TEXT'],
      (result.predictions ?? []).map((p, i) => [
        shorten(input.files[i] ?? '', 60),
        printable(shorten(p.generated_text ?? p.text ?? '', 80)),
      ]),
    );
  if (input.kind === 'images')
    return result.task === 'object-detection' ? renderDetections(out, result, input.files) : renderFiles(out, result, input.files, topK);
  if (input.kind === 'audio') return renderFiles(out, result, input.files, topK, 'AUDIO');
  return renderRows(out, result, rowNames);
}

/** One JSON Lines record of a streamed prediction: the line it answers, then the prediction or the error. */
export function jsonLine(o: StreamOutcome): string {
  if (o.error) return JSON.stringify({ line: o.line, error: o.error });
  return JSON.stringify(o.outputs ? { line: o.line, outputs: o.outputs } : { line: o.line, ...o.prediction });
}
