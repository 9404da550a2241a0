import { ModelctlError } from '../../errors.js';
import { choice, flag, int, list, text, value, type OptionSpecs } from '../declare.js';

/** predict's text-generation flags (--top-k is predict's own, shared with the classifiers). */
export interface GenerationFlags {
  maxNewTokens?: number;
  /** Absent unless --sample or --no-sample is given: generation_config.json decides (and the sampling flags imply it). */
  sample?: boolean;
  temperature?: number;
  topP?: number;
  seed?: number;
  repetitionPenalty?: number;
  stop?: string[];
  chat?: string;
  /** Encoder-decoder models: beam search. */
  numBeams?: number;
  lengthPenalty?: number;
  earlyStopping?: 'true' | 'false' | 'never';
  noRepeatNgramSize?: number;
  /** automatic-speech-recognition (Whisper). */
  language?: string;
  speechTask?: 'transcribe' | 'translate';
  chunkLength?: number;
  stride?: number;
  returnTimestamps?: boolean;
}

export function positiveNumber(textValue: string, flagName: string): number {
  const v = Number(textValue);
  if (textValue.trim() === '' || !Number.isFinite(v) || v <= 0)
    throw new ModelctlError('USAGE', `${flagName} takes a number above 0, got "${textValue}"`);
  return v;
}

function topP(textValue: string, flagName: string): number {
  const v = positiveNumber(textValue, flagName);
  if (v > 1) throw new ModelctlError('USAGE', `${flagName} takes a number above 0 and at most 1, got "${textValue}"`);
  return v;
}

export const generationOptions: OptionSpecs<GenerationFlags> = {
  maxNewTokens: int(
    '--max-new-tokens <n>',
    'generation (text, encoder-decoder, speech recognition, image-to-text): new tokens at most (default: generation_config.json, else 20; image-to-text 256)',
    1,
  ),
  sample: flag(
    '--sample',
    "generation: sample the next token (default: generation_config.json's do_sample; --temperature, --top-p, --top-k and --seed imply it)",
    { negation: 'generation: greedy decoding (or beam search), whatever generation_config.json or the sampling flags say' },
  ),
  temperature: value('--temperature <t>', 'generation: divide the logits by T before sampling', positiveNumber),
  topP: value('--top-p <p>', 'generation: sample from the fewest tokens whose probabilities add up to P', topP),
  seed: int('--seed <n>', 'generation: seed of the sampler: the same seed gives the same tokens (default: random, printed with --json)', 0),
  repetitionPenalty: value(
    '--repetition-penalty <r>',
    "generation: divide the scores of tokens already in the text by R (transformers' repetition_penalty)",
    positiveNumber,
  ),
  stop: list('--stop <text>', 'generation (not speech recognition): stop when the text ends with TEXT (repeatable; TEXT is not printed)'),
  numBeams: int(
    '--num-beams <n>',
    'encoder-decoder models (text2text-generation, translation, summarization, automatic-speech-recognition, image-to-text): beam search with N beams (default: generation_config.json, else 1)',
    1,
  ),
  lengthPenalty: value(
    '--length-penalty <x>',
    'beam search: finished beams scored sum(log p) / length ** X (default: generation_config.json, else 1)',
    (t, f) => {
      const v = Number(t);
      if (t.trim() === '' || !Number.isFinite(v)) throw new ModelctlError('USAGE', `${f} takes a number, got "${t}"`);
      return v;
    },
  ),
  earlyStopping: choice(
    '--early-stopping <when>',
    "beam search: true (stop when N beams are finished), false (transformers' heuristic) or never (default: generation_config.json, else false)",
    ['true', 'false', 'never'] as const,
  ),
  noRepeatNgramSize: int(
    '--no-repeat-ngram-size <n>',
    'generation: no N-gram of N tokens occurs twice (default: generation_config.json, else off)',
    0,
  ),
  language: text(
    '--language <code>',
    'automatic-speech-recognition: the spoken language, a code or a name (en, de, english, German...; default: detected per 30 s window)',
  ),
  speechTask: choice(
    '--speech-task <task>',
    "automatic-speech-recognition: transcribe (the spoken language's text) or translate (into English) (default: generation_config.json, else transcribe)",
    ['transcribe', 'translate'] as const,
  ),
  chunkLength: value(
    '--chunk-length <seconds>',
    "automatic-speech-recognition: audio longer than this is cut into windows of this length (default 30, the model's window)",
    positiveNumber,
  ),
  stride: value(
    '--stride <seconds>',
    "automatic-speech-recognition: overlap on each side of a window, merged away as transformers' pipeline does (default: chunk length / 6)",
    (t, f) => {
      const v = Number(t);
      if (t.trim() === '' || !Number.isFinite(v) || v < 0)
        throw new ModelctlError('USAGE', `${f} takes a number of seconds of at least 0, got "${t}"`);
      return v;
    },
  ),
  returnTimestamps: flag(
    '--return-timestamps',
    "automatic-speech-recognition: decode with Whisper's timestamp tokens and give chunks with [start, end] seconds (as transformers' pipeline(return_timestamps=True))",
  ),
  chat: text(
    '--chat <file|prompt>',
    'text-generation: a conversation (.jsonl of {"role", "content"}, or a JSON array) or one user message, rendered with the model\'s chat template',
  ),
};
