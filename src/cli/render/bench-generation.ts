import type { GenerationBenchReport } from '../../bench/generation.js';
import type { Seq2SeqBenchReport, Seq2SeqBenchResult } from '../../bench/seq2seq.js';
import type { HostInfo } from '../../bench/runner.js';
import { formatMs } from './bench.js';
import type { Output } from './output.js';
import { printable, renderTable } from './table.js';

function rate(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return '-';
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toPrecision(3);
}

function head(out: Output, h: HostInfo, runs: string, decoding: string): string {
  return out.c.dim(
    `${printable(h.cpu)}, ${h.cores} cores; onnxruntime ${h.onnxruntime}, Node ${h.node}; ${runs}; ${decoding}, every token generated; rates from the median run`,
  );
}

/** bench on a text-generation model: one row per prompt length. */
export function renderGenerationBench(out: Output, r: GenerationBenchReport): string {
  const { c } = out;
  const table = renderTable(
    c,
    ['MODEL', 'DEVICE', 'THREADS', 'PROMPT', 'NEW', 'TTFT P50', 'TTFT MAX', 'PREFILL TOK/S', 'DECODE TOK/S', 'DECODE P50'],
    r.results.map((x) => [
      printable(r.model),
      r.provider,
      r.threads === null ? 'auto' : String(r.threads),
      String(x.prompt_tokens),
      String(x.new_tokens),
      formatMs(x.time_to_first_token_ms.p50),
      formatMs(x.time_to_first_token_ms.max),
      rate(x.prefill_tokens_per_second),
      rate(x.decode_tokens_per_second),
      formatMs(x.decode_ms.p50),
    ]),
  );
  return `${head(out, r.host, `${r.mode.warmup} warm-up + ${r.mode.iterations} runs per prompt length`, 'greedy')}\n${table}`;
}

function inputOf(x: Seq2SeqBenchResult): string {
  if (x.prompt_tokens !== undefined) return `${x.prompt_tokens} tokens`;
  if (x.audio_seconds !== undefined) return `${x.audio_seconds} s audio`;
  return x.image_size ? `${x.image_size[1]}x${x.image_size[0]} image` : '-';
}

function encoderRate(x: Seq2SeqBenchResult): string {
  if (x.input_tokens_per_second !== undefined) return `${rate(x.input_tokens_per_second)} tok/s`;
  if (x.audio_seconds_per_second !== undefined) return `${rate(x.audio_seconds_per_second)} audio s/s`;
  return x.images_per_second !== undefined ? `${rate(x.images_per_second)} img/s` : '-';
}

/** bench on an encoder-decoder model: one row per input (prompt length, audio, image). */
export function renderSeq2SeqBench(out: Output, r: Seq2SeqBenchReport): string {
  const table = renderTable(
    out.c,
    ['MODEL', 'DEVICE', 'THREADS', 'INPUT', 'NEW', 'ENCODER P50', 'ENCODER RATE', 'TTFT P50', 'TTFT MAX', 'DECODE TOK/S', 'DECODE P50'],
    r.results.map((x) => [
      printable(r.model),
      r.provider,
      r.threads === null ? 'auto' : String(r.threads),
      inputOf(x),
      String(x.new_tokens),
      formatMs(x.encoder_ms.p50),
      encoderRate(x),
      x.time_to_first_token_ms ? formatMs(x.time_to_first_token_ms.p50) : '-',
      x.time_to_first_token_ms ? formatMs(x.time_to_first_token_ms.max) : '-',
      rate(x.decode_tokens_per_second),
      formatMs(x.decode_ms.p50),
    ]),
  );
  const beams = r.mode.num_beams > 1 ? `beam search (${r.mode.num_beams} beams: no first token before the end)` : 'greedy';
  return `${head(out, r.host, `${r.task}; ${r.mode.warmup} warm-up + ${r.mode.iterations} runs per input`, beams)}\n${table}`;
}
