/**
 * Float16 generative models, as transformers.js-style Hub repos ship them (`*_fp16.onnx`: logits and the KV cache in
 * float16). The tiny GPT-2 that `modelctl export` made from fixtures/models/gen-gpt2-tiny is converted with
 * onnxconverter_common (keep_io_types=False, so logits, past_key_values.* and present.* are float16), the folder
 * registered, and `modelctl predict` must give greedily the very tokens of a greedy loop in Python onnxruntime over
 * the same float16 file (test/parity/py/fp16_generation.py), with every step's scores those float16 logits. Read as
 * float32, onnxruntime-node's Uint16Array of half bits gave other tokens.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/predict/predict.js';
import { Registry } from '../../src/registry/index.js';
import { converterRoot, familyPython } from '../convert/env.js';
import { FIXTURES, cli, fileDir } from '../helpers.js';
import { parityPython, reference } from './reference.js';

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

const PROMPTS = ['The quick brown fox', 'héllo wörld, ça va? 東京 and 北京 🙂', 'A'];
const NEW_TOKENS = 12;

/** A registered export's files in a fresh folder, its ONNX files converted to float16 in place; the conversion's types. */
async function float16Folder(home: string, name: string, onnxFiles: string[]): Promise<{ dir: string; converted: Converted }> {
  const root = converterRoot() as string;
  const dir = join(fileDir('modelctl-fp16-'), 'model');
  const r = await cli(['checkout', name, dir], { home });
  expect(r.exitCode, r.stderr).toBe(0);
  // onnx and onnxconverter_common live in the xgboost converter environment (onnxmltools depends on them).
  const files = onnxFiles.map((f) => [join(dir, f), join(dir, f)]);
  const converted = await reference<Converted>(familyPython(root, 'xgboost'), 'fp16_generation', { mode: 'convert', files });
  return { dir, converted };
}

/** The largest difference between modelctl's scores and the float16 logits the Python loop chose from. */
function maxDiff(got: number[][], want: number[][]): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (const [i, row] of want.entries()) {
    const mine = got[i] as number[];
    expect(mine.length).toBe(row.length);
    for (const [k, v] of row.entries()) worst = Math.max(worst, Math.abs(v - (mine[k] as number)));
  }
  return worst;
}

describe('float16 models: logits and KV cache in half precision', () => {
  it('GPT-2 converted to float16: predict gives the greedy tokens of onnxruntime over the same file', async () => {
    const root = converterRoot();
    const python = parityPython();
    if (!root || !python) return;
    const home = fileDir('modelctl-fp16-home-');
    const exported = await cli(['export', join(FIXTURES, 'gen-gpt2-tiny'), '--name', 'gpt2-tiny', '--python', familyPython(root, 'hf')], {
      home,
    });
    expect(exported.exitCode, exported.stderr).toBe(0);
    const { dir, converted } = await float16Folder(home, 'gpt2-tiny', ['model.onnx']);
    const types = converted.files[0] as Converted['files'][number];
    expect(types.outputs.logits).toBe('float16');
    const cache = Object.entries({ ...types.inputs, ...types.outputs }).filter(([n]) => /^(past_key_values|present)\./.test(n));
    expect(cache.length).toBe(8);
    for (const [n, t] of cache) expect(t, n).toBe('float16');

    const registered = await cli(['register', dir, '--name', 'gpt2-tiny-fp16', '--json'], { home });
    expect(registered.exitCode, registered.stderr).toBe(0);
    expect(JSON.parse(registered.stdout).manifest.task).toBe('text-generation');

    const eos = [JSON.parse(readFileSync(join(dir, 'generation_config.json'), 'utf8')).eos_token_id].flat() as number[];
    const ref = await reference<{ cases: RefCase[] }>(python, 'fp16_generation', {
      mode: 'causal',
      model: join(dir, 'model.onnx'),
      folder: dir,
      prompts: PROMPTS,
      max_new_tokens: NEW_TOKENS,
      eos,
    });
    for (const [i, prompt] of PROMPTS.entries()) {
      const want = ref.cases[i] as RefCase;
      expect(want.dtype).toBe('tensor(float16)');
      // Far from a tie at every step (more than twice the scores' tolerance below): equal tokens mean something.
      expect(want.margin).toBeGreaterThan(0.02);
      const r = await cli(['predict', 'gpt2-tiny-fp16', prompt, '--max-new-tokens', String(NEW_TOKENS), '--no-sample', '--json'], {
        home,
      });
      expect(r.exitCode, r.stderr).toBe(0);
      const got = JSON.parse(r.stdout).predictions[0];
      expect(got.tokens, prompt).toEqual(want.tokens);
      expect(got.prompt_tokens).toBe(want.prompt_ids.length);
      expect(got.finish_reason).toBe(eos.includes(want.tokens.at(-1) as number) ? 'eos' : 'length');
      // Not garbage: the scores modelctl chose from are the float16 logits onnxruntime gives in Python.
      const scored = await predict({
        model: 'gpt2-tiny-fp16',
        registry: new Registry({ home }),
        input: { kind: 'texts', texts: [prompt] },
        threads: 1,
        generation: { maxNewTokens: NEW_TOKENS, doSample: false, outputScores: true },
      });
      const prediction = scored.predictions?.[0] as { tokens: number[]; scores: number[][] };
      expect(prediction.tokens).toEqual(want.tokens);
      // onnxruntime-node 1.30 and Python's 1.32 differ by at most one float16 step here (2^-8 at these magnitudes).
      expect(maxDiff(prediction.scores, want.logits)).toBeLessThan(0.01);
    }
  }, 300_000);
});
