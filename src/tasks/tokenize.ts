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

/**
 * The tokenizer of tokenizer.json + tokenizer_config.json. The maximum length is tokenizer_config.json's
 * model_max_length, else config.json's max_position_embeddings, and never more than a fixed sequence length in the
 * graph (`inputs`).
 */
export async function loadTokenizer(files: TokenizerFiles, modelConfig: unknown, inputs: readonly OnnxValueInfo[] = []): Promise<TextTokenizer> {
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
  return new TextTokenizer(tokenizer, files, modelConfig, inputs);
}

export class TextTokenizer {
  readonly maxLength: number | undefined;
  /** A fixed sequence length the ONNX graph demands (every batch is padded to it), when it has one. */
  readonly fixedLength: number | undefined;
  readonly padId: number;
  private readonly truncateLeft: boolean;
  private readonly padLeft: boolean;
  private specials: number | undefined;

  constructor(private readonly tokenizer: Tokenizer, files: TokenizerFiles, modelConfig: unknown, inputs: readonly OnnxValueInfo[] = []) {
    const config = record(files.config);
    const ids = inputs.find((i) => i.name === 'input_ids') ?? inputs[0];
    const fixed = ids?.shape?.[1];
    this.fixedLength = typeof fixed === 'number' && fixed > 0 ? fixed : undefined;
    const declared = positive(config.model_max_length) ?? positive(record(modelConfig).max_position_embeddings);
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
    const processed: { tokens: string[]; token_type_ids?: number[] } = processor ? processor.post_process(kept, null, true) : { tokens: kept };
    const unk = this.tokenizer.model?.unk_token_id ?? 0;
    const ids = processed.tokens.map((t) => this.tokenizer.token_to_id(t) ?? unk);
    return { ids, typeIds: processed.token_type_ids ?? ids.map(() => 0), truncated: true };
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
      attentionMask: encoded.map((e) => pad(e.ids.map(() => 1), 0)),
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
    feeds[input.name] = makeTensor(ctx, input.name, input.dtype ?? 'int64', [rows, width], batch[key].flat());
  }
  if (!feeds.input_ids) throw new ModelctlError('INVALID_INPUT', 'the model has no input_ids input: it does not take text', { hint: 'run it with --task raw' });
  return feeds;
}
