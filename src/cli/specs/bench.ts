import type { Command } from 'commander';
import type { SpecTools } from './tools.js';

/** Declares `modelctl bench`. */
export function declare(program: Command, tools: SpecTools): void {
  tools.example(
    program.command('bench').description('measure latency (mean, min, p50, p90, p95, p99, max), throughput and memory of a model with ONNX Runtime; compare two sides interleaved; gate CI on a stored baseline')
      .argument('<model>', 'a registry model (name[:version|@alias]) or an ONNX file')
      .option('--batch-sizes <list>', 'batch sizes to measure, comma-separated', '1')
      .option('--shape <name=dims>', 'an input\'s whole shape (input_ids=1,128; a name such as batch stands for --batch-sizes) or a symbolic dimension (sequence_length=64) (repeatable)', tools.collect)
      .option('--seq-len <n>', 'size of symbolic sequence dimensions (default 128, at most the model\'s positions)')
      .option('--warmup <n>', 'untimed runs before timing each configuration', '5')
      .option('--iterations <n>', 'timed runs per configuration (default 100 unless --duration is given)')
      .option('--duration <time>', 'time each configuration for this long, e.g. 10s (with --iterations: whichever ends first)')
      .option('--threads <n>', 'intra-op threads (default: ONNX Runtime chooses)')
      .option('--device <device>', 'cpu, cuda or cuda:N', 'cpu')
      .option('--fallback <device>', 'run on this device if --device cannot be used (only cpu)')
      .option('--optimization <level>', 'graph optimization: disabled, basic, extended, all', 'all')
      .option('--e2e', 'time the task pipeline on real inputs, stage by stage (text-classification, feature-extraction, image-classification)')
      .option('--file <file>', '--e2e inputs: a .txt/.jsonl file of texts, or an image file (repeatable)', tools.collect)
      .option('--vs <other>', 'a second side, timed interleaved in the same run: another model, or threads=N, device=D, optimization=L')
      .option('--save-baseline', 'store the figures with the registry version, one file per configuration')
      .option('--baseline', 'compare with the stored baseline (median latency)')
      .option('--fail-if-slower <pct>', 'exit 1 when the median latency is more than pct above the baseline, e.g. 10%')
      .option('--json', 'print JSON'),
    'modelctl bench iris --batch-sizes 1,8,32',
    'modelctl bench ./bert/model.onnx --seq-len 64 --duration 10s --threads 1',
    'modelctl bench org/bert --vs threads=4 --batch-sizes 1,8',
    'modelctl bench org/bert:1.0.0 --vs org/bert:1.1.0 --iterations 500',
    'modelctl bench ./vit/model.onnx --shape height=224 --shape width=224',
    'modelctl bench org/bert --e2e --file reviews.txt --batch-sizes 8',
    'modelctl bench org/bert --threads 1 --save-baseline',
    'modelctl bench org/bert --threads 1 --fail-if-slower 10% --json',
  ).action(tools.action('bench'));
}
