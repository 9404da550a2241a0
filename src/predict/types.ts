import type { InputSource, PredictInput } from '../inputs/types.js';
import type { ExportEvent } from '../export/export.js';
import type { DecodedHfMetadata } from '../onnx/metadata.js';
import type { OnnxSummary } from '../onnx/summary.js';
import type { Registry } from '../registry/index.js';
import type { Manifest } from '../registry/manifest.js';
import type { VerifiedFiles } from '../registry/verify.js';
import type { OpenedSession, SessionOptions } from '../runtime/index.js';
import type { AudioClassificationPrediction } from '../tasks/audio-classification.js';
import type { EmbeddingPrediction } from '../tasks/feature-extraction.js';
import type { FillMaskPrediction } from '../tasks/fill-mask.js';
import type { DetectionPrediction } from '../tasks/object-detection.js';
import type { AnsweredQuestion } from '../tasks/question-answering.js';
import type { TabularPrediction } from '../tasks/tabular.js';
import type { JsonTensor } from '../tasks/tensors.js';
import type { TextClassificationPrediction } from '../tasks/text-classification.js';
import type { Seq2SeqOptions } from '../tasks/generation/seq2seq-config.js';
import type { SpeechOptions, SpeechPrediction } from '../tasks/speech-recognition.js';
import type { Seq2SeqPrediction } from '../tasks/seq2seq.js';
import type { ChatMessage, GenerationPrediction } from '../tasks/text-generation.js';
import type { Aggregation, TokenClassificationPrediction } from '../tasks/token-classification.js';
import type { ZeroShotPrediction } from '../tasks/zero-shot-classification.js';

/** predict's shared types: every file of src/predict imports them; this file imports none of its siblings. */

export type { PredictInput } from '../inputs/types.js';

/** predict, bench and serve on a registered model that is not ONNX: see predict/auto-convert.ts. */
export interface AutoConvert {
  /** false: refuse a non-ONNX version (--no-convert). Default true. */
  convert?: boolean;
  /** The interpreter the conversion runs with (else MODELCTL_PYTHON, the managed environment, python3). */
  python?: string;
  onProgress?: (event: ConvertEvent) => void;
  signal?: AbortSignal;
}

export type ConvertEvent =
  | { type: 'convert-start'; from: string }
  | { type: 'convert-reused'; from: string; to: string }
  | { type: 'convert-done'; from: string; to: string }
  | { type: 'export'; event: ExportEvent };

export interface ResolvedModel {
  /** The ONNX file ONNX Runtime loads (inside a view folder for registry versions with companion files). */
  path: string;
  summary: OnnxSummary;
  embedded?: DecodedHfMetadata;
  manifest?: Manifest;
  /** A registry version's files as checked before use (serve re-checks their fingerprints per request). */
  verified?: VerifiedFiles;
  /** A non-ONNX registry version run through its ONNX export: which one, and whether it was made before. */
  converted?: { from: string; to: string; reused: boolean };
}

export interface PredictOptions extends SessionOptions {
  model: string;
  registry?: Registry;
  task?: string;
  /** The input itself, or where to read it (a file, `-` for stdin, JSON text): read whole, as the task's kind. */
  input: PredictInput | InputSource;
  /** The model as resolveModel returned it, when the caller already has it. */
  resolved?: ResolvedModel;
  /** Re-hash a registry model's files before use, whatever their fingerprints say. */
  verify?: boolean;
  /** A registered model that is not ONNX: its ONNX export is used, made now when there is none (predict/auto-convert.ts). */
  autoConvert?: AutoConvert;
  /** Text and image tasks: texts or images per session run (default 32). */
  batchSize?: number;
  /**
   * text-, image- and audio-classification: the K best labels per input (default: every label); question-answering:
   * the K best answers too; fill-mask: the K best tokens per mask (default 5).
   */
  topK?: number;
  /** zero-shot-classification: the labels to score (given without a task, they make a text classifier zero-shot). */
  candidateLabels?: string[];
  /** zero-shot-classification: the hypothesis each label is put in (default "This example is {}."). */
  hypothesisTemplate?: string;
  /** zero-shot-classification: score each label alone (entailment against contradiction) instead of against each other. */
  multiLabel?: boolean;
  /** feature-extraction: unit-length vectors (default: when a sentence-transformers modules.json has Normalize). */
  normalize?: boolean;
  /** token-classification: how tokens become entities (default none: every token not tagged O). */
  aggregation?: Aggregation;
  /** object-detection: the minimum score of a detection (default 0.25). */
  conf?: number;
  /** object-detection: the IoU above which NMS drops the lower-scored box of a class (default 0.45). */
  iou?: number;
  /** text-generation and encoder-decoder tasks: decoding settings (beam search: encoder-decoder only), a chat conversation instead of text prompts, and the text as it comes. */
  generation?: Seq2SeqOptions & {
    chat?: ChatMessage[];
    /** The new text of prompt `index` as it grows. */
    onText?: (piece: string, index: number) => void;
    /** Called once per predict with a one-line warning (generation_config.json settings modelctl does not apply). */
    onWarning?: (message: string) => void;
  };
  /** automatic-speech-recognition: language, transcribe or translate, and how long audio is cut into windows. */
  speech?: SpeechOptions;
  /** Stops a generation between two tokens. */
  signal?: AbortSignal;
  /**
   * A session already open on the model (serve's cache): used instead of opening one, and left open by close().
   * Ignored for a ZipMap classifier, whose session must declare the extra output.
   */
  opened?: OpenedSession;
}

/** One per input row or text; which fields are set depends on the task. */
export type Prediction = TabularPrediction & { label_name?: string } & Partial<TextClassificationPrediction> &
  Partial<EmbeddingPrediction> &
  Partial<TokenClassificationPrediction> &
  Partial<AnsweredQuestion> &
  Partial<DetectionPrediction> &
  Partial<FillMaskPrediction> &
  Partial<ZeroShotPrediction> &
  Partial<AudioClassificationPrediction> &
  Partial<GenerationPrediction> &
  Partial<Seq2SeqPrediction> &
  Partial<SpeechPrediction>;

export interface PredictResult {
  model: string;
  task: string;
  taskReason: string;
  provider: 'cpu' | 'cuda';
  fellBack?: string;
  timings: { loadMs: number; runMs: number };
  predictions?: Prediction[];
  /** feature-extraction: whether the embeddings were scaled to unit length. */
  normalized?: boolean;
  outputs?: Record<string, JsonTensor>;
}

/** A model opened for a task: run it on as many inputs as needed, then close it. */
export interface Predictor {
  readonly resolved: ResolvedModel;
  readonly task: string;
  readonly taskReason: string;
  readonly provider: 'cpu' | 'cuda';
  /** Tabular models: the feature names embedded in the model, in input order. */
  readonly featureNames?: string[];
  /** Set when CUDA was asked for and the CPU runs instead: why. */
  readonly fellBack?: string;
  run(input: PredictInput, extra?: { rowName?: (index: number) => string }): Promise<PredictResult>;
  close(): Promise<void>;
}

/** predict over a stream: one per record, in input order. */
export interface StreamOutcome {
  line: number;
  prediction?: Prediction;
  outputs?: Record<string, JsonTensor>;
  error?: { code: string; message: string; hint?: string };
  /** The text or question answered (for a table; not part of the JSON Lines record). */
  text?: string;
  question?: string;
}
