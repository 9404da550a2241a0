/**
 * The logits processors generation_config.json switches on, against transformers 5 generate() on the same PyTorch
 * models (test/parity/py/generation_settings.py): no_repeat_ngram_size, bad_words_ids, min_length / min_new_tokens,
 * forced_bos_token_id / forced_eos_token_id, suppress_tokens / begin_suppress_tokens and max_length, read from the
 * file of a copy of fixtures/models/gen-gpt2-tiny (and s2s-t5-tiny) that `modelctl export` turned into ONNX. Greedy
 * tokens equal, scores within 1e-4 (banned tokens banned on both sides); the settings are chosen from the model's
 * plain greedy output so that each one changes it. A setting modelctl does not apply is warned about once, on stderr.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/predict/predict.js';
import { Registry } from '../../src/registry/index.js';
import { converterRoot, familyPython } from '../convert/env.js';
import { FIXTURES, cli, fileDir } from '../helpers.js';
import { parityPython, reference } from './reference.js';

interface RefCase {
  prompt_ids: number[];
  tokens: number[];
  scores: Array<Array<number | null>>;
  margin: number | null;
}

function maxScoreDiff(got: Array<Array<number | null>>, want: Array<Array<number | null>>): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (const [i, row] of want.entries()) {
    const mine = got[i] as Array<number | null>;
    for (const [k, v] of row.entries()) {
      const m = mine[k] ?? null;
      // -Infinity is null in JSON on both sides: a banned token is banned on both.
      expect(m === null, `step ${i}, token ${k}`).toBe(v === null);
      if (m !== null && v !== null) worst = Math.max(worst, Math.abs(m - v));
    }
  }
  return worst;
}

/** A copy of a fixture with `settings` merged into its generation_config.json, exported as `name`. */
async function exportWith(home: string, fixture: string, name: string, settings: Record<string, unknown>, python: string): Promise<string> {
  const folder = join(fileDir('modelctl-gensettings-'), fixture);
  cpSync(join(FIXTURES, fixture), folder, { recursive: true });
  const config = JSON.parse(readFileSync(join(folder, 'generation_config.json'), 'utf8'));
  writeFileSync(join(folder, 'generation_config.json'), JSON.stringify({ ...config, ...settings }, null, 2));
  const r = await cli(['export', folder, '--name', name, '--python', python], { home });
  expect(r.exitCode, r.stderr).toBe(0);
  return folder;
}

interface Mine {
  tokens: number[];
  scores: Array<Array<number | null>>;
}

async function predictScores(home: string, name: string, prompt: string): Promise<Mine> {
  const r = await predict({
    model: name,
    registry: new Registry({ home }),
    input: { kind: 'texts', texts: [prompt] },
    threads: 1,
    generation: { doSample: false, outputScores: true },
  });
  const p = r.predictions?.[0] as { tokens: number[]; scores: number[][] };
  return { tokens: p.tokens, scores: p.scores.map((row) => row.map((v) => (v === Number.NEGATIVE_INFINITY ? null : v))) };
}

async function expectParity(home: string, name: string, prompts: string[], want: RefCase[]): Promise<void> {
  for (const [i, prompt] of prompts.entries()) {
    const ref = want[i] as RefCase;
    if (ref.margin !== null) expect(ref.margin).toBeGreaterThan(1e-3);
    const mine = await predictScores(home, name, prompt);
    expect(mine.tokens, `${name}: ${prompt}`).toEqual(ref.tokens);
    expect(maxScoreDiff(mine.scores, ref.scores)).toBeLessThan(1e-4);
  }
}

describe('generation settings from generation_config.json: the same tokens as transformers’ generate()', () => {
  it('GPT-2: n-grams, bad words, min new tokens, suppressed tokens, max_length; forced BOS/EOS, min_length', async () => {
    const root = converterRoot();
    const python = parityPython();
    if (!root || !python) return;
    const hf = familyPython(root, 'hf');
    const home = fileDir('modelctl-gensettings-home-');
    const prompts = ['The quick brown fox', 'A'];
    const plain = await reference<{ cases: RefCase[] }>(python, 'generation_settings', {
      folder: join(FIXTURES, 'gen-gpt2-tiny'),
      prompts,
      kwargs: { max_new_tokens: 20 },
    });
    const p = (plain.cases[0] as RefCase).tokens;
    const q = (plain.cases[1] as RefCase).tokens;
    // Long enough to take the settings' tokens from (the random model may end early at its end token, 0).
    expect(Math.min(p.length, q.length)).toBeGreaterThanOrEqual(6);

    // A: every processor that acts at any length, and max_length (prompt included) instead of max_new_tokens.
    const a = {
      eos_token_id: [0, p[2]],
      min_new_tokens: 6,
      no_repeat_ngram_size: 2,
      bad_words_ids: [[p[5]], [p[0], p[1]]],
      suppress_tokens: [p[3]],
      begin_suppress_tokens: [q[0]],
      max_length: 18,
      max_time: 600,
    };
    const folderA = await exportWith(home, 'gen-gpt2-tiny', 'gpt2-a', a, hf);
    const wantA = (await reference<{ cases: RefCase[] }>(python, 'generation_settings', { folder: folderA, prompts })).cases;
    for (const [i, ref] of wantA.entries()) {
      expect(ref.tokens, 'the settings change the greedy output').not.toEqual(plain.cases[i]?.tokens.slice(0, ref.tokens.length));
      expect(ref.prompt_ids.length + ref.tokens.length).toBeLessThanOrEqual(18);
    }
    await expectParity(home, 'gpt2-a', prompts, wantA);

    // B: a one-token prompt gets the forced BOS token first (and begin_suppress_tokens one step later), the forced
    // EOS token at max_length - 1; min_length (prompt included) holds off an early end token.
    const b = {
      eos_token_id: [0, q[1]],
      forced_bos_token_id: q[3],
      forced_eos_token_id: p[4],
      min_length: 6,
      begin_suppress_tokens: [q[0]],
      max_length: 12,
    };
    const folderB = await exportWith(home, 'gen-gpt2-tiny', 'gpt2-b', b, hf);
    const wantB = (await reference<{ cases: RefCase[] }>(python, 'generation_settings', { folder: folderB, prompts })).cases;
    expect((wantB[1] as RefCase).tokens[0]).toBe(q[3]);
    await expectParity(home, 'gpt2-b', prompts, wantB);

    // The CLI: --no-repeat-ngram-size on text-generation, as transformers' no_repeat_ngram_size; and the setting
    // modelctl does not apply (max_time) warned about once for two prompts, on stderr.
    const ngram = (
      await reference<{ cases: RefCase[] }>(python, 'generation_settings', {
        folder: join(FIXTURES, 'gen-gpt2-tiny'),
        prompts,
        kwargs: { max_new_tokens: 20, no_repeat_ngram_size: 1 },
      })
    ).cases;
    await cli(['export', join(FIXTURES, 'gen-gpt2-tiny'), '--name', 'gpt2', '--python', hf], { home });
    const r = await cli(['predict', 'gpt2', ...prompts, '--no-repeat-ngram-size', '1', '--max-new-tokens', '20', '--no-sample', '--json'], {
      home,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).predictions.map((x: { tokens: number[] }) => x.tokens)).toEqual(ngram.map((c) => c.tokens));
    expect(new Set((ngram[0] as RefCase).tokens).size).toBe((ngram[0] as RefCase).tokens.length);
    const warned = await cli(['predict', 'gpt2-a', ...prompts, '--max-new-tokens', '3', '--no-sample', '--table'], { home });
    expect(warned.exitCode, warned.stderr).toBe(0);
    const lines = warned.stderr.split('\n').filter((l) => l.includes('max_time'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^warning: generation_config\.json sets max_time, which modelctl does not apply/);
  }, 400_000);

  it('T5: the same processors on an encoder-decoder model', async () => {
    const root = converterRoot();
    const python = parityPython();
    if (!root || !python) return;
    const home = fileDir('modelctl-gensettings-t5-');
    const prompts = ['translate English to German: the house is wonderful.', 'héllo wörld 🙂'];
    const plain = await reference<{ cases: RefCase[] }>(python, 'generation_settings', {
      folder: join(FIXTURES, 's2s-t5-tiny'),
      prompts,
      kwargs: { max_new_tokens: 16 },
    });
    const p = (plain.cases[0] as RefCase).tokens;
    const settings = {
      eos_token_id: [1, p[1]],
      min_new_tokens: 4,
      bad_words_ids: [[p[4]], [p[0], p[2]]],
      suppress_tokens: [p[3]],
      begin_suppress_tokens: [p[0]],
      max_length: 14,
    };
    const folder = await exportWith(home, 's2s-t5-tiny', 't5-a', settings, familyPython(root, 'hf'));
    const want = (await reference<{ cases: RefCase[] }>(python, 'generation_settings', { folder, prompts })).cases;
    expect((want[0] as RefCase).tokens).not.toEqual(p.slice(0, (want[0] as RefCase).tokens.length));
    await expectParity(home, 't5-a', prompts, want);
  }, 400_000);
});
