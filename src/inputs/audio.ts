import { readFile } from 'node:fs/promises';
import { ModelctlError, fsError } from '../errors.js';

/**
 * Audio files to the mono float waveform an audio model's feature extractor takes. WAV is read here (RIFF chunks,
 * PCM 8/16/24/32-bit integers and 32/64-bit floats, plain or WAVE_FORMAT_EXTENSIBLE): integers scale by 2^(bits-1)
 * (8-bit PCM is unsigned, centred on 128), as ffmpeg's and soundfile's float conversions do; several channels are
 * averaged into one, as transformers' audio pipelines take them. FLAC (@wasm-audio-decoders/flac, libFLAC) and MP3
 * (mpg123-decoder, libmpg123; the encoder's delay and padding removed when the file's LAME/Xing header names them)
 * are recognised by their signatures and decoded to float samples by those WebAssembly builds; their channels are
 * averaged the same way. Ogg, MP4/M4A and AIFF are refused with what to do.
 */

export interface DecodedAudio {
  /** Mono samples, nominally in [-1, 1]. */
  samples: Float32Array;
  sampleRate: number;
  /** Channels in the file (averaged into `samples`). */
  channels: number;
  /** e.g. "pcm16", "pcm24", "float32". */
  encoding: string;
}

const PCM = 1;
const IEEE_FLOAT = 3;
const EXTENSIBLE = 0xfffe;

const CONVERT_HINT =
  'convert it to WAV, FLAC or MP3 first, e.g. ffmpeg -i FILE -ac 1 -ar 16000 out.wav (or sox FILE -c 1 -r 16000 out.wav)';

function bad(where: string, why: string): ModelctlError {
  return new ModelctlError('INVALID_INPUT', `${where} is not a WAV file modelctl can read: ${why}`, { hint: CONVERT_HINT });
}

/** The container other than WAV that the first bytes announce, for a clear refusal. */
function otherFormat(b: Uint8Array): string | undefined {
  const ascii = (at: number, s: string) => [...s].every((c, i) => b[at + i] === c.charCodeAt(0));
  if (ascii(0, 'fLaC')) return 'FLAC';
  if (ascii(0, 'ID3') || (b[0] === 0xff && ((b[1] ?? 0) & 0xe0) === 0xe0)) return 'MP3';
  if (ascii(0, 'OggS')) return 'Ogg';
  if (ascii(4, 'ftyp')) return 'MP4/M4A';
  if (ascii(0, 'FORM')) return 'AIFF';
  return undefined;
}

interface Format {
  tag: number;
  channels: number;
  sampleRate: number;
  blockAlign: number;
  bits: number;
}

function readFormat(view: DataView, at: number, size: number, where: string): Format {
  if (size < 16) throw bad(where, 'its fmt chunk is too short');
  let tag = view.getUint16(at, true);
  const f = {
    channels: view.getUint16(at + 2, true),
    sampleRate: view.getUint32(at + 4, true),
    blockAlign: view.getUint16(at + 12, true),
    bits: view.getUint16(at + 14, true),
  };
  // WAVE_FORMAT_EXTENSIBLE names the real format in the first two bytes of its sub-format GUID.
  if (tag === EXTENSIBLE) {
    if (size < 40) throw bad(where, 'its extensible fmt chunk is too short');
    tag = view.getUint16(at + 24, true);
  }
  return { tag, ...f };
}

/** One sample reader per encoding: the sample at byte offset `at` as a float. */
function sampleReader(f: Format, view: DataView, where: string): { read: (at: number) => number; encoding: string } {
  if (f.tag === PCM) {
    if (f.bits === 8) return { read: (at) => (view.getUint8(at) - 128) / 128, encoding: 'pcm8' };
    if (f.bits === 16) return { read: (at) => view.getInt16(at, true) / 32768, encoding: 'pcm16' };
    if (f.bits === 24)
      return {
        read: (at) => ((view.getUint8(at + 2) << 24) | (view.getUint8(at + 1) << 16) | (view.getUint8(at) << 8)) / 2147483648,
        encoding: 'pcm24',
      };
    if (f.bits === 32) return { read: (at) => view.getInt32(at, true) / 2147483648, encoding: 'pcm32' };
  }
  if (f.tag === IEEE_FLOAT) {
    if (f.bits === 32) return { read: (at) => view.getFloat32(at, true), encoding: 'float32' };
    if (f.bits === 64) return { read: (at) => view.getFloat64(at, true), encoding: 'float64' };
  }
  const what = f.tag === PCM ? `${f.bits}-bit PCM` : f.tag === IEEE_FLOAT ? `${f.bits}-bit float` : `format tag ${f.tag}`;
  throw bad(where, `${what} samples (modelctl reads 8/16/24/32-bit PCM and 32/64-bit float)`);
}

/** A WAV file's bytes as mono samples. */
export function decodeWav(buffer: Uint8Array, where: string): DecodedAudio {
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const tag = (at: number) => String.fromCharCode(...buffer.subarray(at, at + 4));
  if (buffer.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') {
    const other = otherFormat(buffer);
    if (other)
      throw new ModelctlError('NOT_AVAILABLE', `${where} is ${other} audio, which predict does not decode (it reads WAV, FLAC and MP3)`, {
        hint: CONVERT_HINT,
      });
    if (buffer.length >= 4 && tag(0) === 'RIFX') throw bad(where, 'big-endian RIFX');
    // Neither WAV nor FLAC nor MP3 (decodeAudio tried those first): not a WAV file that went wrong.
    throw new ModelctlError(
      'INVALID_INPUT',
      `${where} is not an audio file modelctl can read (WAV, FLAC or MP3): no RIFF/WAVE, fLaC or MPEG header`,
      {
        hint: CONVERT_HINT,
      },
    );
  }
  let format: Format | undefined;
  let data: { at: number; size: number } | undefined;
  for (let at = 12; at + 8 <= buffer.length; ) {
    const id = tag(at);
    const size = view.getUint32(at + 4, true);
    const body = at + 8;
    if (id === 'fmt ') format = readFormat(view, body, Math.min(size, buffer.length - body), where);
    else if (id === 'data') {
      // A writer that could not seek back (a stream) leaves the size 0 or 0xFFFFFFFF: the samples run to the end.
      const rest = buffer.length - body;
      data = { at: body, size: size === 0 || size > rest ? rest : size };
      if (format) break;
    }
    at = body + size + (size % 2);
  }
  if (!format) throw bad(where, 'no fmt chunk');
  if (!data) throw bad(where, 'no data chunk');
  const { channels, sampleRate, blockAlign } = format;
  if (channels < 1 || sampleRate < 1 || format.bits % 8 !== 0 || blockAlign !== (channels * format.bits) / 8)
    throw bad(where, `inconsistent fmt chunk (${channels} channels, ${format.bits} bits, block ${blockAlign} bytes)`);
  const { read, encoding } = sampleReader(format, view, where);
  const frames = Math.floor(data.size / blockAlign);
  if (frames === 0) throw new ModelctlError('INVALID_INPUT', `${where} holds no audio samples`);
  const step = format.bits / 8;
  const samples = new Float32Array(frames);
  for (let i = 0, at = data.at; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++, at += step) sum += read(at);
    samples[i] = channels === 1 ? sum : sum / channels;
  }
  return { samples, sampleRate, channels, encoding };
}

/** The decoders' output (one Float32Array per channel) as mono samples. */
function mixDown(
  decoded: { channelData: Float32Array[]; samplesDecoded: number; sampleRate: number; errors: Array<{ message: string }> },
  where: string,
  encoding: string,
): DecodedAudio {
  const { channelData, samplesDecoded, sampleRate } = decoded;
  const first = decoded.errors[0];
  if (first)
    throw new ModelctlError('INVALID_INPUT', `${where} is not ${encoding} audio modelctl can decode: ${first.message}`, {
      hint: CONVERT_HINT,
    });
  if (samplesDecoded === 0 || channelData.length === 0 || !(sampleRate > 0))
    throw new ModelctlError('INVALID_INPUT', `${where} holds no audio samples`);
  const channels = channelData.length;
  const samples = new Float32Array(samplesDecoded);
  for (let i = 0; i < samplesDecoded; i++) {
    let sum = 0;
    for (const c of channelData) sum += c[i] as number;
    samples[i] = channels === 1 ? sum : sum / channels;
  }
  return { samples, sampleRate, channels, encoding };
}

async function decodeFlac(bytes: Uint8Array, where: string): Promise<DecodedAudio> {
  const { FLACDecoder } = await import('@wasm-audio-decoders/flac');
  const decoder = new FLACDecoder();
  await decoder.ready;
  try {
    const decoded = await decoder.decodeFile(bytes);
    // libFLAC's integers come out divided by 2^(bits-1) - 1; WAV's (and ffmpeg's, soundfile's) by 2^(bits-1).
    const bits = decoded.bitDepth;
    if (bits >= 8 && bits <= 24) {
      const [from, to] = [2 ** (bits - 1) - 1, 2 ** (bits - 1)];
      for (const c of decoded.channelData) for (let i = 0; i < c.length; i++) c[i] = Math.round((c[i] as number) * from) / to;
    }
    return mixDown(decoded, where, 'flac');
  } finally {
    decoder.free();
  }
}

async function decodeMp3(bytes: Uint8Array, where: string): Promise<DecodedAudio> {
  const { MPEGDecoder } = await import('mpg123-decoder');
  const decoder = new MPEGDecoder();
  await decoder.ready;
  try {
    return mixDown(decoder.decode(bytes), where, 'mp3');
  } finally {
    decoder.free();
  }
}

/** Decodes an audio file's bytes: WAV, FLAC or MP3 by their signatures. */
export async function decodeAudio(bytes: Uint8Array, where: string): Promise<DecodedAudio> {
  const other = otherFormat(bytes);
  if (other === 'FLAC') return decodeFlac(bytes, where);
  if (other === 'MP3') return decodeMp3(bytes, where);
  return decodeWav(bytes, where);
}

/** Reads and decodes an audio file. */
export async function readAudioFile(path: string): Promise<DecodedAudio> {
  const bytes = await readFile(path).catch((err: unknown) => {
    throw fsError(err, path);
  });
  return decodeAudio(bytes, path);
}
