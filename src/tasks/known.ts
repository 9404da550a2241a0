import { ModelctlError } from '../errors.js';
import { isSeq2SeqTask } from './seq2seq.js';

/**
 * Task names a model can carry: the Hugging Face Hub's pipeline tags and transformers' pipeline names, which is
 * what config.json architectures, optimum's exporter and modelctl's own detection (formats/task.ts) produce. A
 * command answers a known task it does not run with NOT_AVAILABLE (exit 9: a later version may), and a name that
 * is none of these with USAGE (exit 2: a typo), so scripts can tell "not yet" from "wrong".
 */
const KNOWN_TASKS = new Set([
  // text
  'text-classification',
  'token-classification',
  'question-answering',
  'table-question-answering',
  'zero-shot-classification',
  'translation',
  'summarization',
  'feature-extraction',
  'text-generation',
  'text2text-generation',
  'fill-mask',
  'sentence-similarity',
  'text-ranking',
  'multiple-choice',
  'text-retrieval',
  'conversational',
  // audio
  'text-to-speech',
  'text-to-audio',
  'automatic-speech-recognition',
  'audio-to-audio',
  'audio-classification',
  'zero-shot-audio-classification',
  'voice-activity-detection',
  'audio-text-to-text',
  // vision
  'image-classification',
  'object-detection',
  'image-segmentation',
  'depth-estimation',
  'text-to-image',
  'image-to-text',
  'image-to-image',
  'image-to-video',
  'unconditional-image-generation',
  'video-classification',
  'zero-shot-image-classification',
  'zero-shot-object-detection',
  'mask-generation',
  'image-feature-extraction',
  'keypoint-detection',
  'text-to-video',
  'text-to-3d',
  'image-to-3d',
  'visual-question-answering',
  'document-question-answering',
  'image-text-to-text',
  'video-text-to-text',
  'visual-document-retrieval',
  // other
  'tabular-classification',
  'tabular-regression',
  'tabular-to-text',
  'table-to-text',
  'time-series-forecasting',
  'reinforcement-learning',
  'robotics',
  'graph-ml',
  'any-to-any',
]);

/** optimum's exporter adds "-with-past" (decoders with a KV cache); transformers names translations by language pair. */
export function isKnownTask(task: string): boolean {
  const base = task.replace(/-with-past$/, '');
  return KNOWN_TASKS.has(base) || /^translation_[a-z]{2,3}_to_[a-z]{2,3}$/.test(base);
}

/**
 * Refuses a task `command` does not run, before any input is read or model loaded: NOT_AVAILABLE naming the task
 * when it is a known one, USAGE listing what runs when the name is unknown.
 */
export function checkRunnableTask(task: string, runs: readonly string[], command: string): void {
  if (runs.includes(task)) return;
  if (!isKnownTask(task)) {
    throw new ModelctlError('USAGE', `unknown task ${JSON.stringify(task)}`, { hint: `${command} runs: ${runs.join(', ')}` });
  }
  throw new ModelctlError('NOT_AVAILABLE', `${command} does not support ${task} models yet`, {
    hint: `run the model as raw tensors with --task raw (named inputs in, named outputs back); ${command} runs: ${runs.join(', ')}`,
  });
}

/** "a text-classification model", "an image-to-text model": a task's model in a message. */
export function aTaskModel(task: string): string {
  return `${/^[aeiou]/i.test(task) ? 'an' : 'a'} ${task} model`;
}

/**
 * The kinds of generation setting a task takes, whoever names them (predict's flags, serve's request fields):
 * decoding (length, sampling, penalties), stop strings, a chat, beam search, speech recognition's own. A setting of
 * a kind the task does not take is refused (exit 2, HTTP 400), never silently ignored; `settingOwner` words it.
 */
export type SettingKind = 'decoding' | 'stop' | 'chat' | 'beams' | 'speech';

export function settingKinds(task: string): ReadonlySet<SettingKind> {
  if (task === 'text-generation') return new Set(['decoding', 'stop', 'chat']);
  if (isSeq2SeqTask(task)) return new Set(['decoding', 'stop', 'beams']);
  if (task === 'automatic-speech-recognition') return new Set(['decoding', 'beams', 'speech']);
  if (task === 'image-to-text') return new Set(['decoding', 'stop', 'beams']);
  return new Set();
}

/** Which models a setting of this kind is for, in a refusal: "--num-beams is for encoder-decoder models, not ...". */
export function settingOwner(kind: SettingKind): string {
  return kind === 'beams' ? 'encoder-decoder' : kind === 'speech' ? 'speech recognition' : 'text-generation';
}
