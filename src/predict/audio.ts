import { ModelctlError } from '../errors.js';
import type { Registry } from '../registry/index.js';
import type { AudioClassificationPrediction, AudioExtractorConfig } from '../tasks/audio-classification.js';
import type { RunContext } from '../tasks/tensors.js';
import { loadProcessorFile } from './preprocessor.js';
import type { ResolvedModel } from './types.js';

/**
 * The audio tasks of predict: where a model's feature extractor config and config.json come from (the embedded
 * metadata, else the files beside the model or in its registry version, as for image tasks), and running audio
 * files, decoded by src/inputs/audio.ts, through a classifier (speech recognition, a generative task, runs in
 * ./speech.ts).
 */

export const AUDIO_TASKS = ['audio-classification', 'automatic-speech-recognition'] as const;

export function isAudioTask(task: string): boolean {
  return (AUDIO_TASKS as readonly string[]).includes(task);
}

export interface AudioSetup {
  extractor: AudioExtractorConfig;
  modelConfig: unknown;
}

/** The raw-waveform extractor and config.json, checked against the model's input. */
export async function prepareAudio(model: string, m: ResolvedModel, registry: Registry | undefined): Promise<AudioSetup> {
  const { parseAudioExtractorConfig, audioInput } = await import('../tasks/audio-classification.js');
  const { raw, where, modelConfig } = await loadProcessorFile('feature extractor', model, m, registry);
  const extractor = parseAudioExtractorConfig(raw, where);
  audioInput(m.summary.inputs); // a model that cannot take a waveform is refused before ONNX Runtime loads it
  return { extractor, modelConfig };
}

/** Audio files, decoded one at a time and run one per session run; predictions in the order of the files. */
export async function predictAudio(
  ctx: RunContext,
  setup: AudioSetup,
  files: readonly string[],
  options: { topK?: number },
): Promise<AudioClassificationPrediction[]> {
  if (files.length === 0)
    throw new ModelctlError('INVALID_INPUT', 'no audio files given', { hint: 'give WAV files as arguments or --file AUDIO.wav' });
  const [{ readAudioFile }, { classifyWaveforms }] = await Promise.all([
    import('../inputs/audio.js'),
    import('../tasks/audio-classification.js'),
  ]);
  const out: AudioClassificationPrediction[] = [];
  for (const file of files) {
    const { samples, sampleRate } = await readAudioFile(file);
    out.push(...(await classifyWaveforms(ctx, setup.extractor, [{ samples, sampleRate }], setup.modelConfig, options.topK)));
  }
  return out;
}
