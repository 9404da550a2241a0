import type { Device } from '../../runtime/device.js';
import type { GraphOptimization } from '../../runtime/optimization.js';
import { ModelctlError } from '../../errors.js';
import { flag, int, text, value, type CommandSpec } from '../declare.js';
import { generationOptions, type GenerationFlags } from './generation.js';
import { type ConvertFlags, convertOptions, deviceOption, fallbackOption, optimizationOption, threadsOption } from './session.js';

export interface PredictFlags extends ConvertFlags, GenerationFlags {
  input?: string;
  file?: string;
  task?: string;
  batchSize?: number;
  topK?: number;
  /** Absent unless --normalize or --no-normalize is given: the model's own files decide. */
  normalize?: boolean;
  /** Checked against the token-classification strategies by the command (they live with that task's code). */
  aggregation?: string;
  conf: number;
  iou: number;
  question?: string;
  context?: string;
  candidateLabels?: string;
  hypothesisTemplate?: string;
  multiLabel?: boolean;
  device: Device;
  fallback?: 'cpu';
  threads?: number;
  optimization: GraphOptimization;
  failFast?: boolean;
  verify?: boolean;
  json?: boolean;
  table?: boolean;
}

/** --conf and --iou: a number from 0 to 1. */
function fraction(text: string, flag: string): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || v < 0 || v > 1)
    throw new ModelctlError('USAGE', `${flag} takes a number from 0 to 1, got "${text}"`);
  return v;
}

export const predictCommand: CommandSpec<PredictFlags> = {
  name: 'predict',
  description:
    'run a model with ONNX Runtime: tables (tabular-classification/-regression), texts (text-classification, token-classification, ' +
    'feature-extraction, fill-mask, zero-shot-classification, text-generation, text2text-generation, translation, summarization), questions (question-answering), images (image-classification, ' +
    'object-detection, image-to-text), audio (audio-classification, automatic-speech-recognition) or raw tensors',
  arguments: [
    ['<model>', 'a registry model (name[:version|@alias]) or an ONNX file'],
    [
      '[values...]',
      'rows as comma-separated numbers (5.1,3.5,1.4,0.2), texts for a text model, image files for an image model, audio files (WAV, FLAC, MP3) for an audio model',
    ],
  ],
  options: {
    input: text(
      '--input <json>',
      'rows ([[...]], [{"feature": v}]), texts ("text", ["text", ...]) or named tensors ' +
        '({"NAME": [[...]]} or {"NAME": {"dims", "data", "type"}})',
    ),
    file: text(
      '--file <file>',
      'a .csv (with header), .jsonl, .json or .npy file; texts: .txt (one per line) or .jsonl ({"text": ...}); - reads stdin; ' +
        'an image file (PNG, JPEG, WebP...) for an image model; an audio file (WAV, FLAC, MP3) for an audio model',
    ),
    task: text(
      '--task <task>',
      'tabular-classification, tabular-regression, text-classification, token-classification, feature-extraction, ' +
        'question-answering, text-generation, text2text-generation, translation, summarization, fill-mask, zero-shot-classification, image-classification, object-detection, image-to-text, audio-classification, automatic-speech-recognition or raw ' +
        '(default: embedded metadata, then the registry, then the files beside the model; a text classifier given --candidate-labels is zero-shot)',
    ),
    batchSize: int('--batch-size <n>', 'texts or images per ONNX Runtime run (default 32)', 1),
    topK: int(
      '--top-k <k>',
      'text/image/audio classification: the K best labels (default: all with --json, the best in the table); question answering: the K best answers; ' +
        'fill-mask: the K best tokens per mask (default 5); text-generation: sample from the K most probable tokens (default: generation_config.json, else 50)',
      1,
    ),
    normalize: flag('--normalize', 'feature-extraction: unit-length embeddings (default: on when modules.json has a Normalize module)', {
      negation: 'feature-extraction: the mean-pooled embeddings as they are',
    }),
    aggregation: text(
      '--aggregation <strategy>',
      'token-classification: none (every token not tagged O), simple (B-/I- runs grouped), ' +
        'first, max or average (word pieces merged first)',
    ),
    conf: value('--conf <p>', 'object-detection: the minimum score of a detection', fraction, { default: '0.25' }),
    iou: value('--iou <p>', 'object-detection: the IoU above which NMS drops the lower-scored box of the same class', fraction, {
      default: '0.45',
    }),
    question: text('--question <text>', 'question-answering: the question (with --context)'),
    context: text('--context <text>', 'question-answering: the text holding the answer (with --question)'),
    candidateLabels: text(
      '--candidate-labels <labels>',
      'zero-shot-classification: the labels to score, comma-separated (an NLI model exported as text-classification becomes zero-shot)',
    ),
    hypothesisTemplate: text(
      '--hypothesis-template <text>',
      'zero-shot-classification: the hypothesis with {} for the label (default "This example is {}.")',
    ),
    multiLabel: flag(
      '--multi-label',
      'zero-shot-classification: score each label alone (entailment vs contradiction), not against the others',
    ),
    ...generationOptions,
    device: deviceOption,
    fallback: fallbackOption,
    threads: threadsOption(),
    optimization: optimizationOption,
    failFast: flag('--fail-fast', 'streams (.jsonl, .csv, .txt, stdin): stop at the first bad record instead of reporting it and going on'),
    ...convertOptions,
    verify: flag(
      '--verify',
      "re-hash the registry model's files before use (default: re-hash only those whose size, mtime or inode changed)",
    ),
    json: flag(
      '--json',
      'print JSON: one document, or JSON Lines ({"line": N, ...}) for a stream (the default when stdout is not a terminal)',
    ),
    table: flag('--table', 'print the table even when stdout is not a terminal'),
  },
  examples: [
    'modelctl predict iris 5.1,3.5,1.4,0.2 6.3,3.3,6.0,2.5',
    'modelctl predict ./model.onnx --input \'{"input": [[5.1, 3.5, 1.4, 0.2]]}\' --json',
    'modelctl predict iris --file rows.csv --device cuda --fallback cpu',
    'cat rows.jsonl | modelctl predict iris --file - > predictions.jsonl',
    'modelctl predict ./bert/model.onnx "the model was great" "it crashed" --top-k 2',
    'modelctl predict embedder --file sentences.txt --normalize --json',
    'modelctl predict ./vit/model.onnx cat.jpg dog.png --top-k 3',
    'modelctl predict ./ner/model.onnx "Alice lives in Paris" --aggregation simple',
    'modelctl predict ./qa/model.onnx --question "who lives in Paris?" --context "Alice lives in Paris."',
    'modelctl predict ./yolov8n.onnx street.jpg --conf 0.5 --iou 0.45',
    'modelctl predict ./bert-mlm/model.onnx "Paris is the [MASK] of France." --top-k 3',
    'modelctl predict ./nli/model.onnx "the match ended 2-1" --candidate-labels sports,politics --multi-label',
    'modelctl predict ./wav2vec2-ks/model.onnx yes.wav no.wav --top-k 2',
    'modelctl predict gpt2 "Once upon a time" --max-new-tokens 40 --temperature 0.8 --top-p 0.9 --seed 7',
    'modelctl predict llama-chat --chat conversation.jsonl --stop "User:" --json',
    'modelctl predict t5 "translate English to German: the house is wonderful." --num-beams 4',
    'modelctl predict whisper talk.wav talk.mp3 --language en --return-timestamps',
    'modelctl predict captioner photo.jpg --max-new-tokens 20',
  ],
};
