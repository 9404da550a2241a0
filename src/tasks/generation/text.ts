import type { Tokenizer } from '@huggingface/tokenizers';
import { ModelctlError } from '../../errors.js';
import type { TokenizerFiles } from '../tokenize.js';

/**
 * Text in and out of a causal LM: the prompt encoded as transformers' tokenizer(prompt) does (special tokens as the
 * post-processor adds them; none for a chat prompt, whose template writes them, as apply_chat_template(tokenize=True)
 * does), the generated ids decoded as the text-generation pipeline does (skip_special_tokens=True), and the text
 * released as it grows: never half a character (a byte-level token may end inside one) nor the start of a stop string.
 */

export class GenerationTokenizer {
  constructor(private readonly tokenizer: Tokenizer) {}

  encode(text: string, addSpecialTokens: boolean): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids;
  }

  decode(ids: readonly number[]): string {
    return this.tokenizer.decode([...ids], { skip_special_tokens: true });
  }

  /** Whether `id` is a special token: one that skip_special_tokens leaves out of the text. */
  isSpecial(id: number): boolean {
    return (
      this.tokenizer.decode([id], { skip_special_tokens: true }) === '' &&
      this.tokenizer.decode([id], { skip_special_tokens: false }) !== ''
    );
  }

  tokenId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token) ?? undefined;
  }
}

export async function loadGenerationTokenizer(files: TokenizerFiles): Promise<GenerationTokenizer> {
  const { Tokenizer } = await import('@huggingface/tokenizers');
  const record = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
  try {
    return new GenerationTokenizer(new Tokenizer(record(files.tokenizer), record(files.config)));
  } catch (err) {
    throw new ModelctlError('INVALID_INPUT', `cannot load the tokenizer from ${files.where}: ${(err as Error).message.split('\n')[0]}`, {
      hint: 'predict reads the tokenizer.json that transformers (fast tokenizers) writes; save the tokenizer again with save_pretrained',
      cause: err,
    });
  }
}

/** Where the first stop string ends up in `text`, searched from `from`: [start of the stop string, its length]. */
function findStop(text: string, stops: readonly string[], from: number): number {
  let at = -1;
  for (const s of stops) {
    const i = text.indexOf(s, Math.max(0, from - s.length + 1));
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  return at;
}

/** How many characters at the end of `text` could be the beginning of a stop string. */
function stopPrefixLength(text: string, stops: readonly string[]): number {
  let hold = 0;
  for (const s of stops) {
    for (let n = Math.min(s.length - 1, text.length); n > hold; n--) {
      if (text.endsWith(s.slice(0, n))) {
        hold = n;
        break;
      }
    }
  }
  return hold;
}

/**
 * The generated text as tokens come: push() each token id, get back the text that can be shown now; finish() gives
 * what was held back. `stopped` is set once a stop string appears (the text is cut before it).
 */
export class TextStream {
  private readonly ids: number[] = [];
  private shown = 0;
  private text = '';
  stopped = false;

  constructor(
    private readonly tokenizer: GenerationTokenizer,
    private readonly stops: readonly string[],
  ) {}

  push(id: number): string {
    this.ids.push(id);
    const before = this.text.length;
    this.text = this.tokenizer.decode(this.ids);
    const at = this.stops.length ? findStop(this.text, this.stops, before) : -1;
    if (at >= 0) {
      this.text = this.text.slice(0, at);
      this.stopped = true;
      return this.release(this.text.length);
    }
    // A byte-level token can end in the middle of a character, which decodes as U+FFFD until the rest comes.
    let end = this.text.length;
    while (end > this.shown && this.text[end - 1] === '\uFFFD') end--;
    return this.release(end - stopPrefixLength(this.text.slice(0, end), this.stops));
  }

  private release(end: number): string {
    if (end <= this.shown) return '';
    const piece = this.text.slice(this.shown, end);
    this.shown = end;
    return piece;
  }

  /** The rest of the text once generation ends (what was held back for a possible stop string or character). */
  finish(): string {
    return this.release(this.text.length);
  }

  get value(): string {
    return this.text;
  }
}
