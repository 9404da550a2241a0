import { once } from 'node:events';
import { readFile, stat } from 'node:fs/promises';
import { ModelctlError, fsError } from '../../errors.js';
import { openInput } from '../../inputs/open.js';
import type { InputSource } from '../../inputs/types.js';
import { openPredictor, type PredictOptions } from '../../predict/predict.js';
import { parseMessages, type ChatMessage } from '../../tasks/generation/chat.js';
import { isSeq2SeqTask } from '../../tasks/seq2seq.js';
import type { Output } from '../render/output.js';
import type { PredictFlags } from '../specs/predict.js';

/**
 * predict for text-generation models: the text printed as it is generated (one prompt after the other), or JSON
 * ({generated_text, tokens, finish_reason, ...} per prompt; JSON Lines for a stream of prompts).
 */

const GENERATION_FLAGS = [
  'maxNewTokens',
  'sample',
  'temperature',
  'topP',
  'seed',
  'repetitionPenalty',
  'noRepeatNgramSize',
  'stop',
  'chat',
] as const;
/** Flags of encoder-decoder generation only (--chat is text-generation's only). */
const SEQ2SEQ_FLAGS = ['numBeams', 'lengthPenalty', 'earlyStopping'] as const;

/** Flags of speech recognition (with the decoding flags below). */
const SPEECH_FLAGS = ['language', 'speechTask', 'chunkLength', 'stride', 'returnTimestamps'] as const;
const ASR = 'automatic-speech-recognition';
const I2T = 'image-to-text';
/**
 * Speech recognition and image-to-text decode as the other encoder-decoder models (greedy, sampled or by beam
 * search; the shared decoding of tasks/seq2seq.ts). Speech takes no stop strings: its text is its windows' merged.
 */
const DECODING_FLAGS = [...GENERATION_FLAGS.filter((k) => k !== 'chat' && k !== 'stop'), ...SEQ2SEQ_FLAGS];

/** The generation flags belong to text-generation and encoder-decoder models; beam search to the latter only. */
export function refuseGenerationFlags(task: string, options: PredictFlags): void {
  const seq2seq = isSeq2SeqTask(task);
  const allowed: readonly string[] =
    task === 'text-generation'
      ? GENERATION_FLAGS
      : seq2seq
        ? [...GENERATION_FLAGS.filter((k) => k !== 'chat'), ...SEQ2SEQ_FLAGS]
        : task === ASR
          ? [...DECODING_FLAGS, ...SPEECH_FLAGS]
          : task === I2T
            ? [...DECODING_FLAGS, 'stop']
            : [];
  const given = [...GENERATION_FLAGS, ...SEQ2SEQ_FLAGS, ...SPEECH_FLAGS].filter((k) => options[k] !== undefined && !allowed.includes(k));
  if (given.length > 0) {
    const name = (given[0] as string).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    const kind = (SEQ2SEQ_FLAGS as readonly string[]).includes(given[0] as string)
      ? 'encoder-decoder'
      : (SPEECH_FLAGS as readonly string[]).includes(given[0] as string)
        ? 'speech recognition'
        : 'text-generation';
    throw new ModelctlError('USAGE', `--${name} is for ${kind} models, not ${task}`);
  }
}

/** Speech recognition's and image-to-text's library options from the flags (the decoding flags as for text2text). */
export function speechFromFlags(
  task: string,
  o: PredictFlags,
  onWarning?: (message: string) => void,
): Pick<PredictOptions, 'generation' | 'speech'> {
  if (task !== ASR && task !== I2T) return {};
  return {
    generation: { ...generationFromFlags(o), ...(onWarning ? { onWarning } : {}) },
    speech: {
      ...(o.language !== undefined ? { language: o.language } : {}),
      ...(o.speechTask !== undefined ? { task: o.speechTask } : {}),
      ...(o.chunkLength !== undefined ? { chunkLength: o.chunkLength } : {}),
      ...(o.stride !== undefined ? { stride: o.stride } : {}),
      ...(o.returnTimestamps ? { returnTimestamps: true } : {}),
    },
  };
}

/** The library's generation options from the flags; a sampling flag turns sampling on unless --no-sample says otherwise. */
export function generationFromFlags(o: PredictFlags): NonNullable<PredictOptions['generation']> {
  const samplingFlag = o.temperature !== undefined || o.topP !== undefined || o.topK !== undefined || o.seed !== undefined;
  const doSample = o.sample ?? (samplingFlag ? true : undefined);
  return {
    ...(o.maxNewTokens !== undefined ? { maxNewTokens: o.maxNewTokens } : {}),
    ...(doSample !== undefined ? { doSample } : {}),
    ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
    ...(o.topK !== undefined ? { topK: o.topK } : {}),
    ...(o.topP !== undefined ? { topP: o.topP } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.repetitionPenalty !== undefined ? { repetitionPenalty: o.repetitionPenalty } : {}),
    ...(o.stop?.length ? { stop: o.stop } : {}),
    ...(o.numBeams !== undefined ? { numBeams: o.numBeams } : {}),
    ...(o.lengthPenalty !== undefined ? { lengthPenalty: o.lengthPenalty } : {}),
    ...(o.earlyStopping !== undefined ? { earlyStopping: o.earlyStopping === 'never' ? 'never' : o.earlyStopping === 'true' } : {}),
    ...(o.noRepeatNgramSize !== undefined ? { noRepeatNgramSize: o.noRepeatNgramSize } : {}),
  };
}

/** --chat FILE (.jsonl or a JSON array of messages) or --chat "one user message". */
export async function readChat(chat: string): Promise<ChatMessage[]> {
  const isFile = await stat(chat).then(
    (s) => s.isFile(),
    () => false,
  );
  if (!isFile) {
    if (/\.jsonl?$/i.test(chat)) throw new ModelctlError('PATH_NOT_FOUND', `--chat ${chat}: no such file`);
    return [{ role: 'user', content: chat }];
  }
  let text: string;
  try {
    text = await readFile(chat, 'utf8');
  } catch (err) {
    throw fsError(err, chat);
  }
  const messages = parseMessages(text, chat);
  if (messages.length === 0) throw new ModelctlError('INVALID_INPUT', `--chat ${chat} holds no message`);
  return messages;
}

async function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

export async function runGeneration(
  out: Output,
  settings: Omit<PredictOptions, 'input'>,
  options: PredictFlags,
  source: InputSource,
  signal: AbortSignal,
): Promise<number> {
  const chat = options.chat !== undefined ? await readChat(options.chat) : undefined;
  const opened = chat ? undefined : await openInput(source, 'texts', { stdin: process.stdin });
  // Text as it comes, for a person; JSON waits for the whole answer.
  const pending: Promise<void>[] = [];
  let ended = true;
  let current = 0;
  const onText = out.json
    ? undefined
    : (piece: string, index: number) => {
        // Each prompt's text on lines of its own.
        if (index !== current && !ended) pending.push(write(out.stdout, '\n'));
        current = index;
        ended = piece.endsWith('\n');
        pending.push(write(out.stdout, piece));
      };
  const generation = {
    ...generationFromFlags(options),
    ...(chat ? { chat } : {}),
    ...(onText ? { onText } : {}),
    onWarning: (message: string) => out.warn(message),
  };
  const predictor = await openPredictor({ ...settings, generation, signal, inputKind: 'texts' });
  const finishText = async () => {
    await Promise.all(pending);
    if (!ended) await write(out.stdout, '\n');
    ended = true;
  };
  try {
    if (opened?.stream) {
      let count = 0;
      let failed: ModelctlError | undefined;
      for await (const record of opened.stream.records) {
        if (signal.aborted) break;
        count++;
        // A line that cannot be read is reported with its number and the others go on, as for the other tasks.
        if (record.error) {
          failed ??= record.error;
          const own = record.error.message;
          const message = own.includes(`line ${record.line}`) ? own : `${opened.stream.where} line ${record.line}: ${own}`;
          if (out.json) await write(out.stdout, `${JSON.stringify({ line: record.line, error: { code: record.error.code, message } })}\n`);
          out.warn(message);
          if (options.failFast) break;
          continue;
        }
        const r = await predictor.run({ kind: 'texts', texts: [String(record.value)] });
        if (out.json) await write(out.stdout, `${JSON.stringify({ line: record.line, prediction: r.predictions?.[0] })}\n`);
        else await finishText();
      }
      if (count === 0) throw new ModelctlError('INVALID_INPUT', `${opened.stream.where} holds no prompt`);
      return failed ? failed.exitCode : 0;
    }
    const texts = opened?.input.kind === 'texts' ? opened.input.texts : [];
    const result = await predictor.run({ kind: 'texts', texts });
    if (out.json) out.result(result, () => '');
    else await finishText();
    for (const p of result.predictions ?? []) if (p.seed !== undefined) out.debug(`sampled with --seed ${p.seed}`);
    return 0;
  } finally {
    await predictor.close();
  }
}
