import type { Tensor } from 'onnxruntime-node';
import { ModelctlError } from '../errors.js';
import type { OnnxValueInfo } from '../onnx/summary.js';
import { resampleAudio } from './audio-resample.js';
import { runSession, tensorOutputs, type RunContext } from './tensors.js';
import { rankLabels, scoreFunction, scores, type LabelScore } from './text-classification.js';

/**
 * Audio classification heads on raw waveforms (Wav2Vec2ForSequenceClassification, HuBERT, WavLM and kin), as
 * transformers' audio-classification pipeline runs them: the mono waveform at the feature extractor's
 * sampling_rate (resampled when the file has another rate, see audio-resample.ts), normalised to zero mean and
 * unit variance when do_normalize is set (Wav2Vec2FeatureExtractor: (x - mean) / sqrt(var + 1e-7)), one file per
 * run as the pipeline does (padding a batch changes what models without an attention mask compute), logits scored
 * as text-classification scores them (softmax, or a sigmoid for multi-label models), names from id2label.
 * Extractors that compute spectrograms (Whisper, AST) are refused.
 */

export interface AudioClassificationPrediction {
  /** Every label (or the top K), highest score first. */
  labels: LabelScore[];
  /** Set when the file's rate was not the extractor's: the rate it was resampled from. */
  resampled_from?: number;
}

export interface AudioExtractorConfig {
  samplingRate: number;
  doNormalize: boolean;
}

/** A waveform read from a file, at its own rate. */
export interface Waveform {
  samples: Float32Array;
  sampleRate: number;
}

const RAW_EXTRACTORS = new Set(['Wav2Vec2FeatureExtractor', 'SeamlessM4TFeatureExtractor']);

/** preprocessor_config.json of a raw-waveform extractor (feature_size 1); `where` names it in messages. */
export function parseAudioExtractorConfig(raw: unknown, where: string): AudioExtractorConfig {
  const c = raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : undefined;
  if (!c) throw new ModelctlError('INVALID_INPUT', `${where} is not a feature extractor configuration`);
  const type = typeof c.feature_extractor_type === 'string' ? c.feature_extractor_type : undefined;
  if ((type !== undefined && !RAW_EXTRACTORS.has(type)) || (c.feature_size !== undefined && c.feature_size !== 1)) {
    throw new ModelctlError(
      'NOT_AVAILABLE',
      `${where}: ${type ?? 'this feature extractor'} makes spectrogram features, which predict does not compute yet`,
      {
        hint: 'audio-classification runs models that take the raw waveform (Wav2Vec2FeatureExtractor); run this one with --task raw',
      },
    );
  }
  const rate = c.sampling_rate ?? 16000;
  if (typeof rate !== 'number' || !Number.isSafeInteger(rate) || rate <= 0)
    throw new ModelctlError('INVALID_INPUT', `${where}: sampling_rate ${JSON.stringify(rate)} is not a rate in Hz`);
  return { samplingRate: rate, doNormalize: c.do_normalize !== false };
}

/** The model's waveform input: float32 [batch, samples], input_values by preference, and whether it takes a mask. */
export function audioInput(inputs: readonly OnnxValueInfo[]): { name: string; mask?: OnnxValueInfo } {
  const float = inputs.filter((i) => (i.dtype ?? 'float32') === 'float32');
  const input = float.find((i) => i.name === 'input_values') ?? (float.length === 1 ? float[0] : undefined);
  const mask = inputs.find((i) => i.name === 'attention_mask');
  const others = inputs.filter((i) => i !== input && i !== mask);
  if (!input || others.length > 0 || (input.shape && input.shape.length !== 2)) {
    const takes = inputs.map((i) => `${i.name} ${i.dtype ?? '?'}[${(i.shape ?? []).map((d) => d ?? '?').join(', ')}]`).join(', ');
    throw new ModelctlError('INVALID_INPUT', `the model does not take a waveform (it takes ${takes || 'nothing'})`, {
      hint: 'audio-classification needs input_values float32 [batch, samples] (and optionally attention_mask); try --task raw',
    });
  }
  return { name: input.name, ...(mask ? { mask } : {}) };
}

/** What the feature extractor makes of one waveform at its rate: zero mean, unit variance (in float64, then float32). */
export function normalizeWaveform(samples: Float32Array, doNormalize: boolean): Float32Array {
  if (!doNormalize) return samples;
  let sum = 0;
  for (const x of samples) sum += x;
  const mean = sum / samples.length;
  let sq = 0;
  for (const x of samples) sq += (x - mean) ** 2;
  const scale = 1 / Math.sqrt(sq / samples.length + 1e-7);
  const out = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = ((samples[i] as number) - mean) * scale;
  return out;
}

/** Waveforms through the model, one run each; one prediction per waveform, in order. */
export async function classifyWaveforms(
  ctx: RunContext,
  config: AudioExtractorConfig,
  waves: readonly Waveform[],
  modelConfig: unknown,
  topK?: number,
): Promise<AudioClassificationPrediction[]> {
  const input = audioInput(ctx.inputs);
  const fetch = tensorOutputs(ctx);
  const name = fetch.find((n) => n === 'logits') ?? fetch[0];
  if (!name) throw new ModelctlError('INVALID_INPUT', 'the model has no tensor output');
  const out: AudioClassificationPrediction[] = [];
  for (const wave of waves) {
    const atRate = resampleAudio(wave.samples, wave.sampleRate, config.samplingRate);
    const values = normalizeWaveform(atRate, config.doNormalize);
    const feeds: Record<string, Tensor> = { [input.name]: new ctx.Tensor('float32', values, [1, values.length]) };
    if (input.mask) {
      const ones = input.mask.dtype === 'int32' ? new Int32Array(values.length).fill(1) : new BigInt64Array(values.length).fill(1n);
      feeds[input.mask.name] = new ctx.Tensor(input.mask.dtype === 'int32' ? 'int32' : 'int64', ones, [1, values.length]);
    }
    const logits = (await runSession(ctx, feeds, [name]))[name];
    const dims = logits?.dims ?? [];
    if (!logits || dims.length !== 2 || dims[0] !== 1) {
      throw new ModelctlError(
        'INVALID_INPUT',
        `output ${name} has shape [${dims.join(', ')}]; audio classification needs [batch, labels]`,
        {
          hint: 'the model is not an audio classifier: try --task raw',
        },
      );
    }
    const data = Array.from(logits.data as ArrayLike<number>, Number);
    const labels = rankLabels(scores(data, scoreFunction(modelConfig, data.length)), modelConfig, topK);
    out.push(wave.sampleRate === config.samplingRate ? { labels } : { labels, resampled_from: wave.sampleRate });
  }
  return out;
}
