import type { GenerationBenchReport } from '../../bench/generation.js';
import { formatMs } from './bench.js';
import type { Output } from './output.js';
import { printable, renderTable } from './table.js';

function rate(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return '-';
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toPrecision(3);
}

/** bench on a text-generation model: one row per prompt length. */
export function renderGenerationBench(out: Output, r: GenerationBenchReport): string {
  const { c } = out;
  const h = r.host;
  const head = c.dim(
    `${printable(h.cpu)}, ${h.cores} cores; onnxruntime ${h.onnxruntime}, Node ${h.node}; ${r.mode.warmup} warm-up + ${r.mode.iterations} runs per prompt length; greedy, every token generated; rates from the median run`,
  );
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
  return `${head}\n${table}`;
}
