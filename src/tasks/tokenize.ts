import type { Tokenizer } from '@huggingface/tokenizers';
import type { Tensor } from 'onnxruntime-node';
import { ModelctlError } from '../errors.js';
import type { OnnxValueInfo } from '../onnx/summary.js';
import { makeTensor, type RunContext } from './tensors.js';

/**
 * Text to the tensors a transformers ONNX export takes, with @huggingface/tokenizers (the tokenizer.json pipeline
 * in JavaScript). The library encodes one text; truncation to the model's length and padding of a batch are done
 * here the way transformers does them (right side unless tokenizer_config.json says otherwise, special tokens kept).
 * The library is imported when a text model runs, so that tabular and raw predictions do not pay for loading it.
 */

export interface TokenizerFiles {
  /** tokenizer.json */
  tokenizer: unknown;
  /** tokenizer_config.json ({} when absent) */
  config: unknown;
  /** Where they came from, for messages. */
  where: string;
}

export interface EncodedText {
  ids: number[];
  typeIds: number[];
  /** Cut to the model's maximum length. */
  truncated: boolean;
}

export interface EncodedBatch {
  inputIds: number[][];
  attentionMask: number[][];
  tokenTypeIds: number[][];
  truncated: boolean[];
}

/** A text's tokens (no special tokens) with where they come from. */
export interface TokenSpans {
  tokens: string[];
  ids: number[];
  /** [start, end) of each token in the original text, in code points. */
  offsets: Array<[number, number]>;
  /** The pre-tokenizer word each token belongs to. */
  words: number[];
  /** [start, end) of each word in the original text, in code points. */
  wordSpans: Array<[number, number]>;
  /** The token is the unknown token standing for a whole word. */
  unknown: boolean[];
}

export interface FramedTokens {
  ids: number[];
  typeIds: number[];
  /** Where the first (second: -1 when none) sequence starts among the ids. */
  aStart: number;
  bStart: number;
}

/** transformers writes int(1e30) as model_max_length when a tokenizer has no limit of its own. */
const NO_LIMIT = 1_000_000;

function record(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function positive(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value < NO_LIMIT ? value : undefined;
}

function tokenId(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;
}

/** A special token as tokenizer_config.json writes it: a string, or an AddedToken object with `content`. */
function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  const content = record(value).content;
  return typeof content === 'string' ? content : undefined;
}

export interface TokenizerOptions {
  /** The model's own limit, which beats tokenizer_config.json's (sentence-transformers' max_seq_length). */
  maxLength?: number;
}

/**
 * The tokenizer of tokenizer.json + tokenizer_config.json. The maximum length is `options.maxLength`, else
 * tokenizer_config.json's model_max_length, else config.json's max_position_embeddings, and never more than a
 * fixed sequence length in the graph (`inputs`).
 */
export async function loadTokenizer(
  files: TokenizerFiles,
  modelConfig: unknown,
  inputs: readonly OnnxValueInfo[] = [],
  options: TokenizerOptions = {},
): Promise<TextTokenizer> {
  const { Tokenizer } = await import('@huggingface/tokenizers');
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(record(files.tokenizer), record(files.config));
  } catch (err) {
    throw new ModelctlError('INVALID_INPUT', `cannot load the tokenizer from ${files.where}: ${(err as Error).message.split('\n')[0]}`, {
      hint: 'predict reads the tokenizer.json that transformers (fast tokenizers) writes; save the tokenizer again with save_pretrained',
      cause: err,
    });
  }
  return new TextTokenizer(tokenizer, files, modelConfig, inputs, options);
}

export class TextTokenizer {
  readonly maxLength: number | undefined;
  /** A fixed sequence length the ONNX graph demands (every batch is padded to it), when it has one. */
  readonly fixedLength: number | undefined;
  readonly padId: number;
  private readonly truncateLeft: boolean;
  private readonly padLeft: boolean;
  private specials: number | undefined;

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly files: TokenizerFiles,
    modelConfig: unknown,
    inputs: readonly OnnxValueInfo[] = [],
    options: TokenizerOptions = {},
  ) {
    const config = record(files.config);
    const ids = inputs.find((i) => i.name === 'input_ids') ?? inputs[0];
    const fixed = ids?.shape?.[1];
    this.fixedLength = typeof fixed === 'number' && fixed > 0 ? fixed : undefined;
    const declared =
      positive(options.maxLength) ?? positive(config.model_max_length) ?? positive(record(modelConfig).max_position_embeddings);
    this.maxLength = this.fixedLength !== undefined ? Math.min(declared ?? this.fixedLength, this.fixedLength) : declared;
    this.truncateLeft = config.truncation_side === 'left';
    this.padLeft = config.padding_side === 'left';
    const padToken = tokenContent(config.pad_token);
    // Padding positions are masked out, so a model without a pad token (GPT-2) can take any id there.
    this.padId =
      (padToken !== undefined ? this.tokenizer.token_to_id(padToken) : undefined) ??
      tokenId(record(record(files.tokenizer).padding).pad_id) ??
      tokenId(record(modelConfig).pad_token_id) ??
      0;
  }

  /** One text with its special tokens, cut to the maximum length (the special tokens are kept). */
  encode(text: string): EncodedText {
    const full = this.tokenizer.encode(text, { return_token_type_ids: true });
    const max = this.maxLength;
    if (max === undefined || full.ids.length <= max) {
      return { ids: full.ids, typeIds: full.token_type_ids ?? full.ids.map(() => 0), truncated: false };
    }
    // What the post-processor adds ([CLS] ... [SEP], <s> ... </s>) comes back whatever is cut from the text.
    const specials = (this.specials ??= this.tokenizer.encode('').ids.length);
    const tokens = this.tokenizer.tokenize(text);
    const keep = Math.max(0, max - specials);
    const kept = this.truncateLeft ? tokens.slice(tokens.length - keep) : tokens.slice(0, keep);
    const processor = this.tokenizer.post_processor;
    const processed: { tokens: string[]; token_type_ids?: number[] } = processor
      ? processor.post_process(kept, null, true)
      : { tokens: kept };
    const unk = this.tokenizer.model?.unk_token_id ?? 0;
    const ids = processed.tokens.map((t) => this.tokenizer.token_to_id(t) ?? unk);
    return { ids, typeIds: processed.token_type_ids ?? ids.map(() => 0), truncated: true };
  }

  /**
   * A text's tokens without special tokens, each with the characters it came from: the normalizer is applied
   * character by character so that every normalized character knows its source, then the pre-tokenizer's words
   * are found in the normalized text and the model's pieces in each word. Offsets count code points, as Python
   * strings (and transformers' offset mappings) do. Tokenizers whose pieces are not spelled like the text
   * (byte-level BPE, Metaspace) are refused.
   */
  spans(text: string): TokenSpans {
    const t = this.tokenizer;
    const chars = Array.from(text);
    let normalized = '';
    const from: number[] = [];
    chars.forEach((c, i) => {
      const n = t.normalizer ? t.normalizer.normalize(c) : c;
      normalized += n;
      for (let k = 0; k < n.length; k++) from.push(i);
    });
    const unsupported = (why: string): ModelctlError =>
      new ModelctlError('NOT_AVAILABLE', `cannot map this tokenizer's tokens back to the text (${why})`, {
        hint: 'token offsets are computed for WordPiece (BERT-like) tokenizers; run the model with --task raw',
      });
    // Rust's tokenizers (so transformers) lowercase a final capital sigma to σ, character by character as here; the
    // JavaScript normalizer lowercases the whole string (ς). That is no reason to refuse the text.
    const sigma = (x: string) => x.replaceAll('ς', 'σ');
    if (t.normalizer && sigma(t.normalizer.normalize(text)) !== sigma(normalized))
      throw unsupported('its normalizer is not character by character');
    const words: string[] = t.pre_tokenizer ? t.pre_tokenizer.pre_tokenize(normalized) : [normalized];
    const prefix = this.subwordPrefix;
    const unkToken = t.model?.unk_token;
    const out: TokenSpans = { tokens: [], ids: [], offsets: [], words: [], wordSpans: [], unknown: [] };
    const span = (a: number, b: number): [number, number] => [from[a] as number, (from[b - 1] as number) + 1];
    let cursor = 0;
    words.forEach((word, w) => {
      const at = normalized.indexOf(word, cursor);
      if (at < 0 || word === '') throw unsupported(`pre-tokenized word ${JSON.stringify(word)} is not in the normalized text`);
      cursor = at + word.length;
      out.wordSpans.push(span(at, cursor));
      let inWord = at;
      const pieces: string[] = t.model ? t.model._call([word]) : [word];
      pieces.forEach((piece, k) => {
        const unknown = piece === unkToken && !normalized.startsWith(piece, inWord);
        let spelled = piece;
        if (unknown) spelled = normalized.slice(inWord, at + word.length);
        else if (k > 0 && prefix && piece.startsWith(prefix)) spelled = piece.slice(prefix.length);
        if (!normalized.startsWith(spelled, inWord) || spelled === '')
          throw unsupported(`token ${JSON.stringify(piece)} is not spelled as in the text`);
        out.tokens.push(piece);
        out.offsets.push(span(inWord, inWord + spelled.length));
        out.words.push(w);
        out.unknown.push(unknown);
        inWord += spelled.length;
      });
    });
    const expected: string[] = t.tokenize(text);
    if (expected.length !== out.tokens.length || expected.some((tok, i) => tok !== out.tokens[i]))
      throw unsupported('its tokens differ from the word-by-word ones');
    const unk = t.model?.unk_token_id ?? 0;
    out.ids = out.tokens.map((tok) => t.token_to_id(tok) ?? unk);
    return out;
  }

  /** The special tokens around one sequence or a pair, as the post-processor adds them; where each sequence starts. */
  frame(a: readonly string[], b?: readonly string[]): FramedTokens {
    const processor = this.tokenizer.post_processor;
    const done: { tokens: string[]; token_type_ids?: number[] } = processor
      ? processor.post_process([...a], b ? [...b] : null, true)
      : { tokens: [...a, ...(b ?? [])] };
    const find = (seq: readonly string[], from: number): number => {
      for (let i = from; i + seq.length <= done.tokens.length; i++) if (seq.every((x, k) => done.tokens[i + k] === x)) return i;
      throw new ModelctlError('INVALID_INPUT', "the tokenizer's post-processor reorders the tokens", {
        hint: 'run the model with --task raw',
      });
    };
    const aStart = find(a, 0);
    const bStart = b ? find(b, aStart + a.length) : -1;
    const unk = this.tokenizer.model?.unk_token_id ?? 0;
    return {
      ids: done.tokens.map((x) => this.tokenizer.token_to_id(x) ?? unk),
      typeIds: done.token_type_ids ?? done.tokens.map(() => 0),
      aStart,
      bStart,
    };
  }

  /** How many special tokens the post-processor adds to one sequence, or to a pair. */
  specialCount(pair: boolean): number {
    return this.frame([], pair ? [] : undefined).ids.length;
  }

  /** Tokens back to text with the tokenizer's decoder (WordPiece joins "##" pieces), as transformers' convert_tokens_to_string. */
  tokensToString(tokens: readonly string[]): string {
    return this.tokenizer.decoder ? this.tokenizer.decoder.decode([...tokens]) : tokens.join(' ');
  }

  get subwordPrefix(): string | undefined {
    const p = record(record(this.files.tokenizer).model).continuing_subword_prefix;
    return typeof p === 'string' && p !== '' ? p : undefined;
  }

  /** Rows of ids (already framed) padded as encodeBatch pads; `starts` says where each row's first id landed. */
  padRows(rows: ReadonlyArray<{ ids: number[]; typeIds: number[] }>): EncodedBatch & { starts: number[] } {
    const width = this.fixedLength ?? rows.reduce((max, e) => Math.max(max, e.ids.length), 0);
    if (rows.some((r) => r.ids.length > width))
      throw new ModelctlError('INVALID_INPUT', `a text is longer than the ${width} tokens the model takes`);
    const pad = (row: number[], value: number): number[] => {
      const fill = new Array<number>(width - row.length).fill(value);
      return this.padLeft ? [...fill, ...row] : [...row, ...fill];
    };
    return {
      inputIds: rows.map((e) => pad(e.ids, this.padId)),
      attentionMask: rows.map((e) =>
        pad(
          e.ids.map(() => 1),
          0,
        ),
      ),
      tokenTypeIds: rows.map((e) => pad(e.typeIds, 0)),
      truncated: rows.map(() => false),
      starts: rows.map((e) => (this.padLeft ? width - e.ids.length : 0)),
    };
  }

  /** Texts padded to the longest (or to the graph's fixed length), with their attention masks. */
  encodeBatch(texts: readonly string[]): EncodedBatch {
    const encoded = texts.map((t) => this.encode(t));
    // A loop, not Math.max(...lengths): spreading a large batch into arguments overflows the stack.
    const width = this.fixedLength ?? encoded.reduce((max, e) => Math.max(max, e.ids.length), 0);
    const pad = (row: number[], value: number): number[] => {
      const fill = new Array<number>(width - row.length).fill(value);
      return this.padLeft ? [...fill, ...row] : [...row, ...fill];
    };
    return {
      inputIds: encoded.map((e) => pad(e.ids, this.padId)),
      attentionMask: encoded.map((e) =>
        pad(
          e.ids.map(() => 1),
          0,
        ),
      ),
      tokenTypeIds: encoded.map((e) => pad(e.typeIds, 0)),
      truncated: encoded.map((e) => e.truncated),
    };
  }
}

const FEEDS: Record<string, keyof Omit<EncodedBatch, 'truncated'>> = {
  input_ids: 'inputIds',
  attention_mask: 'attentionMask',
  token_type_ids: 'tokenTypeIds',
};

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Ids, masks and type ids straight into the typed array an int64 or int32 input takes, without a flat JS copy or a
 * BigInt per value: a non-negative int64 below 2^31 is its low 32-bit word with a zero high word. Undefined when a
 * row or value does not fit that pattern; makeTensor then builds the tensor (or the error) as it always has.
 */
function idTensor(ctx: RunContext, type: string, rows: readonly number[][], width: number): Tensor | undefined {
  if ((type !== 'int64' || !LITTLE_ENDIAN) && type !== 'int32') return undefined;
  const words = new Int32Array(rows.length * width * (type === 'int64' ? 2 : 1));
  const step = type === 'int64' ? 2 : 1;
  let at = 0;
  for (const row of rows) {
    if (row.length !== width) return undefined;
    for (let i = 0; i < width; i++) {
      const v = row[i] as number;
      if (!(v >= 0 && v <= 0x7fffffff) || !Number.isInteger(v)) return undefined;
      words[at] = v;
      at += step;
    }
  }
  const dims = [rows.length, width];
  return type === 'int64' ? new ctx.Tensor('int64', new BigInt64Array(words.buffer), dims) : new ctx.Tensor('int32', words, dims);
}

/** The tensors the model takes (only those), in its element types; an input a tokenizer cannot fill is an error. */
export function textFeeds(ctx: RunContext, batch: EncodedBatch): Record<string, Tensor> {
  const rows = batch.inputIds.length;
  const width = batch.inputIds[0]?.length ?? 0;
  const feeds: Record<string, Tensor> = {};
  for (const input of ctx.inputs) {
    const key = FEEDS[input.name];
    if (!key) {
      throw new ModelctlError('INVALID_INPUT', `the model takes input ${input.name}, which a tokenizer does not produce`, {
        hint: `a text task fills ${Object.keys(FEEDS).join(', ')}; run the model with --task raw`,
      });
    }
    const type = input.dtype ?? 'int64';
    feeds[input.name] = idTensor(ctx, type, batch[key], width) ?? makeTensor(ctx, input.name, type, [rows, width], batch[key].flat());
  }
  if (!feeds.input_ids)
    throw new ModelctlError('INVALID_INPUT', 'the model has no input_ids input: it does not take text', { hint: 'run it with --task raw' });
  return feeds;
}
