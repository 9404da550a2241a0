/**
 * Whisper speech recognition by beam search and by sampling, and --language by name, on the fixture Whisper
 * (fixtures/models/asr-whisper-tiny) that `modelctl export` turned into encoder_model.onnx + decoder_model_merged.onnx:
 * - --num-beams N: every window's new tokens equal to what transformers 5's WhisperForConditionalGeneration.generate(
 *   num_beams=N) gives for the same window (test/parity/py/asr_pipeline.py with "num_beams"), and the text equal to the
 *   pipeline's, for the 4 s clip (language given and detected) and 45 s in 30 s windows; with --return-timestamps the
 *   seek loop's tokens and passes as generate(num_beams=N, return_timestamps=True) gives them and the pipeline's chunk
 *   texts, suppress tokens and timestamp rules applied inside the search by the one processor chain.
 * - sampling: the same --seed gives the same tokens run after run (and comes back in the JSON).
 * - --language takes Whisper's language names as transformers does ("english", "French" -> en, fr), codes and
 *   <|xx|> tokens; a language the model does not know is a usage error (exit 2) naming the ones it does.
 * - serve's task-level predict takes num_beams, do_sample and seed and a language name, with the command line's tokens.
 * - --table shows each file's transcript (AUDIO, TEXT).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Registry } from '../../src/registry/index.js';
import { converterRoot, familyPython } from '../convert/env.js';
import { FIXTURES, ROOT, cli, fileDir } from '../helpers.js';
import { postJson, serve } from '../serve/helpers.js';
import { parityPython, reference } from './reference.js';

const FOLDER = join(FIXTURES, 'asr-whisper-tiny');
const CLIP = join(ROOT, 'fixtures', 'asr', 'audio', 'speech.wav');

interface Case {
  file: string;
  num_beams: number;
  language?: string;
  max_new_tokens?: number;
  chunk_length_s?: number;
  return_timestamps?: boolean;
}

interface RefCase {
  text: string;
  windows: Array<{ tokens: number[]; language: string; passes: number }>;
  chunks?: Array<{ timestamp: [number | null, number | null]; text: string }>;
}

interface Prediction {
  text: string;
  windows: Array<{ tokens: number[]; language?: string; passes: number }>;
  chunks?: Array<{ text: string }>;
  seed?: number;
}

function args(c: Omit<Case, 'file'>): string[] {
  const out = ['--num-beams', String(c.num_beams)];
  if (c.language) out.push('--language', c.language);
  if (c.max_new_tokens !== undefined) out.push('--max-new-tokens', String(c.max_new_tokens));
  if (c.chunk_length_s !== undefined) out.push('--chunk-length', String(c.chunk_length_s));
  if (c.return_timestamps) out.push('--return-timestamps');
  return out;
}

async function transcribe(home: string, file: string, extra: string[]): Promise<Prediction> {
  const r = await cli(['predict', 'whisper', file, ...extra, '--json'], { home });
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout).predictions[0] as Prediction;
}

describe('automatic-speech-recognition: beam search, sampling and language names', () => {
  it('beam search equal to generate(num_beams=N) per window; seeded sampling reproducible; --language by name', async () => {
    const root = converterRoot();
    const python = parityPython();
    if (!root || !python) return;
    const home = fileDir('modelctl-asr-beam-home-');
    const exported = await cli(['export', FOLDER, '--name', 'whisper', '--python', familyPython(root, 'hf')], { home });
    expect(exported.exitCode, exported.stderr).toBe(0);
    const long = join(fileDir('modelctl-asr-beam-long-'), 'long.wav');
    const cases: Case[] = [
      { file: CLIP, language: 'en', num_beams: 3 },
      { file: CLIP, num_beams: 2, max_new_tokens: 15 },
      { file: long, language: 'en', chunk_length_s: 30, max_new_tokens: 20, num_beams: 3 },
      { file: CLIP, language: 'en', num_beams: 3, return_timestamps: true },
      { file: long, language: 'en', chunk_length_s: 30, num_beams: 2, return_timestamps: true },
    ];
    const ref = await reference<{ cases: RefCase[] }>(python, 'asr_pipeline', { folder: FOLDER, long: { path: long, seconds: 45 }, cases });
    const greedy = await transcribe(home, CLIP, ['--language', 'en']);
    for (const [i, c] of cases.entries()) {
      const want = ref.cases[i] as RefCase;
      const label = JSON.stringify({ ...c, file: c.file === CLIP ? 'clip' : 'long' });
      const p = await transcribe(home, c.file, args(c));
      expect(
        p.windows.map((w) => ({ tokens: w.tokens, language: w.language, passes: w.passes })),
        label,
      ).toEqual(want.windows.map((w) => ({ tokens: w.tokens, language: w.language, passes: w.passes })));
      if (c.file === long) expect(p.windows.length, label).toBeGreaterThan(1);
      expect(p.text, label).toBe(want.text);
      if (c.return_timestamps) {
        expect(p.chunks?.length, label).toBeGreaterThan(0);
        expect(p.chunks?.map((k) => k.text).join(''), label).toBe(p.text);
        expect(
          p.chunks?.map((k) => k.text),
          label,
        ).toEqual(want.chunks?.map((k) => k.text));
      }
    }
    // Three beams find another transcript of the clip than greedy decoding does: the search decides something.
    expect((await transcribe(home, CLIP, args(cases[0] as Case))).windows[0]?.tokens).not.toEqual(greedy.windows[0]?.tokens);

    // Sampling: the same seed, the same tokens, in every window; the seed reported.
    const sampled = await transcribe(home, long, ['--language', 'en', '--chunk-length', '30', '--max-new-tokens', '12', '--seed', '7']);
    expect(sampled.seed).toBe(7);
    const again = await transcribe(home, long, ['--language', 'en', '--chunk-length', '30', '--max-new-tokens', '12', '--seed', '7']);
    expect(again.windows.map((w) => w.tokens)).toEqual(sampled.windows.map((w) => w.tokens));
    expect(again.text).toBe(sampled.text);
    // On this fixture seed 8 draws other tokens than seed 7: the seed reaches the sampler.
    const other = await transcribe(home, long, ['--language', 'en', '--chunk-length', '30', '--max-new-tokens', '12', '--seed', '8']);
    expect(other.windows.map((w) => w.tokens)).not.toEqual(sampled.windows.map((w) => w.tokens));
    const warped = [
      '--language',
      'en',
      '--max-new-tokens',
      '12',
      '--temperature',
      '0.8',
      '--top-k',
      '20',
      '--top-p',
      '0.95',
      '--seed',
      '3',
    ];
    expect((await transcribe(home, CLIP, warped)).windows).toEqual((await transcribe(home, CLIP, warped)).windows);

    // --language by name (any case), by code and by token: the same prompt, the same tokens.
    const byCode = await transcribe(home, CLIP, ['--language', 'fr', '--speech-task', 'translate', '--max-new-tokens', '10']);
    for (const name of ['french', 'French', '<|fr|>', 'FR']) {
      const p = await transcribe(home, CLIP, ['--language', name, '--speech-task', 'translate', '--max-new-tokens', '10']);
      expect(p.windows, name).toEqual(byCode.windows);
    }
    expect((await transcribe(home, CLIP, ['--language', 'English'])).windows).toEqual(greedy.windows);
    expect((await transcribe(home, CLIP, ['--language', 'german', '--max-new-tokens', '5'])).windows[0]?.language).toBe('de');
    for (const unknown of ['spanish', 'klingon']) {
      const r = await cli(['predict', 'whisper', CLIP, '--language', unknown], { home });
      expect(r.exitCode, unknown).toBe(2);
      expect(r.stderr, unknown).toContain(`error: the model knows no language "${unknown}"`);
      expect(r.stderr, unknown).toContain('its languages: de, en, fr');
    }
    // For a person: one row per file, its transcript.
    const table = await cli(['predict', 'whisper', CLIP, '--language', 'en', '--num-beams', '3', '--table'], { home });
    expect(table.exitCode, table.stderr).toBe(0);
    const [head, row] = table.stdout.split('\n');
    expect(head?.split(/\s+/)).toEqual(['AUDIO', 'TEXT']);
    expect(row).toContain(CLIP.slice(-20));
    // A word of the transcript's start (the random model's text holds bytes the table shows escaped).
    const word = (ref.cases[0]?.text ?? '').slice(0, 40).match(/[a-z]{3,}/)?.[0];
    expect(word).toBeDefined();
    expect(row).toContain(word);
    const stop = await cli(['predict', 'whisper', CLIP, '--stop', 'the'], { home });
    expect(stop.exitCode).toBe(2);
    expect(stop.stderr).toContain('--stop is for text-generation models, not automatic-speech-recognition');

    // serve: beams, a seed and a language name from the request's fields, the command line's tokens.
    const server = await serve({ registry: new Registry({ home }) });
    const audio = [readFileSync(CLIP).toString('base64')];
    const url = `${server.url}/v1/models/whisper/predict`;
    const beam = await postJson(url, { audio, language: 'english', num_beams: 3 });
    expect(beam.status, JSON.stringify(beam.body)).toBe(200);
    expect(beam.body.predictions[0].windows[0].tokens).toEqual(ref.cases[0]?.windows[0]?.tokens);
    const stamped = await postJson(url, { audio, language: 'en', num_beams: 3, return_timestamps: true });
    expect(stamped.status, JSON.stringify(stamped.body)).toBe(200);
    expect(stamped.body.predictions[0].windows[0].tokens).toEqual(ref.cases[3]?.windows[0]?.tokens);
    const seeded = await transcribe(home, CLIP, ['--language', 'en', '--max-new-tokens', '12', '--seed', '5']);
    const sample = await postJson(url, { audio, language: 'en', max_new_tokens: 12, do_sample: true, seed: 5 });
    expect(sample.status, JSON.stringify(sample.body)).toBe(200);
    expect(sample.body.predictions[0].windows).toEqual(seeded.windows);
    expect(sample.body.predictions[0].seed).toBe(5);
  }, 900_000);
});
