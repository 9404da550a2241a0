import { access } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ModelctlError } from '../errors.js';
import { readOnnxSummary } from '../onnx/summary.js';
import { onnxPartPaths } from '../registry/companion-files.js';
import type { Registry } from '../registry/index.js';
import { loadOrt, openSession } from '../runtime/index.js';
import { maxPositionsOf } from '../tasks/text-generation.js';
import { seq2seqSettings, type Seq2SeqSettings } from '../tasks/generation/seq2seq-config.js';
import { seq2seqDecoderLayout, type Seq2SeqDecoderLayout } from '../tasks/generation/seq2seq-decoder.js';
import { generateSeq2Seq, isSeq2SeqTask, type Seq2SeqPrediction, type Seq2SeqSetup } from '../tasks/seq2seq.js';
import type { RunContext } from '../tasks/tensors.js';
import { prepareGeneration, warnIgnored } from './generation.js';
import type { PredictOptions, ResolvedModel } from './types.js';

/**
 * predict's encoder-decoder tasks: the version's (or folder's) decoder found by its role beside the encoder that
 * predict opened as the model, opened as a second session, and the texts generated one after the other.
 */

export interface Seq2SeqRunner {
  run(encoder: RunContext, texts: readonly string[]): Promise<Seq2SeqPrediction[]>;
  close(): Promise<void>;
}

const MERGED = 'decoder_model_merged.onnx';

/** The encoder-decoder tasks that read something other than text, decoded by the same loop (beam search included). */
const OTHER_ENCODER_DECODER = ['automatic-speech-recognition', 'image-to-text'];

/** The beam-search options are encoder-decoder generation's: refused for any other task rather than ignored. */
export function refuseSeq2SeqOptions(task: string, generation: PredictOptions['generation']): void {
  if (isSeq2SeqTask(task) || OTHER_ENCODER_DECODER.includes(task) || !generation) return;
  const given = (['numBeams', 'lengthPenalty', 'earlyStopping'] as const).find((k) => generation[k] !== undefined);
  if (given)
    throw new ModelctlError(
      'USAGE',
      `${given} is for encoder-decoder models (text2text-generation, translation, summarization, automatic-speech-recognition, image-to-text), not ${task}`,
    );
}

/** The decoder's path: the registry version's onnxParts.decoder, else decoder_model_merged.onnx beside the encoder file. */
async function decoderPath(model: string, m: ResolvedModel, registry: Registry | undefined): Promise<string> {
  const parts = m.manifest ? onnxPartPaths(m.manifest) : undefined;
  if (m.manifest && registry) {
    const file = m.manifest.files.find((f) => f.path === parts?.decoder);
    if (!file || !parts?.decoder?.endsWith('.onnx')) {
      throw new ModelctlError('INVALID_INPUT', `${model} holds no decoder: its manifest names no onnxParts.decoder file`, {
        hint: 'export the encoder-decoder model with `modelctl export FOLDER`, which registers the encoder and the merged decoder together',
      });
    }
    const blob = registry.store.layout.blob(file.sha256);
    const summary = await readOnnxSummary(blob);
    return summary.externalData.length > 0 ? join(await registry.materialize(m.manifest), file.path) : blob;
  }
  const beside = join(dirname(m.path), MERGED);
  const found = await access(beside).then(
    () => true,
    () => false,
  );
  if (!found) {
    throw new ModelctlError('INVALID_INPUT', `no ${MERGED} beside ${basename(m.path)}: an encoder-decoder model runs as both`, {
      hint: 'give the encoder_model.onnx of a folder optimum exported (text2text-generation-with-past), or a registry version',
    });
  }
  return beside;
}

function record(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/**
 * What transformers 4's pipelines take from config.json for a task (transformers 5 has none for these tasks):
 * task_specific_params[task] over generation_config.json, and its "prefix" (else config.json's prefix) put before each
 * text, as T5 checkpoints expect ("summarize: "). As pipeline("translation") in 4.57, the task "translation" reads no
 * translation_XX_to_YY entry.
 */
export function taskParams(task: string, modelConfig: unknown): { prefix: string; generation: Record<string, unknown> } {
  const config = record(modelConfig);
  const { prefix, ...generation } = record(record(config.task_specific_params)[task]);
  const fallback = typeof config.prefix === 'string' ? config.prefix : '';
  return { prefix: typeof prefix === 'string' ? prefix : fallback, generation };
}

/** The decoder beside the encoder, checked and opened as a second session. */
export async function openSeq2SeqDecoder(
  model: string,
  m: ResolvedModel,
  options: Pick<PredictOptions, 'registry'> & Parameters<typeof openSession>[1],
): Promise<{ decoder: RunContext; layout: Seq2SeqDecoderLayout; release: () => Promise<void> }> {
  const path = await decoderPath(model, m, options.registry);
  const summary = await readOnnxSummary(path);
  const layout = seq2seqDecoderLayout(summary.inputs, summary.outputs);
  const opened = await openSession(path, options, undefined, summary.externalData);
  const ort = await loadOrt();
  const decoder: RunContext = { session: opened.session, Tensor: ort.Tensor, inputs: summary.inputs, outputs: summary.outputs };
  return { decoder, layout, release: () => opened.session.release() };
}

/** What an encoder-decoder text model generates with: its setup (the decoder opened), settings and the task's prefix. */
export interface Seq2SeqParts {
  setup: Seq2SeqSetup;
  settings: Seq2SeqSettings;
  prefix: string;
  release: () => Promise<void>;
}

/** predict's preparation of an encoder-decoder text model, shared with bench (which times generateSeq2SeqIds on it). */
export async function seq2seqParts(
  model: string,
  m: ResolvedModel,
  task: string,
  options: Pick<PredictOptions, 'registry' | 'generation'> & Parameters<typeof openSession>[1],
): Promise<Seq2SeqParts> {
  const base = await prepareGeneration(model, m, options.registry);
  const g = options.generation ?? {};
  if (g.chat) throw new ModelctlError('USAGE', '--chat is for text-generation models, not encoder-decoder ones');
  // Checked before the decoder loads: a bad option is a usage error whatever the model.
  const params = taskParams(task, base.modelConfig);
  const settings = seq2seqSettings(g, { ...record(base.generationConfig), ...params.generation }, base.modelConfig);
  warnIgnored(settings, g.onWarning);
  const { decoder, layout, release } = await openSeq2SeqDecoder(model, m, options);
  const maxPositions = maxPositionsOf(base.modelConfig);
  const setup: Seq2SeqSetup = { tokenizer: base.tokenizer, decoder, layout, ...(maxPositions !== undefined ? { maxPositions } : {}) };
  return { setup, settings, prefix: params.prefix, release };
}

export async function prepareSeq2Seq(
  model: string,
  m: ResolvedModel,
  task: string,
  options: Pick<PredictOptions, 'registry' | 'generation' | 'signal'> & Parameters<typeof openSession>[1],
): Promise<Seq2SeqRunner> {
  const g = options.generation ?? {};
  const { setup, settings, prefix, release } = await seq2seqParts(model, m, task, options);
  return {
    async run(encoder, texts) {
      if (texts.length === 0)
        throw new ModelctlError('INVALID_INPUT', 'no text given', { hint: 'give the text as an argument or --file texts.txt' });
      const out: Seq2SeqPrediction[] = [];
      for (const [index, text] of texts.entries()) {
        const onText = g.onText;
        out.push(
          await generateSeq2Seq(encoder, setup, prefix + text, settings, task, {
            ...(onText ? { onText: (piece: string) => onText(piece, index) } : {}),
            ...(options.signal ? { signal: options.signal } : {}),
          }),
        );
      }
      return out;
    },
    close: release,
  };
}
