/**
 * Speech recognition's own pieces, without a model: the windows long audio is cut into (the pipeline's chunk_iter),
 * how overlapping windows' tokens are joined (transformers' _find_longest_common_sequence, on the cases below, whose
 * answers that function gives), the decoder prompt from generation_config.json, the fixture's FLAC and MP3 decoded
 * against its WAV, and the refusals of the command line. The parity suite (test/parity/asr.test.ts) runs the model.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeAudio } from '../../src/inputs/audio.js';
import { maxLengthFor } from '../../src/tasks/generation/config.js';
import { processScores } from '../../src/tasks/generation/constraints.js';
import { seq2seqSettings } from '../../src/tasks/generation/seq2seq-config.js';
import { mergeOverlaps, speechWindows, whisperPrompt } from '../../src/tasks/speech-recognition.js';
import { cutSegments, featureSegment, passMaxLength } from '../../src/tasks/whisper-seek.js';
import { FIXTURES, ROOT, cli } from '../helpers.js';

const AUDIO = join(ROOT, 'fixtures', 'asr', 'audio');
const GENERATION = JSON.parse(readFileSync(join(FIXTURES, 'asr-whisper-tiny', 'generation_config.json'), 'utf8')) as Record<
  string,
  unknown
>;

describe('Whisper generate()’s seek loop (transformers’ _retrieve_segment, _get_input_segment)', () => {
  // Timestamp tokens from 100 (<|0.00|>), steps of two mel frames.
  const T = (k: number): number => 100 + k;
  it('keeps a pass up to its last pair of timestamps and seeks to the first of that pair', () => {
    // <|0.00|> a b <|1.00|><|1.00|> c d <|2.00|><|2.00|> e   (cut by the length limit in the middle of a segment)
    const ids = [T(0), 1, 2, T(50), T(50), 3, 4, T(100), T(100), 5];
    expect(cutSegments(ids, 100, 3000)).toEqual({ tokens: ids.slice(0, 9), advance: 200 });
  });
  it('covers the window when the pass ends on a single timestamp or has no pair at all', () => {
    expect(cutSegments([T(0), 1, 2, T(50), T(50), 3, T(80)], 100, 3000)).toEqual({
      tokens: [T(0), 1, 2, T(50), T(50), 3, T(80)],
      advance: 3000,
    });
    expect(cutSegments([T(0), 1, 2, T(70)], 100, 1200)).toEqual({ tokens: [T(0), 1, 2, T(70)], advance: 1200 });
    expect(cutSegments([1, 2, 3], 100, 3000)).toEqual({ tokens: [1, 2, 3], advance: 3000 });
    expect(cutSegments([], 100, 3000)).toEqual({ tokens: [], advance: 3000 });
  });
  it('moves on past a window whose only pair is at <|0.00|> (where transformers would read it forever)', () => {
    expect(cutSegments([T(0), T(0), 1, 2], 100, 3000)).toEqual({ tokens: [T(0), T(0)], advance: 3000 });
  });
  it('reads features from the seek frame, zero-padded to the window', () => {
    // Two mel bins, five frames: bin m frame f = 10 m + f.
    const data = Float32Array.from([0, 1, 2, 3, 4, 10, 11, 12, 13, 14]);
    expect([...featureSegment(data, 2, 5, 3, 2, 4)]).toEqual([3, 4, 0, 0, 13, 14, 0, 0]);
    expect(featureSegment(data, 2, 5, 0, 5, 5)).toBe(data);
  });
  it('raises max_length by the prompt on every pass, within the positions', () => {
    expect(passMaxLength(20, 4, 0, 448)).toBe(24);
    expect(passMaxLength(20, 4, 2, 448)).toBe(32);
    expect(passMaxLength(448, 4, 0, 448)).toBe(448);
  });
});

describe('long audio in windows', () => {
  it('cuts as chunk_iter: one window up to the chunk length, then steps of chunk - 2 * stride, strides inside only', () => {
    const rate = 16000;
    expect(speechWindows(4 * rate, 30 * rate, 5 * rate)).toEqual([[0, 4 * rate, 0, 0]]);
    expect(speechWindows(30 * rate, 30 * rate, 5 * rate)).toEqual([[0, 30 * rate, 0, 0]]);
    expect(speechWindows(45 * rate, 30 * rate, 5 * rate)).toEqual([
      [0, 30 * rate, 0, 5 * rate],
      [20 * rate, 45 * rate, 5 * rate, 0],
    ]);
    expect(speechWindows(45 * rate, 20 * rate, 4 * rate)).toEqual([
      [0, 20 * rate, 0, 4 * rate],
      [12 * rate, 32 * rate, 4 * rate, 4 * rate],
      [24 * rate, 44 * rate, 4 * rate, 4 * rate],
      [36 * rate, 45 * rate, 4 * rate, 0],
    ]);
    expect(() => speechWindows(45 * rate, 10 * rate, 5 * rate)).toThrow(/more than twice the stride/);
  });

  it('joins windows where they overlap best, each side keeping its half of the overlap', () => {
    const cases: Array<[number[][], number[]]> = [
      [
        [
          [1, 2, 3, 4],
          [3, 4, 5],
        ],
        [1, 2, 3, 4, 5],
      ],
      [
        [
          [1, 2, 3, 4, 5, 6],
          [4, 5, 6, 7, 8],
          [7, 8, 9, 10],
        ],
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      ],
      [
        [
          [1, 2, 3],
          [4, 5, 6],
        ],
        [1, 2, 3, 4, 5, 6],
      ],
      [
        [
          [1, 2, 3, 9, 4],
          [3, 8, 4, 5, 6],
        ],
        [1, 2, 3, 8, 4, 5, 6],
      ],
      [
        [
          [7, 7, 7, 7],
          [7, 7, 7, 8],
        ],
        [7, 7, 7, 7, 8],
      ],
      [
        [[], [1, 2]],
        [1, 2],
      ],
      [
        [[1, 2], []],
        [1, 2],
      ],
    ];
    for (const [windows, joined] of cases) expect(mergeOverlaps(windows), JSON.stringify(windows)).toEqual(joined);
  });
});

describe('the decoder prompt from generation_config.json', () => {
  const id = (k: string) => (GENERATION.lang_to_id as Record<string, number>)[k];
  const task = (k: string) => (GENERATION.task_to_id as Record<string, number>)[k];
  it('language (code or token), task and no-timestamps tokens; no language: detected', () => {
    const rest = (t: string) => [task(t), GENERATION.no_timestamps_token_id];
    expect(whisperPrompt(GENERATION, { language: 'en' })).toEqual({ language: id('<|en|>'), rest: rest('transcribe') });
    expect(whisperPrompt(GENERATION, { language: '<|fr|>', task: 'translate' })).toEqual({
      language: id('<|fr|>'),
      rest: rest('translate'),
    });
    // Detected language, no task named: no task token (transformers' _retrieve_init_tokens).
    expect(whisperPrompt(GENERATION, {})).toEqual({ rest: [GENERATION.no_timestamps_token_id] });
    expect(whisperPrompt(GENERATION, { task: 'translate' })).toEqual({ rest: rest('translate') });
    expect(whisperPrompt({ ...GENERATION, language: 'de' }, {})).toEqual({ language: id('<|de|>'), rest: rest('transcribe') });
  });

  it('refuses a language the model lacks, and a language or translation for an English-only model', () => {
    expect(() => whisperPrompt(GENERATION, { language: 'xx' })).toThrow(/the model knows no language "xx"/);
    const english = { ...GENERATION, lang_to_id: undefined, task_to_id: undefined };
    expect(() => whisperPrompt(english, { language: 'en' })).toThrow(/not multilingual: it takes no --language/);
    expect(() => whisperPrompt(english, { task: 'translate' })).toThrow(/not multilingual: it only transcribes/);
    expect(whisperPrompt(english, {})).toEqual({ rest: [GENERATION.no_timestamps_token_id] });
  });

  it('goes through the shared processor chain: begin_suppress_tokens at the first new token only, suppress_tokens always', () => {
    const settings = seq2seqSettings({ numBeams: 1 }, GENERATION, {});
    const suppress = GENERATION.suppress_tokens as number[];
    const begin = GENERATION.begin_suppress_tokens as number[];
    expect(settings.suppressTokens).toEqual(suppress);
    expect(settings.beginSuppressTokens).toEqual(begin);
    // <|startoftranscript|> <|en|> <|transcribe|> <|notimestamps|>: four tokens, so the first new token is the fifth.
    const prompt = [
      settings.decoderStartTokenId,
      id('<|en|>') as number,
      task('transcribe') as number,
      GENERATION.no_timestamps_token_id as number,
    ];
    // max_length counts the prompt: 64 in all, 60 new tokens.
    const place = { inputLength: prompt.length, maxLength: maxLengthFor(settings, prompt.length) };
    expect(place.maxLength).toBe(GENERATION.max_length);
    const banned = (sequence: number[]) => {
      const scores = new Float32Array(512).fill(1);
      processScores(scores, sequence, settings, place);
      return [...scores.keys()].filter((i) => scores[i] === Number.NEGATIVE_INFINITY).sort((a, b) => a - b);
    };
    expect(banned(prompt)).toEqual([...new Set([...suppress, ...begin])].sort((a, b) => a - b));
    expect(banned([...prompt, 5])).toEqual([...suppress].sort((a, b) => a - b));
  });
});

describe('FLAC and MP3 input', () => {
  it('decode to the WAV’s samples: FLAC (the same 16-bit integers) exactly, MP3 aligned and close', async () => {
    const wav = await decodeAudio(readFileSync(join(AUDIO, 'speech.wav')), 'wav');
    const flac = await decodeAudio(readFileSync(join(AUDIO, 'speech.flac')), 'flac');
    expect({ rate: flac.sampleRate, channels: flac.channels, encoding: flac.encoding }).toEqual({
      rate: 16000,
      channels: 1,
      encoding: 'flac',
    });
    expect(flac.samples).toEqual(wav.samples);
    const mp3 = await decodeAudio(readFileSync(join(AUDIO, 'speech.mp3')), 'mp3');
    expect({ rate: mp3.sampleRate, encoding: mp3.encoding, length: mp3.samples.length }).toEqual({
      rate: 16000,
      encoding: 'mp3',
      length: wav.samples.length,
    });
    let err = 0;
    let power = 0;
    for (let k = 0; k < wav.samples.length; k++) {
      err += ((mp3.samples[k] as number) - (wav.samples[k] as number)) ** 2;
      power += (wav.samples[k] as number) ** 2;
    }
    expect(10 * Math.log10(power / err)).toBeGreaterThan(20);
  });
});

describe('predict’s speech flags', () => {
  it('are refused for other tasks (exit 2)', async () => {
    const model = join(FIXTURES, 'optimum-bert', 'model.onnx');
    for (const flag of [
      ['--language', 'en'],
      ['--speech-task', 'translate'],
      ['--chunk-length', '10'],
      ['--stride', '2'],
    ]) {
      const r = await cli(['predict', model, 'some text', ...flag]);
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toContain(`${flag[0]} is for speech recognition models, not text-classification`);
    }
    const bad = await cli(['predict', model, 'some text', '--speech-task', 'sing']);
    expect(bad.exitCode).toBe(2);
  });
});
