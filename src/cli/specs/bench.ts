import { parseTolerance } from '../../bench/tolerance.js';
import type { Device } from '../../runtime/device.js';
import type { GraphOptimization } from '../../runtime/optimization.js';
import { ModelctlError } from '../../errors.js';
import { duration, flag, int, list, text, value, type CommandSpec } from '../declare.js';
import { positiveNumber } from './generation.js';
import { type ConvertFlags, convertOptions, deviceOption, fallbackOption, optimizationOption, threadsOption } from './session.js';

export interface BenchFlags extends ConvertFlags {
  batchSizes: number[];
  shapes?: string[];
  seqLen?: number;
  warmup: number;
  iterations?: number;
  durationMs?: number;
  threads?: number;
  device: Device;
  fallback?: 'cpu';
  optimization: GraphOptimization;
  e2e?: boolean;
  files?: string[];
  vs?: string;
  saveBaseline?: boolean;
  baseline?: boolean;
  /** A fraction: 0.1 for 10%. */
  failIfSlower?: number;
  promptTokens?: number[];
  newTokens?: number;
  seconds?: number;
  numBeams?: number;
  json?: boolean;
}

/** "1,8,32" -> [1, 8, 32], each size once. */
function batchSizes(text: string, flag: string): number[] {
  const sizes = text.split(',').map((s) => s.trim());
  if (sizes.some((s) => !/^\d+$/.test(s) || Number(s) < 1)) {
    throw new ModelctlError('USAGE', `${flag} takes whole numbers of at least 1, comma-separated, got "${text}"`, {
      hint: `e.g. ${flag} ${flag === '--prompt-tokens' ? '16,128' : '1,8,32'}`,
    });
  }
  return [...new Set(sizes.map(Number))];
}

export const benchCommand: CommandSpec<BenchFlags> = {
  name: 'bench',
  description:
    'measure latency (mean, min, p50, p90, p95, p99, max), throughput and memory of a model with ONNX Runtime; compare two sides interleaved; ' +
    'gate CI on a stored baseline; a generative model (text-generation, encoder-decoder): time to first token, prefill (encoder) and decode rates',
  arguments: [['<model>', 'a registry model (name[:version|@alias]) or an ONNX file']],
  options: {
    ...convertOptions,
    batchSizes: value('--batch-sizes <list>', 'batch sizes to measure, comma-separated', batchSizes, { default: '1' }),
    shapes: list(
      '--shape <name=dims>',
      "an input's whole shape (input_ids=1,128; a name such as batch stands for --batch-sizes) or a symbolic dimension " +
        '(sequence_length=64) (repeatable)',
    ),
    seqLen: int('--seq-len <n>', "size of symbolic sequence dimensions (default 128, at most the model's positions)", 1),
    warmup: int('--warmup <n>', 'untimed runs before timing each configuration', 0, { default: '5' }),
    iterations: int('--iterations <n>', 'timed runs per configuration (default 100 unless --duration is given; generative models: 5)', 1),
    durationMs: duration('--duration <time>', 'time each configuration for this long, e.g. 10s (with --iterations: whichever ends first)'),
    threads: threadsOption(),
    device: deviceOption,
    fallback: fallbackOption,
    optimization: optimizationOption,
    e2e: flag(
      '--e2e',
      'time the task pipeline on real inputs, stage by stage (text-classification, feature-extraction, image-classification)',
    ),
    files: list('--file <file>', '--e2e inputs: a .txt/.jsonl file of texts, or an image file (repeatable)'),
    vs: text('--vs <other>', 'a second side, timed interleaved in the same run: another model, or threads=N, device=D, optimization=L'),
    saveBaseline: flag('--save-baseline', 'store the figures with the registry version, one file per configuration'),
    baseline: flag('--baseline', 'compare with the stored baseline (median latency)'),
    failIfSlower: value(
      '--fail-if-slower <pct>',
      'exit 1 when the median latency is more than pct above the baseline, e.g. 10%',
      parseTolerance,
    ),
    promptTokens: value(
      '--prompt-tokens <list>',
      'text-generation, text2text-generation, translation, summarization: prompt lengths in tokens, comma-separated (default 16)',
      batchSizes,
    ),
    newTokens: int('--new-tokens <n>', 'generative models: tokens generated per run (default 32)', 1),
    seconds: value('--seconds <s>', 'automatic-speech-recognition: seconds of synthetic audio (default 30)', positiveNumber),
    numBeams: int('--num-beams <n>', 'encoder-decoder models: time beam search with N beams (default 1: greedy)', 1),
    json: flag('--json', 'print JSON'),
  },
  examples: [
    'modelctl bench iris --batch-sizes 1,8,32',
    'modelctl bench ./bert/model.onnx --seq-len 64 --duration 10s --threads 1',
    'modelctl bench org/bert --vs threads=4 --batch-sizes 1,8',
    'modelctl bench org/bert:1.0.0 --vs org/bert:1.1.0 --iterations 500',
    'modelctl bench ./vit/model.onnx --shape height=224 --shape width=224',
    'modelctl bench org/bert --e2e --file reviews.txt --batch-sizes 8',
    'modelctl bench org/bert --threads 1 --save-baseline',
    'modelctl bench org/bert --threads 1 --fail-if-slower 10% --json',
    'modelctl bench org/llama --prompt-tokens 16,128 --new-tokens 64',
    'modelctl bench org/whisper --seconds 30 --new-tokens 32',
  ],
};
