/**
 * Float16 generative models, as transformers.js-style Hub repos ship them (`*_fp16.onnx`: logits and the KV cache in
 * float16). The tiny GPT-2 that `modelctl export` made from fixtures/models/gen-gpt2-tiny is converted with
 * onnxconverter_common (keep_io_types=False, so logits, past_key_values.* and present.* are float16), the folder
 * registered, and `modelctl predict` must give greedily the very tokens of a greedy loop in Python onnxruntime over
 * the same float16 file (test/parity/py/fp16_generation.py), with every step's scores those float16 logits. Read as
 * float32, onnxruntime-node's Uint16Array of half bits gave other tokens. The tiny T5 (fixtures/models/s2s-t5-tiny)
 * the same way through the seq2seq decoder: encoder_model.onnx and decoder_model_merged.onnx both float16 (encoder
 * states, the self- and cross-attention caches and logits), against encoder-then-merged-decoder greedy in Python;
 * and the tiny ViT-GPT-2 captioner (fixtures/models/i2t-vit-gpt2-tiny), whose float16 encoder takes float16 pixels.
 * The tiny Whisper converted the same way gives the tokens, text and timestamps of the float32 model; T5's and the
 * captioner's beam search (float16 cache reordered in place) the float32 model's tokens and, within 0.01, score.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/predict/predict.js';
import { Registry } from '../../src/registry/index.js';
import { converterRoot, familyPython } from '../convert/env.js';
import { FIXTURES, ROOT, cli, fileDir } from '../helpers.js';
import { maxScoreDiff, parityPython, reference } from './reference.js';

interface Converted {
  files: Array<{ inputs: Record<string, string>; outputs: Record<string, string> }>;
}

interface RefCase {
  prompt_ids: number[];
  tokens: number[];
  logits: number[][];
  margin: number;
  dtype: string;
}

const NEW_TOKENS = 12;

/** A registered export's files in a fresh folder, its ONNX files converted to float16 in place; the conversion's types. */
async function float16Folder(
  root: string,
  home: string,
  name: string,
  onnxFiles: string[],
): Promise<{ dir: string; converted: Converted }> {
  const dir = join(fileDir('modelctl-fp16-'), 'model');
  const r = await cli(['checkout', name, dir], { home });
  expect(r.exitCode, r.stderr).toBe(0);
  // onnx and onnxconverter_common live in the xgboost converter environment (onnxmltools depends on them).
  const files = onnxFiles.map((f) => [join(dir, f), join(dir, f)]);
  const converted = await reference<Converted>(familyPython(root, 'xgboost'), 'fp16_generation', { mode: 'convert', files });
  return { dir, converted };
}

interface Model {
  fixture: string;
  name: string;
  task: string;
  onnx: string[];
  /** Prompts, or image files (image-to-text). */
  texts: string[];
  images?: boolean;
  /** The greedy reference's request for the converted folder (mode and files). */
  request: (dir: string, generationConfig: Record<string, unknown>) => Record<string, unknown>;
}

const GPT2: Model = {
  fixture: 'gen-gpt2-tiny',
  name: 'gpt2-tiny',
  task: 'text-generation',
  onnx: ['model.onnx'],
  texts: ['The quick brown fox', 'héllo wörld, ça va? 東京 and 北京 🙂', 'A'],
  request: (dir) => ({ mode: 'causal', model: join(dir, 'model.onnx'), prompts: GPT2.texts }),
};

const T5: Model = {
  fixture: 's2s-t5-tiny',
  name: 't5-tiny',
  task: 'text2text-generation',
  onnx: ['encoder_model.onnx', 'decoder_model_merged.onnx'],
  texts: ['translate English to German: the house is wonderful.', 'summarize: héllo wörld, 東京 🙂', 'x'],
  request: (dir, config) => ({
    mode: 'seq2seq',
    encoder: join(dir, 'encoder_model.onnx'),
    decoder: join(dir, 'decoder_model_merged.onnx'),
    texts: T5.texts,
    start: config.decoder_start_token_id,
  }),
};

const IMAGES = ['gradient.png', 'noise.png'].map((f) => join(ROOT, 'fixtures', 'i2t', 'images', f));

const CAPTIONER: Model = {
  fixture: 'i2t-vit-gpt2-tiny',
  name: 'captioner',
  task: 'image-to-text',
  onnx: ['encoder_model.onnx', 'decoder_model_merged.onnx'],
  texts: IMAGES,
  images: true,
  request: (dir, config) => ({
    mode: 'seq2seq',
    encoder: join(dir, 'encoder_model.onnx'),
    decoder: join(dir, 'decoder_model_merged.onnx'),
    images: IMAGES,
    start: config.decoder_start_token_id,
  }),
};

/**
 * The fixture exported by `modelctl export`, its ONNX files converted to float16 and the folder registered as
 * NAME-fp16; the folder.
 */
async function exportFloat16(
  root: string,
  home: string,
  model: Pick<Model, 'fixture' | 'name' | 'task' | 'onnx'>,
  cacheTensors: number,
): Promise<string> {
  const exported = await cli(['export', join(FIXTURES, model.fixture), '--name', model.name, '--python', familyPython(root, 'hf')], {
    home,
  });
  expect(exported.exitCode, exported.stderr).toBe(0);
  const { dir, converted } = await float16Folder(root, home, model.name, model.onnx);
  // Every float input and output of every file is float16 now: logits, the caches, encoder states.
  const types = converted.files.flatMap((f) => [...Object.entries(f.inputs), ...Object.entries(f.outputs)]);
  expect(types.filter(([n]) => /^(past_key_values|present)\./.test(n)).length).toBe(cacheTensors);
  for (const [n, t] of types)
    expect(t, n).toBe(/input_ids|attention_mask|position_ids/.test(n) ? 'int64' : /use_cache_branch/.test(n) ? 'bool' : 'float16');

  const name = `${model.name}-fp16`;
  const registered = await cli(['register', dir, '--name', name, '--json'], { home });
  expect(registered.exitCode, registered.stderr).toBe(0);
  expect(JSON.parse(registered.stdout).manifest.task).toBe(model.task);
  return dir;
}

async function checkFloat16(model: Model, cacheTensors: number): Promise<void> {
  const root = converterRoot();
  const python = parityPython();
  if (!root || !python) return;
  const home = fileDir('modelctl-fp16-home-');
  const dir = await exportFloat16(root, home, model, cacheTensors);
  const name = `${model.name}-fp16`;

  const config = JSON.parse(readFileSync(join(dir, 'generation_config.json'), 'utf8'));
  const eos = [config.eos_token_id].flat() as number[];
  const ref = await reference<{ cases: RefCase[] }>(python, 'fp16_generation', {
    ...model.request(dir, config),
    folder: dir,
    max_new_tokens: NEW_TOKENS,
    eos,
  });
  for (const [i, text] of model.texts.entries()) {
    const want = ref.cases[i] as RefCase;
    expect(want.dtype).toBe('tensor(float16)');
    // Greedy (image-to-text takes no sampling flags: it is greedy unless generation_config.json samples).
    const greedy = model.images ? [] : ['--no-sample'];
    const r = await cli(['predict', name, text, '--max-new-tokens', String(NEW_TOKENS), ...greedy, '--json'], { home });
    expect(r.exitCode, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout).predictions[0];
    expect(got.tokens, text).toEqual(want.tokens);
    if (model.task === 'text-generation') expect(got.prompt_tokens).toBe(want.prompt_ids.length);
    expect(got.finish_reason).toBe(eos.includes(want.tokens.at(-1) as number) ? 'eos' : 'length');
    // Not garbage: the scores modelctl chose from are the float16 logits onnxruntime gives in Python.
    const scored = await predict({
      model: name,
      registry: new Registry({ home }),
      input: model.images ? { kind: 'images', files: [text] } : { kind: 'texts', texts: [text] },
      threads: 1,
      generation: { maxNewTokens: NEW_TOKENS, doSample: false, outputScores: true },
    });
    const prediction = scored.predictions?.[0] as unknown as { tokens: number[]; scores: number[][] };
    expect(prediction.tokens).toEqual(want.tokens);
    // onnxruntime-node 1.30 and Python's 1.32 differ by at most one float16 step of these logits (2^-8 to 2^-7).
    const diff = maxScoreDiff(prediction.scores, want.logits);
    expect(diff).toBeLessThan(0.01);
    // And no step is a near tie within that difference: the same tokens are not a coincidence of rounding.
    expect(want.margin).toBeGreaterThan(2 * diff);
  }
  // Beam search reorders the float16 self-attention cache in place: it follows the float32 model's search (the same
  // tokens, the score within float16's rounding of the weights).
  if (model.task !== 'text-generation') {
    for (const text of model.texts) {
      const beams = async (n: string) => {
        const r = await cli(['predict', n, text, '--max-new-tokens', String(NEW_TOKENS), '--num-beams', '3', '--json'], { home });
        expect(r.exitCode, r.stderr).toBe(0);
        return JSON.parse(r.stdout).predictions[0];
      };
      const [a, b] = [await beams(model.name), await beams(name)];
      expect(a.num_beams).toBe(3);
      expect(b.tokens, text).toEqual(a.tokens);
      expect(Math.abs(b.sequence_score - a.sequence_score)).toBeLessThan(0.01);
    }
  }
}

describe('float16 models: logits and KV cache in half precision, against onnxruntime in Python over the same file', () => {
  it('GPT-2 (one decoder with its cache): predict gives the greedy tokens and float16 logits', async () => {
    await checkFloat16(GPT2, 8);
  }, 300_000);

  it('T5 (encoder, merged decoder with self- and cross-attention caches): the same through the seq2seq decoder', async () => {
    await checkFloat16(T5, 16);
  }, 300_000);

  it('image-to-text (ViT encoder given float16 pixels, GPT-2 decoder with its self-attention cache): the same', async () => {
    await checkFloat16(CAPTIONER, 8);
  }, 300_000);

  // Whisper's decoding (language detection, suppressed tokens, timestamps) has no raw-loop twin in Python here: the
  // float16 model must give what the float32 one it was converted from gives on this audio (as it does; before
  // float16 caches were taken, it was refused).
  it('Whisper (float16 log-mel features, encoder and merged decoder): the tokens and chunks of the float32 model', async () => {
    const root = converterRoot();
    if (!root) return;
    const home = fileDir('modelctl-fp16-home-');
    const whisper = { fixture: 'asr-whisper-tiny', name: 'whisper', task: 'automatic-speech-recognition', onnx: T5.onnx };
    await exportFloat16(root, home, whisper, 16);
    const audio = join(ROOT, 'fixtures', 'asr', 'audio', 'speech.wav');
    for (const flags of [['--language', 'en'], ['--language', 'en', '--return-timestamps'], []]) {
      const run = async (name: string) => {
        const r = await cli(['predict', name, audio, ...flags, '--json'], { home });
        expect(r.exitCode, r.stderr).toBe(0);
        return JSON.parse(r.stdout).predictions[0];
      };
      const single = await run('whisper');
      const half = await run('whisper-fp16');
      expect(single.tokens.length, flags.join(' ')).toBeGreaterThan(3);
      expect(half.tokens, flags.join(' ')).toEqual(single.tokens);
      expect(typeof half.text).toBe('string');
      expect(half.text).toBe(single.text);
      expect(half.language).toBe(single.language);
      if (flags.includes('--return-timestamps')) expect(half.chunks.length).toBeGreaterThan(0);
      expect(half.chunks).toEqual(single.chunks);
    }
  }, 300_000);
});
