import { once } from 'node:events';
import { readFile, stat } from 'node:fs/promises';
import { ModelctlError, fsError } from '../../errors.js';
import { openInput } from '../../inputs/open.js';
import type { InputSource } from '../../inputs/types.js';
import { openPredictor, type PredictOptions } from '../../predict/predict.js';
import { parseMessages, type ChatMessage } from '../../tasks/generation/chat.js';
import { settingKinds, settingOwner, type SettingKind } from '../../tasks/known.js';
import type { Output } from '../render/output.js';
import { jsonLine } from '../render/predict.js';
import type { PredictFlags } from '../specs/predict.js';

/**
 * predict for text-generation models: the text printed as it is generated (one prompt after the other), or JSON
 * ({generated_text, tokens, finish_reason, ...} per prompt; JSON Lines for a stream of prompts).
 */

/** Each generation flag's kind: which tasks take it is settingKinds' (src/tasks/known.ts), as for serve's fields. */
const FLAG_KINDS: Record<string, SettingKind> = {
  maxNewTokens: 'decoding',
  sample: 'decoding',
  temperature: 'decoding',
  topP: 'decoding',
  seed: 'decoding',
  repetitionPenalty: 'decoding',
  noRepeatNgramSize: 'decoding',
  stop: 'stop',
  chat: 'chat',
  numBeams: 'beams',
  lengthPenalty: 'beams',
  earlyStopping: 'beams',
  language: 'speech',
  speechTask: 'speech',
  chunkLength: 'speech',
  stride: 'speech',
  returnTimestamps: 'speech',
};
const ASR = 'automatic-speech-recognition';
const I2T = 'image-to-text';

/** The generation flags belong to the generative tasks, each kind to the tasks that take it (settingKinds). */
export function refuseGenerationFlags(task: string, options: PredictFlags): void {
  const allowed = settingKinds(task);
  const given = Object.entries(FLAG_KINDS).find(([flag, kind]) => options[flag as keyof PredictFlags] !== undefined && !allowed.has(kind));
  if (given) {
    const name = given[0].replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    throw new ModelctlError('USAGE', `--${name} is for ${settingOwner(given[1])} models, not ${task}`);
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

/**
 * --chat FILE (.jsonl or a JSON array of messages) or --chat "one user message". A one-word value that looks like a
 * file name but names no file is sent as the message with a warning (`warn`): it is more likely a mistyped path.
 */
export async function readChat(chat: string, warn: (message: string) => void = () => undefined): Promise<ChatMessage[]> {
  const isFile = await stat(chat).then(
    (s) => s.isFile(),
    () => false,
  );
  if (!isFile) {
    if (/\.jsonl?$/i.test(chat)) throw new ModelctlError('PATH_NOT_FOUND', `--chat ${chat}: no such file`);
    if (/^\S+(\.[A-Za-z]\w{0,4}|[\\/]\S*)$/.test(chat) && !/^https?:/i.test(chat))
      warn(`no file named ${chat}: --chat sends it to the model as one user message`);
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
  const chat = options.chat !== undefined ? await readChat(options.chat, (m) => out.warn(m)) : undefined;
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
          if (out.json) await write(out.stdout, `${jsonLine({ line: record.line, error: { code: record.error.code, message } })}\n`);
          out.warn(message);
          if (options.failFast) break;
          continue;
        }
        const r = await predictor.run({ kind: 'texts', texts: [String(record.value)] });
        // The same record as every other task's stream: {"line": N, ...prediction}.
        if (out.json)
          await write(out.stdout, `${jsonLine({ line: record.line, ...(r.predictions?.[0] ? { prediction: r.predictions[0] } : {}) })}\n`);
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
    // Stopped halfway through a text (Ctrl-C, an error): end its line, so that what comes next on the terminal
    // ("interrupted", the error) starts a line of its own.
    if (!out.json) await finishText().catch(() => undefined);
    await predictor.close();
  }
}
