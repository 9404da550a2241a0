import type { Tokenizer } from '@huggingface/tokenizers';
import { ModelctlError } from '../errors.js';
import type { OnnxValueInfo } from '../onnx/summary.js';
import type { EncodedBatch } from './text-feeds.js';

export { type EncodedBatch, textFeeds } from './text-feeds.js';

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

/** Entries of each of a tokenizer's caches (characters, words) before it starts over. */
const CACHE_SIZE = 50_000;

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
  readonly truncateLeft: boolean;
  private readonly padLeft: boolean;
  private specials: number | undefined;
  private readonly charCache = new Map<string, string>();
  private readonly pieceCache = new Map<string, string[]>();
  /** What makes a text need the library's own tokenize() in spans() (null: every text does); computed once. */
  private addedStrings: string[] | null | undefined;

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
    const normalizer = t.normalizer;
    let normalized = '';
    const from: number[] = [];
    let i = 0;
    for (const c of text) {
      const n = normalizer ? this.normalizeChar(c) : c;
      normalized += n;
      for (let k = 0; k < n.length; k++) from.push(i);
      i++;
    }
    const unsupported = (why: string): ModelctlError =>
      new ModelctlError('NOT_AVAILABLE', `cannot map this tokenizer's tokens back to the text (${why})`, {
        hint: 'token offsets are computed for WordPiece (BERT-like) tokenizers; run the model with --task raw',
      });
    // Rust's tokenizers (so transformers) lowercase a final capital sigma to σ, character by character as here; the
    // JavaScript normalizer lowercases the whole string (ς). That is no reason to refuse the text.
    const sigma = (x: string) => x.replaceAll('ς', 'σ');
    const whole = normalizer ? normalizer.normalize(text) : normalized;
    if (whole !== normalized && sigma(whole) !== sigma(normalized)) throw unsupported('its normalizer is not character by character');
    const words: string[] = t.pre_tokenizer ? t.pre_tokenizer.pre_tokenize(normalized, { section_index: 0 }) : [normalized];
    const prefix = this.subwordPrefix;
    const unkToken = t.model?.unk_token;
    const out: TokenSpans = { tokens: [], ids: [], offsets: [], words: [], wordSpans: [], unknown: [] };
    const span = (a: number, b: number): [number, number] => [from[a] as number, (from[b - 1] as number) + 1];
    let cursor = 0;
    for (let w = 0; w < words.length; w++) {
      const word = words[w] as string;
      const at = normalized.indexOf(word, cursor);
      if (at < 0 || word === '') throw unsupported(`pre-tokenized word ${JSON.stringify(word)} is not in the normalized text`);
      cursor = at + word.length;
      out.wordSpans.push(span(at, cursor));
      let inWord = at;
      const pieces = this.pieces(word);
      for (let k = 0; k < pieces.length; k++) {
        const piece = pieces[k] as string;
        const unknown = piece === unkToken && !normalized.startsWith(piece, inWord);
        let spelled = piece;
        if (unknown) spelled = normalized.slice(inWord, cursor);
        else if (k > 0 && prefix && piece.startsWith(prefix)) spelled = piece.slice(prefix.length);
        if (!normalized.startsWith(spelled, inWord) || spelled === '')
          throw unsupported(`token ${JSON.stringify(piece)} is not spelled as in the text`);
        out.tokens.push(piece);
        out.offsets.push(span(inWord, inWord + spelled.length));
        out.words.push(w);
        out.unknown.push(unknown);
        inWord += spelled.length;
      }
    }
    // The library's own tokenize() runs the same steps on the whole text, except where an added token ([CLS], [MASK])
    // is spelled in the text or the configuration asks for more; only then can its tokens differ from these, and
    // only then is it worth running it again to compare.
    if (whole !== normalized || normalized === '' || !this.plainText(text, normalized)) {
      const expected: string[] = t.tokenize(text);
      if (expected.length !== out.tokens.length || expected.some((tok, i) => tok !== out.tokens[i]))
        throw unsupported('its tokens differ from the word-by-word ones');
    }
    const unk = t.model?.unk_token_id ?? 0;
    out.ids = out.tokens.map((tok) => t.token_to_id(tok) ?? unk);
    return out;
  }

  /** One character through the normalizer, remembered: texts share most of their characters. */
  private normalizeChar(c: string): string {
    const known = this.charCache.get(c);
    if (known !== undefined) return known;
    const n = (this.tokenizer.normalizer as NonNullable<Tokenizer['normalizer']>).normalize(c);
    if (this.charCache.size >= CACHE_SIZE) this.charCache.clear();
    this.charCache.set(c, n);
    return n;
  }

  /** A pre-tokenized word's pieces, remembered (the model cuts a word the same way wherever it is). */
  private pieces(word: string): readonly string[] {
    const model = this.tokenizer.model;
    if (!model) return [word];
    const known = this.pieceCache.get(word);
    if (known !== undefined) return known;
    const pieces: string[] = model._call([word]);
    if (this.pieceCache.size >= CACHE_SIZE) this.pieceCache.clear();
    this.pieceCache.set(word, pieces);
    return pieces;
  }

  /**
   * Whether tokenize() would take the text as one normalized, pre-tokenized section cut word by word by the model:
   * a WordPiece model (no fusing of unknown pieces across words), no added token spelled in the text or in its
   * normalized form, and no remove_space or do_lowercase_and_remove_accent in tokenizer_config.json.
   */
  private plainText(text: string, normalized: string): boolean {
    const model = this.tokenizer.model;
    if (this.addedStrings === undefined) {
      const config = record(this.files.config);
      const json = record(this.files.tokenizer);
      const wordPiece = record(json.model).type === 'WordPiece' && model?.fuse_unk === false;
      const plainConfig = config.remove_space !== true && !config.do_lowercase_and_remove_accent;
      const added = Array.isArray(json.added_tokens) ? json.added_tokens : [];
      const strings = new Set<string>();
      for (const a of added) {
        const content = record(a).content;
        if (typeof content !== 'string') continue;
        strings.add(content);
        if (this.tokenizer.normalizer) strings.add(this.tokenizer.normalizer.normalize(content));
      }
      strings.delete('');
      this.addedStrings = wordPiece && plainConfig ? [...strings] : null;
    }
    if (this.addedStrings === null) return false;
    for (const s of this.addedStrings) if (text.includes(s) || normalized.includes(s)) return false;
    return true;
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

  /** A text's tokens without special tokens, as the library's tokenize() cuts it. */
  tokens(text: string): string[] {
    return this.tokenizer.tokenize(text);
  }

  /** The id of a token of the vocabulary (added tokens included). */
  tokenId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  /** tokenizer_config.json's special token `key` (mask_token, ...) as text, when it names one. */
  configToken(key: string): string | undefined {
    return tokenContent(record(this.files.config)[key]);
  }

  /** Ids back to text as transformers' decode() does: the tokenizer's decoder, then its clean-up when the config asks. */
  decode(ids: readonly number[], skipSpecialTokens: boolean): string {
    const cleanUp = record(this.files.config).clean_up_tokenization_spaces;
    return this.tokenizer.decode([...ids], { skip_special_tokens: skipSpecialTokens, clean_up_tokenization_spaces: cleanUp === true });
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
