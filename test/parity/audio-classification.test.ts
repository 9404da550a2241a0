/**
 * Audio classification against transformers 5 pipeline("audio-classification") on the PyTorch model the ONNX export
 * was made from: a random Wav2Vec2ForSequenceClassification with a normalising Wav2Vec2FeatureExtractor (16 kHz),
 * built with its WAV files by fixtures/export/build.py and exported by `modelctl export`. The pipeline gets each
 * file as the float array scipy.io.wavfile reads (scaled as ffmpeg scales integers, channels averaged): this machine
 * has no ffmpeg for the pipeline to read files itself.
 *
 * Files at 16 kHz (PCM 8/16/24/32-bit, float32, WAVE_FORMAT_EXTENSIBLE, mono and stereo): the samples scipy reads
 * (within 1e-7), the same labels in the same order, scores within 1e-4. Files at 44.1 and 8 kHz: modelctl resamples as torchaudio.functional.resample
 * does (what the pipeline calls for audio at another rate), but the reference environment has no torchaudio, so
 * the reference resamples with scipy's resample_poly, another filter: the waveforms are compared within 1e-2 and
 * the scores within 5e-3 (measured: 4.6e-3 and 2.6e-3 at worst; against torchaudio 2.11's resample, run once by
 * hand, the waveforms agree within 3e-6).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeWav } from '../../src/inputs/audio.js';
import { predict } from '../../src/predict/predict.js';
import { resampleAudio } from '../../src/tasks/audio-resample.js';
import type { LabelScore } from '../../src/tasks/text-classification.js';
import { converterRoot, familyPython } from '../convert/env.js';
import { cli, fileDir, writeText } from '../helpers.js';
import { postJson, serve } from '../serve/helpers.js';
import { exportEncoders, maxDiff } from './encoders.js';
import { parityPython, reference } from './reference.js';

interface Reference {
  results: LabelScore[][];
  rates: number[];
  decoded: number[][];
  waveforms: Array<number[] | null>;
}

function labels(preds: Array<{ labels?: LabelScore[] }> | undefined): string[][] {
  return (preds ?? []).map((p) => (p.labels ?? []).map((l) => l.label));
}

function scores(preds: Array<{ labels?: LabelScore[] }> | undefined): number[] {
  return (preds ?? []).flatMap((p) => (p.labels ?? []).map((l) => l.score));
}

describe('audio-classification: modelctl (ONNX export) against transformers’ pipeline (its PyTorch model)', () => {
  it('16 kHz WAV files of every encoding: the pipeline’s labels, scores within 1e-4', async () => {
    const python = parityPython();
    const root = converterRoot();
    if (!python || !root) return;
    const e = await exportEncoders(root, ['wav2vec2-cls']);
    const files = ((e.cases['hf-audio-classification']?.inputs ?? []) as string[]).map((f) => join(e.src, f));
    expect(files.length).toBeGreaterThanOrEqual(6);
    const ref = await reference<Reference>(python, 'audio_classification', { folder: join(e.src, 'wav2vec2-cls'), files });
    expect(ref.rates.every((r) => r === 16000)).toBe(true);
    // The samples modelctl decodes are scipy's, scaled and averaged (float32 rounding apart).
    for (const [i, file] of files.entries())
      expect(maxDiff(Array.from(decodeWav(readFileSync(file), file).samples), ref.decoded[i] as number[])).toBeLessThan(1e-7);
    const r = await predict({ model: 'wav2vec2-cls', registry: e.registry, input: { kind: 'audio', files }, threads: 1 });
    expect(r.task).toBe('audio-classification');
    expect(labels(r.predictions)).toEqual(ref.results.map((ls) => ls.map((l) => l.label)));
    expect(
      maxDiff(
        scores(r.predictions),
        ref.results.flat().map((l) => l.score),
      ),
    ).toBeLessThan(1e-4);
    expect(r.predictions?.some((p) => p.resampled_from !== undefined)).toBe(false);

    // The CLI (--top-k 2: the pipeline's two best) and serve (base64 WAV files) answer the same.
    const cmd = await cli(['predict', 'wav2vec2-cls', ...files.slice(0, 3), '--top-k', '2', '--json'], { home: e.home });
    expect(cmd.exitCode, cmd.stderr).toBe(0);
    const printed = JSON.parse(cmd.stdout).predictions;
    expect(labels(printed)).toEqual(ref.results.slice(0, 3).map((ls) => ls.slice(0, 2).map((l) => l.label)));
    expect(
      maxDiff(
        scores(printed),
        ref.results.slice(0, 3).flatMap((ls) => ls.slice(0, 2).map((l) => l.score)),
      ),
    ).toBeLessThan(1e-4);
    const s = await serve({ registry: e.registry });
    const audio = files.slice(3).map((f) => readFileSync(f).toString('base64'));
    const http = await postJson(`${s.url}/v1/models/wav2vec2-cls/predict`, { audio });
    expect(http.status, JSON.stringify(http.body)).toBe(200);
    expect(labels(http.body.predictions)).toEqual(ref.results.slice(3).map((ls) => ls.map((l) => l.label)));
    expect(
      maxDiff(
        scores(http.body.predictions),
        ref.results.slice(3).flatMap((ls) => ls.map((l) => l.score)),
      ),
    ).toBeLessThan(1e-4);
    // Not audio: a clear refusal.
    const text = await cli(['predict', 'wav2vec2-cls', join(e.src, 'bert-mlm', 'config.json')], { home: e.home });
    expect(text.exitCode).toBe(2);
    expect(text.stderr).toMatch(/is not an audio file modelctl can read \(WAV, FLAC or MP3\): no RIFF\/WAVE, fLaC or MPEG header/);
  }, 240_000);

  it('44.1 and 8 kHz files are resampled to 16 kHz: waveforms within 1e-2 of scipy’s resample_poly, scores within 5e-3', async () => {
    const python = parityPython();
    const root = converterRoot();
    if (!python || !root) return;
    const e = await exportEncoders(root, ['wav2vec2-cls']);
    const files = ((e.cases['hf-audio-resampled']?.inputs ?? []) as string[]).map((f) => join(e.src, f));
    const ref = await reference<Reference>(python, 'audio_classification', { folder: join(e.src, 'wav2vec2-cls'), files });
    expect(ref.rates.some((r) => r > 16000) && ref.rates.some((r) => r < 16000)).toBe(true);
    for (const [i, file] of files.entries()) {
      const decoded = decodeWav(readFileSync(file), file);
      const mine = Array.from(resampleAudio(decoded.samples, decoded.sampleRate, 16000));
      expect(maxDiff(mine, ref.waveforms[i] as number[])).toBeLessThan(1e-2);
    }
    const r = await predict({ model: 'wav2vec2-cls', registry: e.registry, input: { kind: 'audio', files }, threads: 1 });
    expect(r.predictions?.map((p) => p.resampled_from)).toEqual(ref.rates);
    expect(labels(r.predictions)).toEqual(ref.results.map((ls) => ls.map((l) => l.label)));
    expect(
      maxDiff(
        scores(r.predictions),
        ref.results.flat().map((l) => l.score),
      ),
    ).toBeLessThan(5e-3);
  }, 240_000);

  it('export validates on WAV files given as --sample-input, one waveform per run (a padded batch moved this model 3e-4)', async () => {
    const root = converterRoot();
    if (!root) return;
    const e = await exportEncoders(root, ['wav2vec2-cls']);
    const dir = fileDir('modelctl-wav-samples-');
    const at16k = ((e.cases['hf-audio-classification']?.inputs ?? []) as string[]).map((f) => join(e.src, f));
    const wavs = writeText(join(dir, 'wavs.json'), JSON.stringify(at16k.filter((f) => !/float|extensible/.test(f))));
    const args = ['export', join(e.src, 'wav2vec2-cls'), '--python', familyPython(root, 'hf'), '--json'];
    const r = await cli([...args, '--name', 'w2v-wav', '--sample-input', wavs], { home: e.home });
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.validation).toMatchObject({ passed: true, samples: 4 });
    expect(doc.validation.max_abs_diff).toBeLessThan(1e-4);
    const resampled = ((e.cases['hf-audio-resampled']?.inputs ?? []) as string[]).map((f) => join(e.src, f));
    const other = writeText(join(dir, 'other.json'), JSON.stringify(resampled.slice(0, 1)));
    const refused = await cli([...args, '--name', 'w2v-44k', '--sample-input', other], { home: e.home });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/is at 44100 Hz; the feature extractor takes 16000 Hz/);
  }, 240_000);
});
