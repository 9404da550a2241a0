import { mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { tempName } from '../registry/fsutil.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readInput } from '../inputs/open.js';
import { PREDICT_TASKS, chooseTask, inputKind, predict, type PredictInput, type PredictOptions } from '../predict/predict.js';
import { zeroShotTask, zeroShotFields } from '../predict/text.js';
import { aTaskModel, checkRunnableTask } from '../tasks/known.js';
import { AGGREGATIONS, isAggregation } from '../tasks/token-classification.js';
import type { ServeContext } from './context.js';
import { HttpError, readJsonObject, sendJson } from './http.js';
import { generationFromBody, refuseGenerationFields, speechFromBody } from './v1-generation.js';
import { isSeq2SeqTask } from '../tasks/seq2seq.js';

/**
 * Task-level prediction: the inputs `modelctl predict` takes, as JSON, and the same JSON document back that
 * `predict --json` prints. Images and audio come as base64 strings and are written to a private temporary folder
 * because their pipelines read files. Zero-shot requests add the pipeline's "candidate_labels", "hypothesis_template"
 * and "multi_label". Generation settings the library does not apply come back as "warnings" (a list of messages,
 * present only when there is one), as the CLI prints them on stderr.
 */

const INPUT_KEYS = ['rows', 'inputs', 'text', 'texts', 'image', 'images', 'audio', 'question', 'questions'] as const;
const INPUT_HINT =
  'give one of: "rows" ([[5.1, 3.5, 1.4, 0.2]]), "inputs" ({"NAME": [[...]]}), "texts" (["..."]), "images" or "audio" (base64 strings), or "question" with "context"';

function optionalNumber(body: Record<string, unknown>, key: string, check: (n: number) => boolean, what: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !check(v)) throw new HttpError(400, `"${key}" must be ${what}`);
  return v;
}

function images(value: unknown, what = 'image', key = '"images"'): Buffer[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new HttpError(400, `${key} is empty`, { hint: `give at least one base64 ${what}` });
  return list.map((v, i) => {
    const text = typeof v === 'string' ? v.replace(/^data:[^,]*;base64,/, '').replace(/\s+/g, '') : '';
    if (text === '' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(text)) throw new HttpError(400, `${what} ${i + 1} is not a base64 string`);
    return Buffer.from(text, 'base64');
  });
}

/** The request's input, read by the input room as the CLI reads --input: the same kinds, the same messages. */
async function input(body: Record<string, unknown>, task: string, files: string[]): Promise<PredictInput> {
  const given = INPUT_KEYS.filter((k) => body[k] !== undefined && k !== 'question');
  const asked = body.question !== undefined || body.context !== undefined;
  if (given.length + (asked ? 1 : 0) !== 1)
    throw new HttpError(400, given.length === 0 && !asked ? 'no input given' : 'give the input one way only', { hint: INPUT_HINT });
  const kind = inputKind(task);
  if (kind === 'questions') {
    if (asked) return readInput({ value: { question: body.question, context: body.context }, where: 'the request' }, kind);
    if (body.questions !== undefined) return readInput({ value: body.questions, where: '"questions"' }, kind);
    throw new HttpError(400, 'a question-answering model takes "question" and "context"', {
      hint: 'or "questions": [{"question": "...", "context": "..."}]',
    });
  }
  if (asked || body.questions !== undefined)
    throw new HttpError(400, `"question" and "context" are for question-answering models, not ${task}`);
  if (kind === 'images') {
    if (body.image === undefined && body.images === undefined)
      throw new HttpError(400, `${aTaskModel(task)} takes "images": base64 strings`);
    return readInput({ values: files }, kind);
  }
  if (kind === 'audio') {
    if (body.audio === undefined) throw new HttpError(400, `${aTaskModel(task)} takes "audio": base64 audio files (WAV, FLAC or MP3)`);
    return readInput({ values: files }, kind);
  }
  if (kind === 'texts') {
    const value = body.texts ?? body.text;
    if (value === undefined) throw new HttpError(400, `${aTaskModel(task)} takes "texts"`, { hint: '"texts": ["the model was great"]' });
    return readInput({ value, where: body.texts !== undefined ? '"texts"' : '"text"' }, kind);
  }
  if (body.inputs !== undefined) {
    if (!body.inputs || typeof body.inputs !== 'object' || Array.isArray(body.inputs))
      throw new HttpError(400, '"inputs" must be an object of named tensors');
    return { kind: 'tensors', tensors: body.inputs as Record<string, unknown> };
  }
  if (body.rows !== undefined) {
    const rows = await readInput({ value: body.rows, where: '"rows"' }, 'rows');
    const columns =
      Array.isArray(body.columns) && body.columns.every((c) => typeof c === 'string') ? (body.columns as string[]) : undefined;
    return rows.kind === 'rows' && columns ? { ...rows, columns } : rows;
  }
  throw new HttpError(400, `${aTaskModel(task)} takes "rows" or "inputs"`, { hint: INPUT_HINT });
}

export async function v1Predict(
  ctx: ServeContext,
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
  version?: string,
): Promise<void> {
  const body = await readJsonObject(req, ctx.maxBody);
  const m = await ctx.manager.model(name, version);
  const explicit = body.task === undefined ? undefined : typeof body.task === 'string' ? body.task : undefined;
  if (body.task !== undefined && explicit === undefined) throw new HttpError(400, '"task" must be a string');
  const zeroShot = zeroShotFields(body, 'the request');
  const task = zeroShotTask(await chooseTask(explicit, m.resolved, ctx.registry), { task: explicit, ...zeroShot }).task;
  checkRunnableTask(task, PREDICT_TASKS, 'predict'); // 501 for a task not supported yet, before the body is read as another's
  refuseGenerationFields(task, body);
  const aggregation = body.aggregation;
  if (aggregation !== undefined && (typeof aggregation !== 'string' || !isAggregation(aggregation)))
    throw new HttpError(400, `"aggregation" takes ${AGGREGATIONS.join(', ')}`);
  if (body.normalize !== undefined && typeof body.normalize !== 'boolean') throw new HttpError(400, '"normalize" must be true or false');
  const fraction = (n: number) => n >= 0 && n <= 1;
  const whole = (n: number) => Number.isSafeInteger(n) && n >= 1;
  const topK = optionalNumber(body, 'top_k', whole, 'a whole number of at least 1');
  const batchSize = optionalNumber(body, 'batch_size', whole, 'a whole number of at least 1');
  const conf = optionalNumber(body, 'conf', fraction, 'a number from 0 to 1');
  const iou = optionalNumber(body, 'iou', fraction, 'a number from 0 to 1');
  let dir: string | undefined;
  const warnings: string[] = [];
  const files: string[] = [];
  try {
    const audio = inputKind(task) === 'audio' && body.audio !== undefined;
    if ((inputKind(task) === 'images' && (body.image !== undefined || body.images !== undefined)) || audio) {
      const decoded = audio ? images(body.audio, 'audio file', '"audio"') : images(body.images ?? body.image);
      dir = join(ctx.registry.store.layout.tmpDir, tempName(audio ? 'serve-audio' : 'serve-images'));
      await mkdir(dir, { recursive: true });
      for (const [i, bytes] of decoded.entries()) {
        const file = join(dir, `${audio ? 'audio' : 'image'}-${i + 1}`);
        await writeFile(file, bytes);
        files.push(file);
      }
    }
    const options: PredictOptions = {
      model: `${m.name}:${m.version}`,
      registry: ctx.registry,
      resolved: m.resolved,
      input: await input(body, task, files),
      ...(explicit !== undefined ? { task: explicit } : {}),
      ...(topK !== undefined ? { topK } : {}),
      ...(batchSize !== undefined ? { batchSize } : {}),
      ...(typeof body.normalize === 'boolean' ? { normalize: body.normalize } : {}),
      ...(aggregation !== undefined ? { aggregation: aggregation as (typeof AGGREGATIONS)[number] } : {}),
      ...(conf !== undefined ? { conf } : {}),
      ...(iou !== undefined ? { iou } : {}),
      ...zeroShot,
      ...(task === 'text-generation' || isSeq2SeqTask(task) || task === 'automatic-speech-recognition' || task === 'image-to-text'
        ? { generation: { ...generationFromBody(body), onWarning: (message: string) => warnings.push(message) } }
        : {}),
      ...(task === 'automatic-speech-recognition' ? { speech: speechFromBody(body) } : {}),
    };
    // The cached session serves here too, so /v1 predictions count against the same memory bound as /v2.
    const result = await ctx.manager.useSession(m, (opened) => predict({ ...options, opened }));
    // What `predict` prints as warnings (settings of generation_config.json not applied) goes back with the answer.
    sendJson(res, 200, warnings.length > 0 ? { ...result, warnings } : result);
  } catch (err) {
    // A file that cannot be read is named as the client sent it ("audio 2"), not by the server's temporary path
    // (the last first: audio-1 is the start of audio-10).
    if (err instanceof Error)
      for (const [i, file] of [...files.entries()].reverse())
        err.message = err.message.replaceAll(file, `${basename(file).split('-')[0]} ${i + 1}`);
    throw err;
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}
