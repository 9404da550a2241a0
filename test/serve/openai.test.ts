/**
 * The OpenAI-compatible endpoints of `modelctl serve` (/v1/chat/completions, /v1/completions, the model list) on the
 * tiny text-generation fixtures exported by the real converter: the official `openai` Python client (from
 * test/py/requirements.txt) streams and fetches chat and plain completions whose text and token counts are what
 * `modelctl predict` gives greedily; the raw event stream has OpenAI's framing; errors have OpenAI's shape.
 */
import { execa } from 'execa';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/predict/predict.js';
import { Registry } from '../../src/registry/index.js';
import { converterRoot, familyPython } from '../convert/env.js';
import { FIXTURES, ROOT, cli, fileDir } from '../helpers.js';
import { pythonAvailable, testPython } from '../python.js';
import { getJson, postJson, serve } from './helpers.js';

type Message = { role: string; content: string };

const CHAT: Message[] = [
  { role: 'system', content: 'You answer in one word.' },
  { role: 'user', content: 'Which city is 東京? 🙂' },
];

/** A registry holding the fixture exported by `modelctl export` (the real optimum converter), or null without it. */
async function exported(folder: string, name: string): Promise<Registry | null> {
  const root = converterRoot();
  if (!root) return null;
  const home = fileDir('modelctl-openai-home-');
  const r = await cli(['export', join(FIXTURES, folder), '--name', name, '--python', familyPython(root, 'hf'), '--json'], { home });
  expect(r.exitCode, r.stderr).toBe(0);
  return new Registry({ home });
}

/** What `modelctl predict` generates greedily (the library, as the CLI runs it). */
async function greedy(registry: Registry, model: string, prompt: { text?: string; chat?: Message[] }, max: number, stop?: string[]) {
  const r = await predict({
    model,
    registry,
    input: { kind: 'texts', texts: prompt.text !== undefined ? [prompt.text] : [] },
    generation: { maxNewTokens: max, doSample: false, ...(prompt.chat ? { chat: prompt.chat } : {}), ...(stop ? { stop } : {}) },
  });
  return r.predictions?.[0] as { generated_text: string; tokens: number[]; prompt_tokens: number; finish_reason: string };
}

/** The `data:` events of a server-sent event stream, in order. */
async function events(url: string, body: unknown): Promise<{ type: string | null; data: string[] }> {
  const r = await fetch(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  expect(r.status).toBe(200);
  const text = await r.text();
  expect(text.endsWith('\n\n')).toBe(true);
  const blocks = text.split('\n\n').filter((b) => b !== '');
  for (const b of blocks) expect(b.startsWith('data: ')).toBe(true);
  return { type: r.headers.get('content-type'), data: blocks.map((b) => b.slice('data: '.length)) };
}

describe('serve: OpenAI-compatible completions', () => {
  it('errors have OpenAI’s shape: unknown model (404), a model that is not text-generation, n > 1, bad fields', async () => {
    const s = await serve();
    const missing = await postJson(`${s.url}/v1/chat/completions`, { model: 'nope', messages: [{ role: 'user', content: 'x' }] });
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({ type: 'not_found_error', code: 'model_not_found', param: 'model' });
    expect(missing.body.error.message).toMatch(/nope/);
    const iris = await postJson(`${s.url}/v1/completions`, { model: 'iris', prompt: 'x' });
    expect(iris.status).toBe(400);
    expect(iris.body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_model' });
    expect(iris.body.error.message).toMatch(/iris:.* is a tabular-classification model; \/v1\/completions serves text-generation/);
    for (const [body, param] of [
      [{ model: 'iris', prompt: 'x', n: 3 }, 'n'],
      [{ model: 'iris', messages: [] }, 'messages'],
      [{ model: 'iris', prompt: 'x', temperature: 3 }, 'temperature'],
      [{ model: 'iris', prompt: [1, 2] }, 'prompt'],
      [{ model: 'iris', prompt: 'x', logprobs: 2 }, 'logprobs'],
      // Penalties and biases would change the tokens: refused, not ignored (their neutral values pass).
      [{ model: 'iris', prompt: 'x', frequency_penalty: 0.5 }, 'frequency_penalty'],
      [{ model: 'iris', messages: [{ role: 'user', content: 'x' }], presence_penalty: -1 }, 'presence_penalty'],
      [{ model: 'iris', prompt: 'x', logit_bias: { '50256': -100 } }, 'logit_bias'],
      [{ prompt: 'x' }, 'model'],
    ] as const) {
      const r = await postJson(`${s.url}/v1/${'messages' in body ? 'chat/' : ''}completions`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param, code: `invalid_${param}` });
    }
    const neutral = await postJson(`${s.url}/v1/completions`, {
      model: 'iris',
      prompt: 'x',
      frequency_penalty: 0,
      presence_penalty: 0,
      logit_bias: {},
    });
    expect(neutral.body.error).toMatchObject({ code: 'invalid_model' });
    const notJson = await postJson(`${s.url}/v1/chat/completions`, '{');
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.type).toBe('invalid_request_error');
    // The listing keeps its fields and adds OpenAI's.
    const list = await getJson(`${s.url}/v1/models`);
    expect(list.body.models.map((m: { name: string }) => m.name).sort()).toEqual(['iris', 'org/hand']);
    expect(list.body.object).toBe('list');
    expect(list.body.data.map((m: { id: string }) => m.id)).toEqual(['iris', 'org/hand', 'iris:1.0.0', 'org/hand:1.0.0']);
    for (const m of list.body.data) expect(m).toMatchObject({ object: 'model', owned_by: 'modelctl', created: expect.any(Number) });
    const doc = (await getJson(`${s.url}/openapi.json`)).body;
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/chat/completions', '/v1/completions']));
  });

  it('Llama-style chat model: the raw event stream, and the openai Python client, give predict’s greedy text', async () => {
    const registry = await exported('gen-llama-tiny', 'llama-tiny');
    if (!registry) return;
    const s = await serve({ registry });
    const want = await greedy(registry, 'llama-tiny', { chat: CHAT }, 12);
    // The raw stream: a role chunk, content chunks, the finish chunk, the usage chunk, [DONE].
    const raw = await events(`${s.url}/v1/chat/completions`, {
      model: 'llama-tiny',
      messages: CHAT,
      max_tokens: 12,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(raw.type).toMatch(/^text\/event-stream/);
    expect(raw.data.at(-1)).toBe('[DONE]');
    const chunks = raw.data.slice(0, -1).map((d) => JSON.parse(d));
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && Number.isInteger(c.created))).toBe(true);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    const content = chunks.flatMap((c) => c.choices.map((x: { delta: { content?: string } }) => x.delta.content ?? '')).join('');
    expect(content).toBe(want.generated_text);
    const usage = {
      prompt_tokens: want.prompt_tokens,
      completion_tokens: want.tokens.length,
      total_tokens: want.prompt_tokens + want.tokens.length,
    };
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage });
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    expect(chunks.at(-2).choices[0].finish_reason).toBe(want.finish_reason === 'length' ? 'length' : 'stop');

    if (!pythonAvailable()) return;
    const prompt = 'The user asks a question';
    const plain = await greedy(registry, 'llama-tiny', { text: prompt }, 10);
    const r = await execa(
      testPython() as string,
      [
        join(ROOT, 'test', 'serve', 'openai_client.py'),
        s.url,
        'llama-tiny:1.0.0',
        JSON.stringify({ messages: CHAT, prompt, max_tokens: 12 }),
      ],
      { reject: false, stdin: 'ignore' },
    );
    expect(r.exitCode, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout);
    expect(got.models.map((m: { id: string }) => m.id)).toEqual(['llama-tiny', 'llama-tiny:1.0.0']);
    expect(got.chat_stream).toMatchObject({ text: want.generated_text, roles: ['assistant'], usage, objects: ['chat.completion.chunk'] });
    expect(got.chat_stream.pieces.length).toBeGreaterThan(1); // streamed token by token, not in one piece
    expect(got.chat).toMatchObject({
      content: want.generated_text,
      role: 'assistant',
      object: 'chat.completion',
      model: 'llama-tiny:1.0.0',
      usage,
    });
    expect(got.chat.finish_reason).toBe(got.chat_stream.finish_reason);
    expect(got.n2).toMatchObject({ status: 400, class: 'BadRequestError' });
    expect(got.n2.body).toMatchObject({ param: 'n', type: 'invalid_request_error' }); // the client unwraps "error"
    // A plain completion (the prompt with the tokenizer's start token), streamed and whole.
    const maxed = await greedy(registry, 'llama-tiny', { text: prompt }, 12);
    for (const c of [got.completion_stream, got.completion]) {
      expect(c.text).toBe(maxed.generated_text);
      expect(c.usage).toMatchObject({
        prompt_tokens: maxed.prompt_tokens,
        completion_tokens: maxed.tokens.length,
        total_tokens: maxed.prompt_tokens + maxed.tokens.length,
      });
    }
    expect(plain.generated_text.length).toBeGreaterThan(0);
    expect(got.completion.object).toBe('text_completion');
    expect(got.missing).toMatchObject({ status: 404, class: 'NotFoundError' });
  }, 300_000);

  it('GPT-2: a plain completion with a stop string ends with finish_reason stop and the text cut before it', async () => {
    const registry = await exported('gen-gpt2-tiny', 'gpt2-tiny');
    if (!registry) return;
    const s = await serve({ registry });
    const prompt = 'The quick brown fox';
    const free = await greedy(registry, 'gpt2-tiny', { text: prompt }, 20);
    // A stop string from the middle of the greedy text: the server stops where predict stops.
    const stop = free.generated_text.slice(Math.floor(free.generated_text.length / 2)).slice(0, 2);
    expect(stop.length).toBe(2);
    const want = await greedy(registry, 'gpt2-tiny', { text: prompt }, 20, [stop]);
    expect(want.finish_reason).toBe('stop');
    const r = await postJson(`${s.url}/v1/completions`, { model: 'gpt2-tiny', prompt, max_tokens: 20, temperature: 0, stop });
    expect(r.status).toBe(200);
    expect(r.body.choices[0]).toMatchObject({ index: 0, text: want.generated_text, finish_reason: 'stop' });
    expect(r.body.usage.completion_tokens).toBe(want.tokens.length);
    expect(r.body.id).toMatch(/^cmpl-/);
    // Seeded sampling repeats itself.
    const sample = { model: 'gpt2-tiny', prompt, max_tokens: 16, temperature: 1.2, top_p: 0.95, seed: 5 };
    const [a, b] = [await postJson(`${s.url}/v1/completions`, sample), await postJson(`${s.url}/v1/completions`, sample)];
    expect(a.body.choices[0].text).toBe(b.body.choices[0].text);
    // A client that goes away mid-stream: the server stops that generation and goes on serving.
    const controller = new AbortController();
    const streamed = await fetch(`${s.url}/v1/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'gpt2-tiny', prompt, max_tokens: 40, temperature: 0, stream: true }),
      headers: { 'content-type': 'application/json' },
      signal: controller.signal,
    });
    const reader = (streamed.body as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toMatch(/^data: \{/);
    controller.abort();
    await reader.read().catch(() => undefined);
    const after = await postJson(`${s.url}/v1/completions`, { model: 'gpt2-tiny', prompt, max_tokens: 20, temperature: 0 });
    expect(after.body.choices[0].text).toBe(free.generated_text);
    expect(after.body.warnings).toBeUndefined();
  }, 300_000);

  it('a generation_config.json setting modelctl does not apply comes back as "warnings", whole and in the stream’s last chunk', async () => {
    const root = converterRoot();
    if (!root) return;
    const copy = join(fileDir('modelctl-openai-warn-'), 'gpt2');
    cpSync(join(FIXTURES, 'gen-gpt2-tiny'), copy, { recursive: true });
    const configPath = join(copy, 'generation_config.json');
    writeFileSync(configPath, JSON.stringify({ ...JSON.parse(readFileSync(configPath, 'utf8')), max_time: 600 }));
    const home = fileDir('modelctl-openai-warn-home-');
    const r = await cli(['export', copy, '--name', 'timed', '--python', familyPython(root, 'hf')], { home });
    expect(r.exitCode, r.stderr).toBe(0);
    const s = await serve({ registry: new Registry({ home }) });
    const message =
      "generation_config.json sets max_time, which modelctl does not apply: the output may differ from transformers' generate()";
    const whole = await postJson(`${s.url}/v1/completions`, { model: 'timed', prompt: 'The quick', max_tokens: 4, temperature: 0 });
    expect(whole.status).toBe(200);
    expect(whole.body.warnings).toEqual([message]);
    const stream = await events(`${s.url}/v1/completions`, {
      model: 'timed',
      prompt: 'The quick',
      max_tokens: 4,
      temperature: 0,
      stream: true,
    });
    const chunks = stream.data.slice(0, -1).map((d) => JSON.parse(d));
    expect(chunks.at(-1).warnings).toEqual([message]);
    expect(chunks.at(-1).choices[0].finish_reason).not.toBeNull();
    expect(chunks.slice(0, -1).every((c) => c.warnings === undefined)).toBe(true);
  }, 300_000);
});
