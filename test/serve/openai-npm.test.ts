/**
 * The official `openai` npm client (devDependency) against `modelctl serve` on loopback, on the tiny text-generation
 * fixtures exported by the real converter: chat and plain completions, whole and streamed, give the text and token
 * counts `modelctl predict` gives greedily for the same prompt; models.list / models.retrieve (a `name:version` id
 * too) work; errors reach the client as its own error classes (401 AuthenticationError, 404 NotFoundError, 400
 * BadRequestError) with OpenAI's error shape.
 */
import { join } from 'node:path';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/predict/predict.js';
import { Registry } from '../../src/registry/index.js';
import type { GenerationOptions } from '../../src/tasks/text-generation.js';
import { converterRoot, familyPython } from '../convert/env.js';
import { FIXTURES, cli, fileDir } from '../helpers.js';
import { serve } from './helpers.js';

type Message = { role: 'system' | 'user'; content: string };

const CHAT: Message[] = [
  { role: 'system', content: 'You answer briefly.' },
  { role: 'user', content: 'Name a river in Europe, please.' },
];

/** A registry holding the fixture exported by `modelctl export` (the real optimum converter), or null without it. */
async function exported(folder: string, name: string): Promise<Registry | null> {
  const root = converterRoot();
  if (!root) return null;
  const home = fileDir('modelctl-openai-npm-');
  const r = await cli(['export', join(FIXTURES, folder), '--name', name, '--python', familyPython(root, 'hf'), '--json'], { home });
  expect(r.exitCode, r.stderr).toBe(0);
  return new Registry({ home });
}

/** What `modelctl predict` generates greedily for the same prompt (the library, as the CLI runs it). */
async function greedy(
  registry: Registry,
  model: string,
  prompt: { text?: string; chat?: Message[] },
  max: number,
  more: GenerationOptions = { doSample: false },
) {
  const r = await predict({
    model,
    registry,
    input: { kind: 'texts', texts: prompt.text !== undefined ? [prompt.text] : [] },
    generation: { maxNewTokens: max, ...more, ...(prompt.chat ? { chat: prompt.chat } : {}) },
  });
  const p = r.predictions?.[0] as { generated_text: string; tokens: number[]; prompt_tokens: number; finish_reason: string };
  return {
    ...p,
    usage: { prompt_tokens: p.prompt_tokens, completion_tokens: p.tokens.length, total_tokens: p.prompt_tokens + p.tokens.length },
    finish: p.finish_reason === 'length' ? 'length' : 'stop',
  };
}

/** The error a client call raises (undefined when it does not). */
async function raised(call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('serve: the openai npm client', () => {
  it('Llama-style chat model: chat and plain completions, whole and streamed, equal predict’s greedy output', async () => {
    const registry = await exported('gen-llama-tiny', 'llama-tiny');
    if (!registry) return;
    const s = await serve({ registry, token: 'sesame' });
    const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'sesame', maxRetries: 0 });
    const want = await greedy(registry, 'llama-tiny', { chat: CHAT }, 12);
    expect(want.tokens.length).toBeGreaterThan(1);

    const whole = await client.chat.completions.create({ model: 'llama-tiny', messages: CHAT, max_tokens: 12, temperature: 0 });
    expect(whole.object).toBe('chat.completion');
    expect(whole.model).toBe('llama-tiny');
    expect(whole.id).toMatch(/^chatcmpl-/);
    expect(whole.choices).toHaveLength(1);
    expect(whole.choices[0]?.message).toMatchObject({ role: 'assistant', content: want.generated_text });
    expect(whole.choices[0]?.finish_reason).toBe(want.finish);
    expect(whole.usage).toMatchObject(want.usage);

    const stream = await client.chat.completions.create({
      model: 'llama-tiny:1.0.0',
      messages: CHAT,
      max_tokens: 12,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const pieces: string[] = [];
    const roles: string[] = [];
    let finish: string | null = null;
    let usage: unknown;
    const ids = new Set<string>();
    for await (const chunk of stream) {
      ids.add(chunk.id);
      expect(chunk.object).toBe('chat.completion.chunk');
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices) {
        if (c.delta.role) roles.push(c.delta.role);
        if (c.delta.content) pieces.push(c.delta.content);
        if (c.finish_reason) finish = c.finish_reason;
      }
    }
    expect(pieces.join('')).toBe(whole.choices[0]?.message.content);
    expect(pieces.length).toBeGreaterThan(1); // token by token, not in one piece
    expect(roles).toEqual(['assistant']);
    expect(ids.size).toBe(1);
    expect(finish).toBe(want.finish);
    expect(usage).toMatchObject(want.usage);

    // A plain completion of the same model, whole and streamed.
    const prompt = 'The user asks a question';
    const plain = await greedy(registry, 'llama-tiny', { text: prompt }, 10);
    const done = await client.completions.create({ model: 'llama-tiny', prompt, max_tokens: 10, temperature: 0 });
    expect(done.object).toBe('text_completion');
    expect(done.choices[0]).toMatchObject({ index: 0, text: plain.generated_text, finish_reason: plain.finish });
    expect(done.usage).toMatchObject(plain.usage);
    const parts: string[] = [];
    let completionUsage: unknown;
    for await (const chunk of await client.completions.create({
      model: 'llama-tiny',
      prompt,
      max_tokens: 10,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    })) {
      if (chunk.usage) completionUsage = chunk.usage;
      for (const c of chunk.choices) parts.push(c.text);
    }
    expect(parts.join('')).toBe(plain.generated_text);
    expect(completionUsage).toMatchObject(plain.usage);

    // The model list and one model, by name and by name:version.
    const listed: string[] = [];
    for await (const m of client.models.list()) listed.push(m.id);
    expect(listed).toEqual(['llama-tiny', 'llama-tiny:1.0.0']);
    for (const id of listed) {
      const m = await client.models.retrieve(id);
      expect(m).toMatchObject({ id, object: 'model', owned_by: 'modelctl', created: expect.any(Number) });
    }
  }, 300_000);

  it('errors reach the client as its own classes, with OpenAI’s error shape', async () => {
    const registry = await exported('gen-gpt2-tiny', 'gpt2-tiny');
    if (!registry) return;
    const s = await serve({ registry, token: 'sesame' });
    const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'sesame', maxRetries: 0 });
    const prompt = 'The quick brown fox';
    const want = await greedy(registry, 'gpt2-tiny', { text: prompt }, 8);
    const ok = await client.completions.create({ model: 'gpt2-tiny', prompt, max_tokens: 8, temperature: 0 });
    expect(ok.choices[0]?.text).toBe(want.generated_text);
    // A stop string from the middle of the greedy text, and seeded sampling: what predict gives with the same settings.
    const free = await greedy(registry, 'gpt2-tiny', { text: prompt }, 20);
    const stop = free.generated_text.slice(Math.floor(free.generated_text.length / 2)).slice(0, 2);
    expect(stop.length).toBe(2);
    const stopped = await greedy(registry, 'gpt2-tiny', { text: prompt }, 20, { doSample: false, stop: [stop] });
    const cut = await client.completions.create({ model: 'gpt2-tiny', prompt, max_tokens: 20, temperature: 0, stop });
    expect(cut.choices[0]).toMatchObject({ text: stopped.generated_text, finish_reason: 'stop' });
    expect(cut.usage).toMatchObject(stopped.usage);
    const sampling = { doSample: true, temperature: 1.3, topP: 0.9, seed: 7 };
    const sampled = await greedy(registry, 'gpt2-tiny', { text: prompt }, 16, sampling);
    const drawn = await client.completions.create({ model: 'gpt2-tiny', prompt, max_tokens: 16, temperature: 1.3, top_p: 0.9, seed: 7 });
    expect(drawn.choices[0]?.text).toBe(sampled.generated_text);
    // An error found before the first token of a stream is still a plain status the client raises.
    const noTemplate = await raised(() =>
      client.chat.completions.create({ model: 'gpt2-tiny', messages: CHAT, max_tokens: 2, stream: true }),
    );
    expect(noTemplate).toBeInstanceOf(OpenAI.BadRequestError);
    expect(noTemplate).toMatchObject({ status: 400, type: 'invalid_request_error' });

    // A wrong or missing key: 401, AuthenticationError, on the completions and on the model list alike.
    // (The client refuses an empty apiKey itself; a null default header removes its Authorization.)
    for (const missing of [false, true]) {
      const stranger = new OpenAI({
        baseURL: `${s.url}/v1`,
        apiKey: 'wrong',
        maxRetries: 0,
        ...(missing ? { defaultHeaders: { Authorization: null } } : {}),
      });
      for (const call of [
        () => stranger.completions.create({ model: 'gpt2-tiny', prompt, max_tokens: 2 }),
        () => stranger.chat.completions.create({ model: 'gpt2-tiny', messages: CHAT, max_tokens: 2 }),
        () => stranger.models.list(),
        () => stranger.models.retrieve('gpt2-tiny:1.0.0'),
      ]) {
        const err = await raised(call);
        expect(err, `missing: ${missing}`).toBeInstanceOf(OpenAI.AuthenticationError);
        expect(err).toMatchObject({ status: 401, type: 'authentication_error', code: 'invalid_api_key' });
        expect((err as Error).message).toMatch(/bearer token/);
      }
    }

    // An unknown model: 404, NotFoundError, whether it is generated from or retrieved.
    for (const call of [
      () => client.completions.create({ model: 'no-such-model', prompt, max_tokens: 2 }),
      () => client.chat.completions.create({ model: 'gpt2-tiny:9.9.9', messages: CHAT, max_tokens: 2 }),
      () => client.models.retrieve('no-such-model'),
      () => client.models.retrieve('gpt2-tiny:9.9.9'),
    ]) {
      const err = await raised(call);
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expect(err).toMatchObject({ status: 404, type: 'not_found_error', code: 'model_not_found', param: 'model' });
    }

    // A name@alias id retrieves that version; without an OpenAI SDK's headers the endpoint keeps modelctl's shape.
    await registry.tag('gpt2-tiny:1.0.0', 'prod');
    for (const id of ['gpt2-tiny@prod', 'gpt2-tiny:prod'])
      expect(await client.models.retrieve(id)).toMatchObject({ id, object: 'model', manifest: { version: '1.0.0' } });
    const plain = await fetch(`${s.url}/v1/models/gpt2-tiny:9.9.9`, { headers: { authorization: 'Bearer sesame' } });
    expect(plain.status).toBe(404);
    expect(await plain.json()).toMatchObject({ error: expect.stringMatching(/9\.9\.9/), code: 'NOT_FOUND' });
    const badId = await raised(() => client.models.retrieve('no such model!'));
    expect(badId).toBeInstanceOf(OpenAI.BadRequestError);
    expect(badId).toMatchObject({ status: 400, type: 'invalid_request_error' });

    // Bad parameters: 400, BadRequestError, naming the parameter.
    for (const [call, param] of [
      [() => client.completions.create({ model: 'gpt2-tiny', prompt, max_tokens: 2, n: 2 }), 'n'],
      [() => client.completions.create({ model: 'gpt2-tiny', prompt, temperature: 3 }), 'temperature'],
      [() => client.completions.create({ model: 'gpt2-tiny', prompt, max_tokens: 0 }), 'max_tokens'],
      [() => client.chat.completions.create({ model: 'gpt2-tiny', messages: [] }), 'messages'],
      [() => client.completions.create({ model: 'gpt2-tiny', prompt: [1, 2, 3] }), 'prompt'],
    ] as const) {
      const err = await raised(call);
      expect(err, param).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err).toMatchObject({ status: 400, type: 'invalid_request_error', param, code: `invalid_${param}` });
    }
  }, 300_000);
});
