/**
 * `modelctl predict` on a text-generation model as a person and a script use it: the text printed as it comes equals
 * the JSON's generated_text, stop strings cut the text, and what does not fit is refused in one line.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Registry } from '../../src/registry/index.js';
import { converterRoot, familyPython } from '../convert/env.js';
import { FIXTURES, cli, fileDir } from '../helpers.js';
import { postJson, serve } from '../serve/helpers.js';

const firstLine = (text: string): string => text.trim().split('\n')[0] ?? '';

describe('predict text-generation from the command line', () => {
  it('streams the text, cuts at stop strings, and refuses what does not fit', async () => {
    const root = converterRoot();
    if (!root) return;
    const home = fileDir('modelctl-textgen-cli-');
    const exported = await cli(['export', join(FIXTURES, 'gen-gpt2-tiny'), '--name', 'gpt2', '--python', familyPython(root, 'hf')], {
      home,
    });
    expect(exported.exitCode, exported.stderr).toBe(0);
    const prompt = 'The quick brown fox';

    // The text for a person (--table off a terminal) is what --json calls generated_text (the newline after it is
    // stripped by execa).
    const json = await cli(['predict', 'gpt2', prompt, '--max-new-tokens', '24', '--json'], { home });
    expect(json.exitCode, json.stderr).toBe(0);
    const p = JSON.parse(json.stdout).predictions[0];
    expect(p.tokens.length).toBeLessThanOrEqual(24);
    expect(['eos', 'length']).toContain(p.finish_reason);
    const text = await cli(['predict', 'gpt2', prompt, '--max-new-tokens', '24', '--table'], { home });
    expect(text.exitCode, text.stderr).toBe(0);
    expect(text.stdout).toBe(p.generated_text);

    // A stop string taken from inside the greedy text: the text ends right before it, finish_reason stop.
    const visible = (p.generated_text as string).replace(/\uFFFD/g, '');
    const stop = visible.slice(4, 6);
    expect(stop).toHaveLength(2);
    const cut = await cli(['predict', 'gpt2', prompt, '--max-new-tokens', '24', '--stop', stop, '--json'], { home });
    const q = JSON.parse(cut.stdout).predictions[0];
    expect(q.finish_reason).toBe('stop');
    expect(q.generated_text).toBe((p.generated_text as string).slice(0, (p.generated_text as string).indexOf(stop)));

    // Two prompts: one prediction each, in order.
    const two = await cli(['predict', 'gpt2', prompt, 'héllo 🙂', '--max-new-tokens', '6', '--json'], { home });
    expect(JSON.parse(two.stdout).predictions).toHaveLength(2);

    // A stream of prompts: JSON Lines out, a bad line reported with its number while the others go on (exit 2).
    const prompts = join(home, 'prompts.jsonl');
    writeFileSync(prompts, `${JSON.stringify(prompt)}\n{"not": "a text"}\n${JSON.stringify('héllo 🙂')}\n`);
    const stream = await cli(['predict', 'gpt2', '--file', prompts, '--max-new-tokens', '4'], { home });
    expect(stream.exitCode).toBe(2);
    const lines = stream.stdout.split('\n').map((l) => JSON.parse(l));
    // Records as every task's stream has them: {"line": N, ...prediction}.
    expect(lines.map((l) => [l.line, l.error ? l.error.code : 'prediction'])).toEqual([
      [1, 'prediction'],
      [2, 'INVALID_INPUT'],
      [3, 'prediction'],
    ]);
    expect(lines[0].prediction).toBeUndefined();
    expect(lines[0].tokens).toEqual(p.tokens.slice(0, 4));
    expect(lines[0].finish_reason).toBe('length');

    const noTemplate = await cli(['predict', 'gpt2', '--chat', 'hi'], { home });
    expect(noTemplate.exitCode).toBe(2);
    expect(firstLine(noTemplate.stderr)).toBe('error: gpt2 has no chat template');

    // serve's task-level predict: the same tokens, the decoding settings in transformers' names.
    const server = await serve({ registry: new Registry({ home }) });
    const url = `${server.url}/v1/models/gpt2/predict`;
    const served = await postJson(url, { texts: [prompt], max_new_tokens: 24 });
    expect(served.status, JSON.stringify(served.body)).toBe(200);
    expect(served.body.predictions[0].tokens).toEqual(p.tokens);
    const sampled = { texts: [prompt], max_new_tokens: 10, do_sample: true, temperature: 1.4, top_p: 0.9, seed: 5, stop: ['zz'] };
    const [s1, s2] = [await postJson(url, sampled), await postJson(url, sampled)];
    expect(s1.body.predictions[0].seed).toBe(5);
    expect(s1.body.predictions[0].tokens).toEqual(s2.body.predictions[0].tokens);
    expect((await postJson(url, { texts: [prompt], stop: 5 })).status).toBe(400);
    const cold = await postJson(url, { texts: [prompt], do_sample: true, temperature: 0 });
    expect(cold.status).toBe(400);
    expect(JSON.stringify(cold.body)).toMatch(/temperature must be a number above 0/);

    // A registered Hugging Face folder is exported once on first use (auto-convert), then generates and chats.
    const registered = await cli(['register', join(FIXTURES, 'gen-llama-tiny'), '--name', 'llama-src'], { home });
    expect(registered.exitCode, registered.stderr).toBe(0);
    const env = { MODELCTL_PYTHON: familyPython(root, 'hf') };
    const chat = await cli(['predict', 'llama-src', '--chat', 'hi 🙂', '--max-new-tokens', '4', '--json'], { home, env });
    expect(chat.exitCode, chat.stderr).toBe(0);
    expect(JSON.parse(chat.stdout)).toMatchObject({ model: 'llama-src:1.0.1', task: 'text-generation' });
    expect(JSON.parse(chat.stdout).predictions[0].prompt).toMatch(/^<s><\|start\|>system<\|end\|>\n/);

    const bert = join(FIXTURES, 'optimum-bert', 'model.onnx');
    const flags = await cli(['predict', bert, 'a text', '--temperature', '0.5'], { home });
    expect(flags.exitCode).toBe(2);
    expect(firstLine(flags.stderr)).toBe('error: --temperature is for text-generation models, not text-classification');
    const encoder = await cli(['predict', bert, 'a text', '--task', 'text-generation'], { home });
    expect(encoder.exitCode).toBe(2);
    expect(firstLine(encoder.stderr)).toBe('error: the text-generation model takes inputs modelctl does not feed: token_type_ids');
  }, 300_000);
});
