/**
 * Whisper's seek loop, as transformers' WhisperForConditionalGeneration.generate() runs it for one input (batch 1,
 * no temperature fallback, not conditioned on previous tokens): the log-mel features are read 30 s (3000 frames) at a
 * time from a `seek` position; each pass is decoded from the same prompt, its tokens split into segments at pairs of
 * timestamp tokens (_retrieve_segment), and the features are read again from the last complete segment's end when the
 * pass stopped inside the window (the unfinished segment after it is dropped). A pass that ends with a single
 * timestamp, or has no pair of timestamps, covers the rest of the window. The passes' kept tokens, concatenated, are
 * generate()'s output, which the pipeline's _decode_asr turns into chunks (speech-timestamps.ts handles timestamps
 * that restart below the running maximum there).
 *
 * Without timestamp tokens a pass has no pairs, so the loop is one pass over the window (the short-form decode).
 */

/** Mel frames per encoder position: Whisper's two convolutions' strides (1 and 2). */
export const INPUT_STRIDE = 2;

export interface SegmentCut {
  /** The tokens kept from this pass (every complete segment; all of them when the pass covered the window). */
  tokens: number[];
  /** How many mel frames the seek position moves forward. */
  advance: number;
}

/**
 * transformers' _retrieve_segment on one pass's new tokens (its end token already removed), for a pass that read
 * `frames` mel frames: the kept tokens and how far to seek. A pass that would not move (a pair of timestamps at
 * <|0.00|>, where transformers would read the same window forever) moves over the whole window instead.
 */
export function cutSegments(tokens: readonly number[], timestampBegin: number, frames: number): SegmentCut {
  const isTimestamp = tokens.map((t) => t >= timestampBegin);
  const n = tokens.length;
  const singleEnding = n >= 2 && !isTimestamp[n - 2] && isTimestamp[n - 1] === true;
  const pairs: number[] = [];
  for (let i = 0; i + 1 < n; i++) if (isTimestamp[i] && isTimestamp[i + 1]) pairs.push(i + 1);
  if (pairs.length === 0 || singleEnding) return { tokens: [...tokens], advance: frames };
  // The last pair's second timestamp ends the kept tokens; seek to its first (the last complete segment's end).
  const end = (pairs.at(-1) as number) + 1;
  const advance = ((tokens[end - 2] as number) - timestampBegin) * INPUT_STRIDE;
  return { tokens: tokens.slice(0, end), advance: advance > 0 ? advance : frames };
}

/**
 * The features [1, mels, total] read from frame `seek`, `frames` of them, zero-padded to `segment` frames (as
 * _get_input_segment pads with zeros, not with the log-mel of silence).
 */
export function featureSegment(
  data: Float32Array,
  mels: number,
  total: number,
  seek: number,
  frames: number,
  segment: number,
): Float32Array {
  if (seek === 0 && frames === total && total === segment) return data;
  const out = new Float32Array(mels * segment);
  for (let m = 0; m < mels; m++) out.set(data.subarray(m * total + seek, m * total + seek + frames), m * segment);
  return out;
}

/**
 * generation_config.json's max_length for pass `pass` (0 first): transformers raises it by the prompt's length on every
 * pass (_set_max_new_tokens_and_length, "conditioned on previous segment"), within the decoder's positions.
 */
export function passMaxLength(maxLength: number, promptLength: number, pass: number, positions?: number): number {
  const initial = positions !== undefined ? Math.min(Math.floor(positions / 2) - 1, promptLength) : promptLength;
  return Math.min(maxLength + (pass + 1) * initial, positions ?? Number.POSITIVE_INFINITY);
}
