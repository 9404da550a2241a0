/**
 * Speech recognition against transformers 5's pipeline("automatic-speech-recognition") on the PyTorch Whisper that
 * `modelctl export` turned into encoder_model.onnx + decoder_model_merged.onnx (fixtures/models/asr-whisper-tiny,
 * built by fixtures/asr/build.py), greedy on both sides: every window's new tokens equal to what generate() gives
 * for the same window (the language given, or detected), and the text equal to the pipeline's, for a 4 s clip and
 * for 45 s of audio cut into 30 s windows with 5 s strides and merged as the pipeline merges them. The FLAC and MP3
 * of the clip decode to the WAV's samples (FLAC exactly, MP3 within the codec's error) and give the WAV's tokens.
 * With --return-timestamps (the clip; 45 s in 30 s and in 20 s windows) every window's tokens equal generate()'s
 * with return_timestamps=True, whose seek loop decodes a window again from its last timestamp (several passes here,
 * as generate() made), and the chunks equal the pipeline's (texts equal, times within 0.01 s). 45 s without
 * --chunk-length is read whole and decoded 30 s at a time (the pipeline's long-form), with and without timestamps.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeAudio } from '../../src/inputs/audio.js';
import { converterRoot, familyPython } from '../convert/env.js';
import { FIXTURES, ROOT, cli, fileDir } from '../helpers.js';
import { Registry } from '../../src/registry/index.js';
import { postJson, serve } from '../serve/helpers.js';
import { parityPython, reference } from './reference.js';

const AUDIO = join(ROOT, 'fixtures', 'asr', 'audio');
const CLIP = join(AUDIO, 'speech.wav');

interface Case {
  file: string;
  language?: string;
  task?: 'transcribe' | 'translate';
  max_new_tokens?: number;
  chunk_length_s?: number;
  stride_length_s?: number;
  return_timestamps?: boolean;
}

interface Chunk {
  timestamp: [number | null, number | null];
  text: string;
}

interface RefCase {
  chunks?: Chunk[];
  text: string;
  windows: Array<{ tokens: number[]; language: string; passes: number }>;
  margin: number | null;
}

interface Window {
  tokens: number[];
  passes: number;
  language?: string;
  start_s: number;
  end_s: number;
}

function args(c: Case): string[] {
  const out: string[] = [];
  if (c.language) out.push('--language', c.language);
  if (c.task) out.push('--speech-task', c.task);
  if (c.max_new_tokens !== undefined) out.push('--max-new-tokens', String(c.max_new_tokens));
  if (c.chunk_length_s !== undefined) out.push('--chunk-length', String(c.chunk_length_s));
  if (c.stride_length_s !== undefined) out.push('--stride', String(c.stride_length_s));
  if (c.return_timestamps) out.push('--return-timestamps');
  return out;
}

describe('automatic-speech-recognition: modelctl (Whisper encoder + merged decoder) against transformers’ pipeline', () => {
  it('exports Whisper as one version of two ONNX files, validated on log-mel features', async () => {
    const root = converterRoot();
    if (!root) return;
    const home = fileDir('modelctl-asr-export-');
    const out = fileDir('modelctl-asr-out-');
    const exported = await cli(
      ['export', join(FIXTURES, 'asr-whisper-tiny'), '--name', 'whisper', '--python', familyPython(root, 'hf'), '--out', out, '--json'],
      { home },
    );
    expect(exported.exitCode, exported.stderr).toBe(0);
    const doc = JSON.parse(exported.stdout);
    expect(doc.task).toBe('automatic-speech-recognition');
    expect(doc.manifest.metadata.onnxParts).toEqual({ encoder: 'encoder_model.onnx', decoder: 'decoder_model_merged.onnx' });
    expect(doc.validation).toMatchObject({ passed: true, samples: 2 });
    expect(Object.keys(doc.validation.steps)).toEqual(['encoder', 'decoder_first_step', 'decoder_cached_step']);
    const files = doc.manifest.files.map((f: { path: string }) => f.path);
    for (const f of ['preprocessor_config.json', 'generation_config.json', 'tokenizer.json']) expect(files).toContain(f);
    // The files --out wrote run as a folder too.
    const byPath = await cli(['predict', join(out, 'encoder_model.onnx'), CLIP, '--language', 'en', '--max-new-tokens', '5', '--json'], {
      home,
    });
    expect(byPath.exitCode, byPath.stderr).toBe(0);
    expect(JSON.parse(byPath.stdout).predictions[0].windows[0].tokens).toHaveLength(5);
  }, 300_000);

  it('greedy tokens and text equal to the pipeline’s: short clip, detected language, translate, 45 s in 30 s windows', async () => {
    const root = converterRoot();
    const python = parityPython();
    if (!root || !python) return;
    const home = fileDir('modelctl-asr-home-');
    const exported = await cli(['export', join(FIXTURES, 'asr-whisper-tiny'), '--name', 'whisper', '--python', familyPython(root, 'hf')], {
      home,
    });
    expect(exported.exitCode, exported.stderr).toBe(0);
    const long = join(fileDir('modelctl-asr-long-'), 'long.wav');
    const cases: Case[] = [
      { file: CLIP, language: 'en' },
      { file: CLIP },
      { file: CLIP, language: 'fr', task: 'translate', max_new_tokens: 10 },
      { file: long, language: 'en', chunk_length_s: 30, max_new_tokens: 20 },
      { file: long, chunk_length_s: 20, stride_length_s: 4, max_new_tokens: 12 },
      // Timestamps (no <|notimestamps|> in the prompt, Whisper's timestamp rules): chunks with times, windows merged.
      { file: CLIP, language: 'en', return_timestamps: true },
      { file: long, language: 'en', chunk_length_s: 30, return_timestamps: true },
      { file: long, chunk_length_s: 20, stride_length_s: 4, return_timestamps: true },
      // Over 30 s without --chunk-length: read whole and decoded by the seek loop (the pipeline's long-form).
      { file: long, language: 'en' },
      { file: long, language: 'de', return_timestamps: true },
    ];
    const ref = await reference<{ cases: RefCase[] }>(python, 'asr_pipeline', {
      folder: join(FIXTURES, 'asr-whisper-tiny'),
      long: { path: long, seconds: 45 },
      cases,
    });
    for (const [i, c] of cases.entries()) {
      const want = ref.cases[i] as RefCase;
      const label = JSON.stringify({ ...c, file: c.file === CLIP ? 'clip' : 'long' });
      // The random model's best and second-best scores are apart at every greedy step: equal tokens mean something.
      expect(want.margin ?? 1, label).toBeGreaterThan(1e-3);
      const r = await cli(['predict', 'whisper', c.file, ...args(c), '--json'], { home });
      expect(r.exitCode, r.stderr).toBe(0);
      const p = JSON.parse(r.stdout).predictions[0] as { text: string; windows: Window[]; language?: string; chunks?: Chunk[] };
      expect(
        p.windows.map((w) => ({ tokens: w.tokens, language: w.language, passes: w.passes })),
        label,
      ).toEqual(want.windows.map((w) => ({ tokens: w.tokens, language: w.language, passes: w.passes })));
      expect(p.text, label).toBe(want.text);
      // Cut into windows with --chunk-length; read whole (one window, several passes) without.
      if (c.file === long) expect(p.windows.length > 1, label).toBe(c.chunk_length_s !== undefined);
      if (c.return_timestamps) {
        // generate()'s seek loop decoded a window again from its last timestamp, and so did modelctl.
        expect(Math.max(...want.windows.map((w) => w.passes)), label).toBeGreaterThan(1);
        // The pipeline's chunks: the same texts, the times within 0.01 s (its float64 seconds against ours).
        const chunks = want.chunks ?? [];
        expect(chunks.length, label).toBeGreaterThan(1);
        expect(p.chunks?.map((k) => k.text).join(''), label).toBe(p.text);
        expect(
          p.chunks?.map((k) => k.text),
          label,
        ).toEqual(chunks.map((k) => k.text));
        for (const [j, k] of chunks.entries()) {
          const got = p.chunks?.[j]?.timestamp ?? [];
          for (const side of [0, 1] as const) {
            const w = k.timestamp[side];
            if (w === null) expect(got[side], label).toBeNull();
            else expect(Math.abs((got[side] as number) - w), `${label} chunk ${j}`).toBeLessThanOrEqual(0.01);
          }
        }
      } else expect(p.chunks, label).toBeUndefined();
    }

    // FLAC and MP3 of the clip: FLAC holds the WAV's integers, MP3 a lossy copy of the same floats.
    const wav = await decodeAudio(readFileSync(CLIP), 'wav');
    const flac = await decodeAudio(readFileSync(join(AUDIO, 'speech.flac')), 'flac');
    expect(flac.sampleRate).toBe(16000);
    expect(flac.samples).toEqual(wav.samples);
    const mp3 = await decodeAudio(readFileSync(join(AUDIO, 'speech.mp3')), 'mp3');
    expect(mp3.samples.length).toBe(wav.samples.length);
    let err = 0;
    let power = 0;
    for (let k = 0; k < wav.samples.length; k++) {
      err += ((mp3.samples[k] as number) - (wav.samples[k] as number)) ** 2;
      power += (wav.samples[k] as number) ** 2;
    }
    // The codec's error at least 20 dB under the signal (the encoder's delay and padding removed: aligned).
    expect(10 * Math.log10(power / err)).toBeGreaterThan(20);
    // serve's task-level predict: the clip as base64, the same tokens as the command line's.
    const server = await serve({ registry: new Registry({ home }) });
    const served = await postJson(`${server.url}/v1/models/whisper/predict`, {
      audio: [readFileSync(CLIP).toString('base64')],
      language: 'en',
      max_new_tokens: 12,
    });
    expect(served.status, JSON.stringify(served.body)).toBe(200);
    expect(served.body.predictions[0].windows[0].tokens).toEqual((ref.cases[0] as RefCase).windows[0]?.tokens.slice(0, 12));
    const badTask = await postJson(`${server.url}/v1/models/whisper/predict`, {
      audio: [readFileSync(CLIP).toString('base64')],
      speech_task: 'sing',
    });
    expect(badTask.status).toBe(400);
    const flacRun = await cli(['predict', 'whisper', join(AUDIO, 'speech.flac'), '--language', 'en', '--json'], { home });
    expect(flacRun.exitCode, flacRun.stderr).toBe(0);
    expect(JSON.parse(flacRun.stdout).predictions[0].windows[0].tokens).toEqual((ref.cases[0] as RefCase).windows[0]?.tokens);
  }, 900_000);
});
