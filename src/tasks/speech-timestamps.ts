/**
 * The pipeline's tokenizer._decode_asr with return_timestamps=True (segment timestamps): each window's new tokens
 * read in order, a timestamp token opening a chunk and the next different one closing it, the time being the
 * token's offset (time_precision seconds per step: 30 s / 1500 encoder frames) plus the window's start, a window's
 * left stride skipping timestamps it overlaps with the previous window and its right stride ending it at the last
 * timestamp before the stride; the text of a chunk is its windows' tokens joined where they overlap best
 * (mergeOverlaps) and decoded. A chunk left open at the end has no end time (null), as the pipeline's.
 */

export interface TimestampChunk {
  timestamp: [number | null, number | null];
  text: string;
}

export interface TimestampWindow {
  /** The new tokens of the window (the prompt left out). */
  tokens: readonly number[];
  /** Seconds: the window's length and its strides on the left and on the right. */
  stride: [number, number, number];
}

export interface TimestampDecoding {
  timestampBegin: number;
  timePrecision: number;
  isSpecial: (id: number) => boolean;
  decode: (ids: number[]) => string;
  /** Encoder frames per window (1500): a timestamp below the window's running maximum starts a new segment there. */
  segmentSize?: number;
}

/** transformers' _find_longest_common_sequence (no timestamps): consecutive windows joined where they overlap best. */
export function mergeOverlaps(sequences: readonly (readonly number[])[]): number[] {
  let left = [...(sequences[0] ?? [])];
  const total: number[] = [];
  for (const right of sequences.slice(1)) {
    let best = 0;
    let found: [number, number, number, number] = [left.length, left.length, 0, 0];
    for (let i = 1; i < left.length + right.length; i++) {
      const leftStart = Math.max(0, left.length - i);
      const leftStop = Math.min(left.length, left.length + right.length - i);
      const rightStart = Math.max(0, i - left.length);
      let matches = 0;
      for (let k = 0; k < leftStop - leftStart; k++) if (left[leftStart + k] === right[rightStart + k]) matches++;
      const matching = matches / i + i / 10000;
      if (matches > 1 && matching > best) {
        best = matching;
        found = [leftStart, leftStop, rightStart, Math.min(right.length, i)];
      }
    }
    const [ls, le, rs, re] = found;
    total.push(...left.slice(0, Math.floor((ls + le) / 2)));
    left = right.slice(Math.floor((rs + re) / 2));
  }
  return [...total, ...left];
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

export function timestampChunks(windows: readonly TimestampWindow[], d: TimestampDecoding): { text: string; chunks: TimestampChunk[] } {
  const begin = d.timestampBegin;
  const precision = d.timePrecision;
  const chunks: TimestampChunk[] = [];
  let chunk: TimestampChunk = { timestamp: [null, null], text: '' };
  let timeOffset = 0;
  let previous: number[][] = [];
  let skip = false;
  const close = (): void => {
    const ids = mergeOverlaps(previous);
    chunk.text = ids.length > 0 ? d.decode(ids) : '';
    chunks.push(chunk);
  };
  for (const w of windows) {
    const ids = w.tokens;
    let lastTimestamp: number | undefined;
    let firstTimestamp = begin;
    let curMax = 0;
    let prevSegmentsLen = 0;
    let penultimate = 0;
    const [chunkLen, strideLeft, strideRight] = w.stride;
    timeOffset -= strideLeft;
    const rightStrideStart = chunkLen - strideRight;
    if (strideLeft) firstTimestamp = strideLeft / precision + begin;
    if (strideRight) {
      for (let k = ids.length - 1; k >= 0; k--) {
        const token = ids[k] as number;
        if (token < begin) continue;
        if (lastTimestamp !== undefined && (token - begin) * precision < rightStrideStart) break;
        lastTimestamp = token;
      }
    }
    let current: number[] = [];
    for (const [i, token] of ids.entries()) {
      if (d.isSpecial(token)) continue;
      if (token < begin) {
        current.push(token);
        continue;
      }
      const timestamp = (token - begin) * precision;
      if (timestamp < curMax) {
        const singleEnding = i >= 2 && !((ids[i - 1] as number) >= begin && (ids[i - 2] as number) >= begin);
        if (singleEnding) prevSegmentsLen += precision * (d.segmentSize ?? 1500);
        else {
          curMax = penultimate;
          prevSegmentsLen += penultimate;
        }
      }
      penultimate = curMax;
      curMax = timestamp;
      const time = round2((token - begin) * precision + timeOffset + prevSegmentsLen);
      if (lastTimestamp !== undefined && lastTimestamp !== 0 && token >= lastTimestamp) skip = true;
      else if (skip || (previous.length > 0 && token < firstTimestamp)) skip = false;
      else if (chunk.timestamp[0] === null) chunk.timestamp[0] = time;
      else if (time !== chunk.timestamp[0]) {
        chunk.timestamp[1] = time;
        previous.push(current);
        close();
        previous = [];
        current = [];
        chunk = { timestamp: [null, null], text: '' };
      }
    }
    timeOffset += chunkLen - strideRight;
    if (current.length > 0) previous.push(current);
    else if (!previous.some((p) => p.length > 0)) {
      chunk = { timestamp: [null, null], text: '' };
      previous = [];
    }
  }
  if (previous.length > 0) close();
  return { text: chunks.map((c) => c.text).join(''), chunks };
}
