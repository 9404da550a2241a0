/**
 * Text generation against transformers 5 generate() on the PyTorch models that `modelctl export` turned into ONNX
 * (fixtures/models/gen-gpt2-tiny and gen-llama-tiny, built by fixtures/generative/build.py): the same new tokens
 * greedily, prompt after prompt (non-ASCII, emoji, chat conversations, a repetition penalty), the same decoded text,
 * every step's processed scores within 1e-4, and the chat prompt rendered as apply_chat_template renders it.
 * Sampling has no PyTorch twin (its generator is PyTorch's own): it must repeat itself with a seed, differ with
 * another, and be greedy when only one token is left to draw from (top-k 1).
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/predict/predict.js';
import { Registry } from '../../src/registry/index.js';
import { converterRoot, familyPython } from '../convert/env.js';
import { FIXTURES, cli, fileDir } from '../helpers.js';
import { converterReferencePython, maxScoreDiff, parityPython, reference } from './reference.js';

type Message = { role: string; content: string };
type Case = { prompt?: string; messages?: Message[]; max_new_tokens: number; repetition_penalty?: number };

interface RefCase {
  prompt_ids: number[];
  tokens: number[];
  text: string;
  scores: number[][];
  margin: number | null;
  rendered?: string;
}

interface Generated {
  generated_text: string;
  tokens: number[];
  finish_reason: string;
  prompt_tokens: number;
  prompt?: string;
  seed?: number;
  scores?: number[][];
}

const GPT2_CASES: Case[] = [
  { prompt: 'The quick brown fox', max_new_tokens: 20 },
  { prompt: 'héllo wörld, ça va? 東京 and 北京', max_new_tokens: 16 },
  { prompt: 'emoji: 🙂 🚀 and 🎉!', max_new_tokens: 12, repetition_penalty: 1.5 },
  { prompt: 'A', max_new_tokens: 30, repetition_penalty: 1.2 },
];

const LLAMA_CASES: Case[] = [
  { prompt: 'The user asks a question', max_new_tokens: 24 },
  { prompt: 'Москва и 北京 🙂', max_new_tokens: 16, repetition_penalty: 1.3 },
  {
    messages: [
      { role: 'system', content: 'You answer in one word.' },
      { role: 'user', content: 'Which city is 東京? 🙂' },
    ],
    max_new_tokens: 16,
  },
  {
    messages: [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'héllo!' },
      { role: 'user', content: 'emoji 🎉 please' },
    ],
    max_new_tokens: 10,
    repetition_penalty: 1.2,
  },
];

async function exportModel(home: string, folder: string, name: string, python: string, out: string): Promise<void> {
  // Validation samples longer than the model's positions (GPT-2 here has 64) are cut to fit, not an exit 5.
  const samples = join(fileDir('modelctl-textgen-samples-'), 'samples.json');
  writeFileSync(samples, JSON.stringify(['short', Array.from({ length: 60 }, (_, i) => `word${i} 🙂 東京`).join(' ')]));
  const r = await cli(
    ['export', join(FIXTURES, folder), '--name', name, '--python', python, '--sample-input', samples, '--out', out, '--json'],
    {
      home,
    },
  );
  expect(r.exitCode, r.stderr).toBe(0);
  const doc = JSON.parse(r.stdout);
  expect(doc.task).toBe('text-generation');
  // One decoder with its cache, checked at the prompt and at a cached step.
  expect(doc.manifest.files.filter((f: { path: string }) => f.path.endsWith('.onnx')).map((f: { path: string }) => f.path)).toEqual([
    'model.onnx',
  ]);
  expect(doc.validation).toMatchObject({ passed: true, samples: 2 });
  expect(Object.keys(doc.validation.steps)).toEqual(['prompt', 'cached_step']);
  expect(doc.manifest.files.map((f: { path: string }) => f.path)).toContain('generation_config.json');
}

/** One case through the CLI as a user runs it: greedy, --json. */
async function cliGenerate(home: string, name: string, c: Case, dir: string): Promise<{ prediction: Generated; stdout: string }> {
  const args = ['predict', name, '--max-new-tokens', String(c.max_new_tokens), '--no-sample', '--json'];
  if (c.repetition_penalty !== undefined) args.push('--repetition-penalty', String(c.repetition_penalty));
  if (c.messages) {
    const file = join(dir, `chat-${Math.random().toString(36).slice(2)}.jsonl`);
    writeFileSync(file, c.messages.map((m) => JSON.stringify(m)).join('\n'));
    args.push('--chat', file);
  } else args.push(c.prompt as string);
  const r = await cli(args, { home });
  expect(r.exitCode, r.stderr).toBe(0);
  return { prediction: JSON.parse(r.stdout).predictions[0] as Generated, stdout: r.stdout };
}

async function libraryGenerate(home: string, name: string, c: Case, extra: Record<string, unknown> = {}): Promise<Generated> {
  const r = await predict({
    model: name,
    registry: new Registry({ home }),
    input: { kind: 'texts', texts: c.messages ? [] : [c.prompt as string] },
    threads: 1,
    generation: {
      maxNewTokens: c.max_new_tokens,
      doSample: false,
      outputScores: true,
      ...(c.repetition_penalty !== undefined ? { repetitionPenalty: c.repetition_penalty } : {}),
      ...(c.messages ? { chat: c.messages } : {}),
      ...extra,
    },
  });
  return r.predictions?.[0] as Generated;
}

async function checkModel(folder: string, name: string, cases: Case[]): Promise<void> {
  const root = converterRoot();
  const python = parityPython();
  if (!root || !python) return;
  const home = fileDir('modelctl-textgen-home-');
  // --out: the ONNX file alone, its tokenizer, generation_config.json and chat template embedded in its metadata.
  const bare = join(fileDir('modelctl-textgen-out-'), 'model.onnx');
  await exportModel(home, folder, name, familyPython(root, 'hf'), bare);
  const ref = await reference<{ cases: RefCase[] }>(python, 'text_generation', { folder: join(FIXTURES, folder), cases });
  const dir = fileDir('modelctl-textgen-chat-');
  const generationConfig = JSON.parse(readFileSync(join(FIXTURES, folder, 'generation_config.json'), 'utf8'));
  const eos = [generationConfig.eos_token_id].flat() as number[];
  for (const [i, c] of cases.entries()) {
    const want = ref.cases[i] as RefCase;
    // The random models' best and second-best scores are far apart at every step: equal tokens mean something.
    expect(want.margin).toBeGreaterThan(1e-3);
    const { prediction } = await cliGenerate(home, name, c, dir);
    expect(prediction.tokens, JSON.stringify(c)).toEqual(want.tokens);
    expect(prediction.generated_text).toBe(want.text);
    expect(prediction.prompt_tokens).toBe(want.prompt_ids.length);
    expect(prediction.finish_reason).toBe(eos.includes(want.tokens.at(-1) as number) ? 'eos' : 'length');
    if (c.messages) expect(prediction.prompt).toBe(want.rendered);
    if (i === 2) expect((await cliGenerate(home, bare, c, dir)).prediction.tokens).toEqual(want.tokens);
    const scored = await libraryGenerate(home, name, c);
    expect(scored.tokens).toEqual(want.tokens);
    expect(maxScoreDiff(scored.scores ?? [], want.scores)).toBeLessThan(1e-4);
  }
  // Sampling: the same seed twice gives the same tokens, another seed others, top-k 1 the greedy ones.
  const c = cases[0] as Case;
  const sample = (seed: number, extra: Record<string, unknown> = {}) =>
    libraryGenerate(
      home,
      name,
      { ...c, max_new_tokens: 24 },
      { doSample: true, seed, temperature: 1.5, topP: 0.95, outputScores: false, ...extra },
    );
  const [a, b, other] = [await sample(7), await sample(7), await sample(8)];
  expect(a.tokens).toEqual(b.tokens);
  expect(a.seed).toBe(7);
  expect(other.tokens).not.toEqual(a.tokens);
  const greedyRef = ref.cases[0] as RefCase;
  const topOne = await libraryGenerate(home, name, c, { doSample: true, seed: 3, topK: 1, outputScores: false });
  expect(topOne.tokens).toEqual(greedyRef.tokens);
  // The CLI's sampling flags: --seed repeats itself run to run.
  const args = ['predict', name, c.prompt as string, '--max-new-tokens', '12', '--temperature', '1.3', '--seed', '11', '--json'];
  const [r1, r2] = [await cli(args, { home }), await cli(args, { home })];
  expect(r1.exitCode, r1.stderr).toBe(0);
  expect(JSON.parse(r1.stdout).predictions[0].tokens).toEqual(JSON.parse(r2.stdout).predictions[0].tokens);
}

describe('text-generation: modelctl (ONNX export, KV cache) against transformers’ generate() (its PyTorch model)', () => {
  it('GPT-2: greedy tokens and text equal, scores within 1e-4, with a repetition penalty; seeded sampling repeats', async () => {
    await checkModel('gen-gpt2-tiny', 'gpt2-tiny', GPT2_CASES);
  }, 300_000);

  it('Llama-style (GQA, RoPE, two end tokens): prompts and chat conversations rendered by the model’s template', async () => {
    await checkModel('gen-llama-tiny', 'llama-tiny', LLAMA_CASES);
  }, 300_000);
});

describe('export validation of a tokenizer without a length of its own (issue 16)', () => {
  it('samples longer than the model’s 64 positions are cut to fit, with or without the cache, and validate', async () => {
    const root = converterRoot();
    if (!root) return;
    // transformers writes model_max_length 1e30 for a tokenizer saved without one: only config.json's n_positions says 64.
    const folder = join(fileDir('modelctl-textgen-nolimit-'), 'gpt2');
    cpSync(join(FIXTURES, 'gen-gpt2-tiny'), folder, { recursive: true });
    const config = JSON.parse(readFileSync(join(folder, 'tokenizer_config.json'), 'utf8'));
    delete config.model_max_length;
    writeFileSync(join(folder, 'tokenizer_config.json'), JSON.stringify(config));
    const samples = join(folder, '..', 'samples.json');
    writeFileSync(samples, JSON.stringify(['short', Array.from({ length: 80 }, (_, i) => `word${i} 🙂`).join(' ')]));
    const home = fileDir('modelctl-textgen-home-');
    for (const task of ['feature-extraction', 'text-generation']) {
      const args = ['export', folder, '--name', `g-${task}`, '--task', task, '--sample-input', samples, '--json'];
      const r = await cli([...args, '--python', familyPython(root, 'hf')], { home });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).validation).toMatchObject({ passed: true, samples: 2 });
    }
  }, 300_000);
});

describe('text-generation on other decoder architectures (built at test time, transformers 4.57 as reference)', () => {
  it('Qwen2, Phi-3, GPT-NeoX, Falcon (multi-query) and BLOOM (ALiBi) export with their cache and give generate()’s greedy tokens', async () => {
    const root = converterRoot();
    const python = converterReferencePython();
    if (!root || !python) return;
    const prompt = 'The quick brown 東京 🙂';
    const archs = ['qwen2', 'phi3', 'gpt_neox', 'falcon', 'bloom'];
    const ref = await reference<{ models: Record<string, { folder: string; tokens: number[] }> }>(python, 'causal_lm_zoo', {
      tokenizer: join(FIXTURES, 'gen-llama-tiny'),
      out: fileDir('modelctl-textgen-zoo-'),
      archs,
      prompt,
      max_new_tokens: 12,
    });
    const home = fileDir('modelctl-textgen-home-');
    for (const arch of archs) {
      const want = ref.models[arch] as { folder: string; tokens: number[] };
      const exported = await cli(['export', want.folder, '--name', arch, '--python', familyPython(root, 'hf'), '--json'], { home });
      expect(exported.exitCode, `${arch}: ${exported.stderr}`).toBe(0);
      const r = await cli(['predict', arch, prompt, '--max-new-tokens', '12', '--no-sample', '--json'], { home });
      expect(r.exitCode, `${arch}: ${r.stderr}`).toBe(0);
      expect(JSON.parse(r.stdout).predictions[0].tokens, arch).toEqual(want.tokens);
    }
  }, 400_000);
});
