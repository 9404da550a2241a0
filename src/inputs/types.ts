import type { ModelctlError } from '../errors.js';
import type { QuestionContext } from '../tasks/question-answering.js';
import type { Row } from '../tasks/tabular.js';

/** The input room's shared types: imported by every file of src/inputs, importing none of them. */

/** One input for a run of predict: rows of a table, named tensors, texts, image or audio files, or question/context pairs. */
export type PredictInput =
  | { kind: 'rows'; rows: Row[]; columns?: string[] }
  | { kind: 'tensors'; tensors: Record<string, unknown> }
  | { kind: 'texts'; texts: string[] }
  | { kind: 'images'; files: string[] }
  | { kind: 'audio'; files: string[] }
  | { kind: 'questions'; pairs: QuestionContext[] };

/** What a task reads its input as; each kind is an entry of KINDS (open.ts). */
export type InputKind = 'rows' | 'tensors' | 'texts' | 'questions' | 'images' | 'audio';

/** Where an input comes from. */
export type InputSource =
  /** A file by path, read by its extension; `-` is stdin, whose format is sniffed. */
  | { file: string }
  /** JSON text (`--input`); `where` names it in messages. */
  | { json: string; where: string }
  /** A JSON value already parsed (a field of a request body). */
  | { value: unknown; where: string }
  /** Values from the command line: texts, image files, or rows of comma-separated numbers. */
  | { values: string[] };

export interface OpenOptions {
  /** What `-` reads (default: process.stdin). */
  stdin?: AsyncIterable<Buffer | string> | Iterable<Buffer | string>;
  /** A .npy file becomes this input of the model (default "input"). */
  firstInput?: string;
}

/** A physical line (numbered from 1) as UTF-8 text; `bad` when its bytes are not UTF-8. */
export interface Line {
  line: number;
  text: string;
  bad?: ModelctlError;
}

/** A record with the line it starts on: an item of its kind, or why it could not be read. */
export type InputRecord<T = unknown> =
  | { line: number; value: T; error?: undefined }
  | { line: number; error: ModelctlError; value?: undefined };

/** An input read as records while it is predicted: JSON Lines, CSV (rows) or one text per line. */
export interface RecordStream<T = unknown> {
  format: 'jsonl' | 'csv' | 'lines';
  kind: InputKind;
  /** Where the records come from, for messages: the path or "stdin". */
  where: string;
  /** CSV: the header's column names. */
  columns?: string[];
  records: AsyncIterable<InputRecord<T>>;
}

/** An opened input: a stream of records, or one input read whole (a JSON document, a .npy file, arguments). */
export type OpenedInput = { stream: RecordStream; input?: undefined } | { input: PredictInput; stream?: undefined };
