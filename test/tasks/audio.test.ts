/**
 * Audio inputs without a model: the WAV reader on files written here (every encoding, odd chunks, streamed sizes,
 * refusals), the resampler against the band-limited signal it must reproduce, the feature extractor's
 * normalisation. Decoding and resampling against Python's readers and the pipeline are in test/parity.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeWav, readAudioFile } from '../../src/inputs/audio.js';
import { readInput } from '../../src/inputs/open.js';
import { normalizeWaveform, parseAudioExtractorConfig } from '../../src/tasks/audio-classification.js';
import { resampleAudio } from '../../src/tasks/audio-resample.js';
import { tempDir } from '../helpers.js';
import { rejects } from './helpers.js';

/** A RIFF/WAVE file: fmt (format tag, channels, rate, bits), optional extra chunks before data, the sample bytes. */
function wav(o: { tag?: number; channels: number; rate: number; bits: number; data: Buffer; extra?: Buffer; dataSize?: number }): Buffer {
  const block = (o.channels * o.bits) / 8;
  const fmt = Buffer.alloc(o.tag === 0xfffe ? 40 : 16);
  fmt.writeUInt16LE(o.tag ?? 1, 0);
  fmt.writeUInt16LE(o.channels, 2);
  fmt.writeUInt32LE(o.rate, 4);
  fmt.writeUInt32LE(o.rate * block, 8);
  fmt.writeUInt16LE(block, 12);
  fmt.writeUInt16LE(o.bits, 14);
  if (o.tag === 0xfffe) {
    fmt.writeUInt16LE(22, 16);
    fmt.writeUInt16LE(o.bits, 18);
    fmt.writeUInt16LE(3, 24); // sub-format: IEEE float
  }
  const chunk = (id: string, body: Buffer, size = body.length) => {
    const head = Buffer.alloc(8);
    head.write(id, 0, 'latin1');
    head.writeUInt32LE(size, 4);
    return Buffer.concat([head, body, body.length % 2 ? Buffer.alloc(1) : Buffer.alloc(0)]);
  };
  const body = Buffer.concat([Buffer.from('WAVE'), chunk('fmt ', fmt), o.extra ?? Buffer.alloc(0), chunk('data', o.data, o.dataSize)]);
  return Buffer.concat([chunk('RIFF', Buffer.alloc(0), body.length + 4).subarray(0, 8), body]);
}

describe('WAV files', () => {
  it('PCM 8/16/24/32-bit and float scale as ffmpeg does; stereo is the mean of its channels; odd chunks are skipped', () => {
    const pcm16 = Buffer.alloc(6);
    [-32768, 0, 16384].forEach((v, i) => pcm16.writeInt16LE(v, i * 2));
    expect(Array.from(decodeWav(wav({ channels: 1, rate: 16000, bits: 16, data: pcm16 }), 'a').samples)).toEqual([-1, 0, 0.5]);
    const pcm8 = Buffer.from([0, 128, 192]);
    expect(Array.from(decodeWav(wav({ channels: 1, rate: 8000, bits: 8, data: pcm8 }), 'a').samples)).toEqual([-1, 0, 0.5]);
    const pcm24 = Buffer.from([0x00, 0x00, 0x80, 0x00, 0x00, 0x40, 0xff, 0xff, 0xff]);
    expect(Array.from(decodeWav(wav({ channels: 1, rate: 16000, bits: 24, data: pcm24 }), 'a').samples)).toEqual([-1, 0.5, -(2 ** -23)]);
    const pcm32 = Buffer.alloc(8);
    pcm32.writeInt32LE(-(2 ** 31), 0);
    pcm32.writeInt32LE(2 ** 30, 4);
    // Two channels: one frame, averaged.
    const stereo = decodeWav(wav({ channels: 2, rate: 22050, bits: 32, data: pcm32 }), 'a');
    expect({ ...stereo, samples: Array.from(stereo.samples) }).toEqual({
      samples: [-0.25],
      sampleRate: 22050,
      channels: 2,
      encoding: 'pcm32',
    });
    const floats = Buffer.from(new Float32Array([0.25, -0.125, 0.5, 0.5]).buffer);
    const extra = Buffer.concat([Buffer.from('LIST'), Buffer.from([3, 0, 0, 0]), Buffer.from('abc'), Buffer.alloc(1)]);
    const ext = decodeWav(wav({ tag: 0xfffe, channels: 2, rate: 16000, bits: 32, data: floats, extra }), 'a');
    expect({ samples: Array.from(ext.samples), encoding: ext.encoding }).toEqual({ samples: [0.0625, 0.5], encoding: 'float32' });
    // A writer that could not seek back leaves the data size unset: the samples run to the end of the file.
    const streamed = decodeWav(wav({ channels: 1, rate: 16000, bits: 16, data: pcm16, dataSize: 0xffffffff }), 'a');
    expect(streamed.samples).toHaveLength(3);
  });

  it('refuses what it cannot read: other containers (exit 9, with a conversion hint), odd encodings, no samples', async () => {
    const dir = tempDir();
    const ogg = join(dir, 'a.ogg');
    writeFileSync(ogg, Buffer.concat([Buffer.from('OggS'), Buffer.alloc(40)]));
    const err = await rejects(
      readAudioFile(ogg),
      'NOT_AVAILABLE',
      /a\.ogg is Ogg audio, which predict does not decode \(it reads WAV, FLAC and MP3\)/,
    );
    expect(err.exitCode).toBe(9);
    expect(err.hint).toMatch(/ffmpeg -i FILE -ac 1 -ar 16000 out\.wav/);
    // FLAC and MP3 signatures over bytes that hold no frame: decoded to nothing, refused as input.
    writeFileSync(join(dir, 'a.flac'), Buffer.concat([Buffer.from('fLaC'), Buffer.alloc(40)]));
    await rejects(readAudioFile(join(dir, 'a.flac')), 'INVALID_INPUT', /a\.flac holds no audio samples/);
    writeFileSync(join(dir, 'b.mp3'), Buffer.concat([Buffer.from('ID3'), Buffer.alloc(40)]));
    await rejects(readAudioFile(join(dir, 'b.mp3')), 'INVALID_INPUT', /b\.mp3 holds no audio samples/);
    writeFileSync(join(dir, 'c.wav'), 'not audio at all');
    await rejects(
      readAudioFile(join(dir, 'c.wav')),
      'INVALID_INPUT',
      /c\.wav is not an audio file modelctl can read \(WAV, FLAC or MP3\): no RIFF\/WAVE, fLaC or MPEG header/,
    );
    const twelve = wav({ channels: 1, rate: 16000, bits: 12, data: Buffer.alloc(4) });
    expect(() => decodeWav(twelve, 'd.wav')).toThrow(/inconsistent fmt chunk|12-bit/);
    const empty = wav({ channels: 1, rate: 16000, bits: 16, data: Buffer.alloc(0) });
    expect(() => decodeWav(empty, 'e.wav')).toThrow(/e\.wav holds no audio samples/);
    await rejects(readAudioFile(join(dir, 'missing.wav')), 'PATH_NOT_FOUND');
  });

  it('audio inputs are files, named or by --file; JSON is refused', async () => {
    expect(await readInput({ values: ['a.wav', 'b.wav'] }, 'audio')).toEqual({ kind: 'audio', files: ['a.wav', 'b.wav'] });
    expect(await readInput({ file: 'x.wav' }, 'audio')).toEqual({ kind: 'audio', files: ['x.wav'] });
    await rejects(readInput({ json: '["a.wav"]', where: '--input' }, 'audio'), 'INVALID_INPUT', /an audio model takes audio files/);
  });
});

describe('resampling and normalisation', () => {
  it('keeps a band-limited signal: a 300 Hz tone at 44.1 kHz and at 8 kHz becomes the same tone at 16 kHz', () => {
    const tone = (rate: number, n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * 300 * i) / rate));
    for (const from of [44100, 8000, 22050, 48000]) {
      const n = Math.round(from * 0.25);
      const out = resampleAudio(tone(from, n), from, 16000);
      expect(out).toHaveLength(Math.ceil((n * 16000) / from));
      const want = tone(16000, out.length);
      // Away from the ends, where the signal starts and stops abruptly.
      let worst = 0;
      for (let i = 200; i < out.length - 200; i++) worst = Math.max(worst, Math.abs((out[i] as number) - (want[i] as number)));
      expect(worst).toBeLessThan(2e-3);
    }
    const same = tone(16000, 100);
    expect(resampleAudio(same, 16000, 16000)).toBe(same);
  });

  it('normalises to zero mean and unit variance as Wav2Vec2FeatureExtractor does, only when do_normalize is set', () => {
    const x = Float32Array.from({ length: 1000 }, (_, i) => 0.3 + 0.2 * Math.sin(i / 7));
    const y = normalizeWaveform(x, true);
    const mean = y.reduce((a, b) => a + b, 0) / y.length;
    const variance = y.reduce((a, b) => a + (b - mean) ** 2, 0) / y.length;
    expect(Math.abs(mean)).toBeLessThan(1e-6);
    expect(Math.abs(variance - 1)).toBeLessThan(1e-4);
    expect(normalizeWaveform(x, false)).toBe(x);
    expect(parseAudioExtractorConfig({ feature_extractor_type: 'Wav2Vec2FeatureExtractor', do_normalize: false }, 'p')).toEqual({
      samplingRate: 16000,
      doNormalize: false,
    });
    expect(() => parseAudioExtractorConfig({ feature_extractor_type: 'WhisperFeatureExtractor', feature_size: 80 }, 'p')).toThrow(
      /spectrogram features/,
    );
  });
});
