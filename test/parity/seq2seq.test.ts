/**
 * Encoder-decoder generation against transformers 5 generate() on the PyTorch models that `modelctl export` turned
 * into encoder_model.onnx + decoder_model_merged.onnx (fixtures/models/s2s-t5-tiny and s2s-bart-tiny, built by
 * fixtures/generative/build.py): greedy and beam search give the same new tokens and text, greedy every step's
 * processed scores within 1e-4, beam search the same sequences_scores within 1e-4. The BART fixture's
 * generation_config.json is a summarization checkpoint's (4 beams, length_penalty 2, no_repeat_ngram_size 3,
 * early_stopping, min_length, forced BOS and EOS), so its defaults are checked as they come. transformers 5 has no
 * summarization or translation pipeline: their output names and config.json's task_specific_params and prefix are
 * checked against transformers 4.57's pipelines (the hf converter environment).
 */
import { cpSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/predict/predict.js';
import { Registry } from '../../src/registry/index.js';
import { converterRoot, familyPython } from '../convert/env.js';
import { FIXTURES, cli, fileDir } from '../helpers.js';
import { converterReferencePython, parityPython, reference } from './reference.js';

interface Case {
  text: string;
  max_new_tokens?: number;
  num_beams?: number;
  length_penalty?: number;
  early_stopping?: boolean | 'never';
  no_repeat_ngram_size?: number;
  repetition_penalty?: number;
}

interface RefCase {
  prompt_ids: number[];
  tokens: number[];
  text: string;
  num_beams: number;
  scores?: Array<Array<number | null>>;
  margin?: number | null;
  sequence_score?: number;
}

type Generated = Record<string, unknown> & {
  tokens: number[];
  finish_reason: string;
  prompt_tokens: number;
  num_beams: number;
  scores?: Array<Array<number | null>>;
  sequence_score?: number;
};

const T5_CASES: Case[] = [
  { text: 'translate English to German: the house is wonderful.', max_new_tokens: 16 },
  { text: 'héllo wörld, ça va? 東京 and 北京 🙂', max_new_tokens: 20, no_repeat_ngram_size: 2 },
  { text: 'summarize: modelctl exports encoder-decoder models.', max_new_tokens: 12, repetition_penalty: 1.5 },
  { text: 'translate English to German: the house is wonderful.', max_new_tokens: 16, num_beams: 4, no_repeat_ngram_size: 2 },
  { text: 'Beam search keeps the best few sequences.', max_new_tokens: 14, num_beams: 3, length_penalty: 0.5, early_stopping: 'never' },
  // Nothing given: generation_config.json has no max_length, so transformers' 20 (the start token included).
  { text: 'The quick brown fox jumps over the lazy dog.' },
];

const BART_CASES: Case[] = [
  // generation_config.json's own settings: 4 beams, length_penalty 2, no_repeat_ngram_size 3, early_stopping, ...
  { text: 'héllo wörld 🙂' },
  { text: 'modelctl exports models to ONNX and runs them with ONNX Runtime.', num_beams: 1, max_new_tokens: 12 },
  { text: 'The quick brown fox jumps over the lazy dog.', num_beams: 3, early_stopping: false, length_penalty: 1 },
  { text: 'A language model predicts the next token; 東京 and Москва.', num_beams: 4, early_stopping: 'never', max_new_tokens: 10 },
];

const TEXT_KEY: Record<string, string> = {
  'text2text-generation': 'generated_text',
  summarization: 'summary_text',
  translation: 'translation_text',
};

function maxScoreDiff(got: Array<Array<number | null>>, want: Array<Array<number | null>>): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (const [i, row] of want.entries()) {
    const mine = got[i] as Array<number | null>;
    expect(mine.length).toBe(row.length);
    for (const [k, v] of row.entries()) {
      const m = mine[k];
      // null: -Infinity in JSON (a banned token); both sides must ban the same tokens.
      const banned = (x: number | null | undefined) => x === null || x === Number.NEGATIVE_INFINITY;
      expect(banned(m), `step ${i} token ${k}`).toBe(banned(v));
      if (!banned(v)) worst = Math.max(worst, Math.abs((v as number) - (m as number)));
    }
  }
  return worst;
}

function cliArgs(c: Case): string[] {
  const args: string[] = [];
  if (c.max_new_tokens !== undefined) args.push('--max-new-tokens', String(c.max_new_tokens));
  if (c.num_beams !== undefined) args.push('--num-beams', String(c.num_beams));
  if (c.length_penalty !== undefined) args.push('--length-penalty', String(c.length_penalty));
  if (c.early_stopping !== undefined) args.push('--early-stopping', String(c.early_stopping));
  if (c.no_repeat_ngram_size !== undefined) args.push('--no-repeat-ngram-size', String(c.no_repeat_ngram_size));
  if (c.repetition_penalty !== undefined) args.push('--repetition-penalty', String(c.repetition_penalty));
  return args;
}

async function libraryGenerate(home: string, name: string, c: Case): Promise<Generated> {
  const r = await predict({
    model: name,
    registry: new Registry({ home }),
    input: { kind: 'texts', texts: [c.text] },
    threads: 1,
    generation: {
      doSample: false,
      outputScores: true,
      ...(c.max_new_tokens !== undefined ? { maxNewTokens: c.max_new_tokens } : {}),
      ...(c.num_beams !== undefined ? { numBeams: c.num_beams } : {}),
      ...(c.length_penalty !== undefined ? { lengthPenalty: c.length_penalty } : {}),
      ...(c.early_stopping !== undefined ? { earlyStopping: c.early_stopping } : {}),
      ...(c.no_repeat_ngram_size !== undefined ? { noRepeatNgramSize: c.no_repeat_ngram_size } : {}),
      ...(c.repetition_penalty !== undefined ? { repetitionPenalty: c.repetition_penalty } : {}),
    },
  });
  return r.predictions?.[0] as unknown as Generated;
}

async function checkModel(folder: string, name: string, task: string, cases: Case[]): Promise<void> {
  const root = converterRoot();
  const python = parityPython();
  if (!root || !python) return;
  const home = fileDir('modelctl-s2s-home-');
  const out = fileDir('modelctl-s2s-out-');
  const args = ['export', join(FIXTURES, folder), '--name', name, '--python', familyPython(root, 'hf'), '--out', out, '--json'];
  const exported = await cli(task === 'text2text-generation' ? args : [...args, '--task', task], { home });
  expect(exported.exitCode, exported.stderr).toBe(0);
  const doc = JSON.parse(exported.stdout);
  expect(doc.task).toBe(task);
  // One version, two ONNX files by role; every part validated against PyTorch, the cached step included.
  const onnx = doc.manifest.files.map((f: { path: string }) => f.path).filter((p: string) => p.endsWith('.onnx'));
  expect(onnx).toEqual(['decoder_model_merged.onnx', 'encoder_model.onnx']);
  expect(doc.manifest.metadata.onnxParts).toEqual({ encoder: 'encoder_model.onnx', decoder: 'decoder_model_merged.onnx' });
  expect(doc.manifest.metadata.primary).toBe('encoder_model.onnx');
  expect(doc.validation).toMatchObject({ passed: true, samples: 2 });
  expect(Object.keys(doc.validation.steps)).toEqual(['encoder', 'decoder_first_step', 'decoder_cached_step']);
  expect(readdirSync(out).sort()).toEqual(['decoder_model_merged.onnx', 'encoder_model.onnx']);

  const ref = await reference<{ cases: RefCase[] }>(python, 'seq2seq', { folder: join(FIXTURES, folder), cases });
  for (const [i, c] of cases.entries()) {
    const want = ref.cases[i] as RefCase;
    const label = JSON.stringify(c);
    // The random models' best and second-best scores are apart at every greedy step: equal tokens mean something.
    if (want.num_beams === 1) expect(want.margin ?? 1, label).toBeGreaterThan(1e-3);
    const r = await cli(['predict', name, c.text, ...cliArgs(c), '--json'], { home });
    expect(r.exitCode, r.stderr).toBe(0);
    const p = JSON.parse(r.stdout).predictions[0] as Generated;
    expect(p.tokens, label).toEqual(want.tokens);
    expect(p[TEXT_KEY[task] as string], label).toBe(want.text);
    expect(p.prompt_tokens).toBe(want.prompt_ids.length);
    expect(p.num_beams).toBe(want.num_beams);
    const lib = await libraryGenerate(home, name, c);
    expect(lib.tokens, label).toEqual(want.tokens);
    if (want.num_beams > 1) {
      expect(Math.abs((lib.sequence_score as number) - (want.sequence_score as number)), label).toBeLessThan(1e-4);
    } else {
      expect(maxScoreDiff(lib.scores ?? [], want.scores ?? []), label).toBeLessThan(1e-4);
    }
  }
  // The files --out wrote run as a folder: the encoder given by path finds the merged decoder beside it.
  const first = cases[0] as Case;
  const byPath = await cli(['predict', join(out, 'encoder_model.onnx'), first.text, ...cliArgs(first), '--json'], { home });
  expect(byPath.exitCode, byPath.stderr).toBe(0);
  expect(JSON.parse(byPath.stdout).predictions[0].tokens).toEqual((ref.cases[0] as RefCase).tokens);
  expect(existsSync(join(out, 'encoder_model.onnx'))).toBe(true);
}

describe('encoder-decoder generation: modelctl (encoder + merged decoder with its cache) against transformers’ generate()', () => {
  it('T5 (relative attention, Unigram tokenizer): greedy and beam search tokens equal, scores within 1e-4', async () => {
    await checkModel('s2s-t5-tiny', 't5-tiny', 'text2text-generation', T5_CASES);
  }, 300_000);

  it('BART as a summarizer: its generation_config.json (beams, length penalty, n-grams, forced BOS/EOS) followed', async () => {
    await checkModel('s2s-bart-tiny', 'bart-tiny', 'summarization', BART_CASES);
  }, 300_000);
});

describe('the output of transformers 4’s summarization, translation and text2text-generation pipelines', () => {
  it('names, task_specific_params (prefix, beams, n-grams) and config.json’s prefix as the pipelines use them', async () => {
    const root = converterRoot();
    const python = converterReferencePython();
    if (!root || !python) return;
    // The T5 fixture with what T5 checkpoints carry in config.json.
    const folder = join(fileDir('modelctl-s2s-tsp-'), 't5');
    cpSync(join(FIXTURES, 's2s-t5-tiny'), folder, { recursive: true });
    const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8'));
    config.prefix = 'paraphrase: ';
    config.task_specific_params = {
      summarization: { prefix: 'summarize: ', num_beams: 3, no_repeat_ngram_size: 2, early_stopping: true, length_penalty: 2 },
      translation_en_to_de: { prefix: 'translate English to German: ' },
    };
    writeFileSync(join(folder, 'config.json'), JSON.stringify(config));
    const home = fileDir('modelctl-s2s-tsp-home-');
    const exported = await cli(['export', folder, '--name', 't5-tsp', '--python', familyPython(root, 'hf')], { home });
    expect(exported.exitCode, exported.stderr).toBe(0);
    const cases = [
      { task: 'summarization', text: 'The quick brown fox jumps over the lazy dog.', max_new_tokens: 10 },
      { task: 'translation', text: 'the house is wonderful.', max_new_tokens: 9, num_beams: 1 },
      { task: 'text2text-generation', text: 'héllo wörld, ça va? 🙂', max_new_tokens: 8, num_beams: 1 },
    ];
    // Lengths and beams given where the pipelines' own defaults (4 beams, 256 new tokens) would differ from
    // generate()'s, which modelctl follows; summarization's beams come from task_specific_params on both sides.
    const ref = await reference<{ cases: Array<Record<string, string>> }>(python, 'seq2seq_pipeline', { folder, cases });
    for (const [i, c] of cases.entries()) {
      const r = await cli(['predict', 't5-tsp', c.text, '--task', c.task, '--max-new-tokens', String(c.max_new_tokens), '--json'], {
        home,
      });
      expect(r.exitCode, r.stderr).toBe(0);
      const p = JSON.parse(r.stdout).predictions[0] as Generated;
      const want = ref.cases[i] as Record<string, string>;
      const key = TEXT_KEY[c.task] as string;
      expect(Object.keys(want)).toEqual([key]);
      expect(p[key], JSON.stringify(c)).toBe(want[key]);
      expect(p.num_beams).toBe(c.task === 'summarization' ? 3 : 1);
    }
  }, 300_000);
});
