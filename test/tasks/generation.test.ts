/**
 * The pieces of text generation (src/tasks/generation/): the logits processors against transformers' own
 * (computed at test time in .venv-parity, test/parity/py/logits_processors.py), the seeded sampler, the text stream
 * (stop strings, characters split across byte-level tokens), the settings and the chat template lookup.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelctlError } from '../../src/errors.js';
import { chatTemplateOf, parseMessages, renderChat } from '../../src/tasks/generation/chat.js';
import { generationSettings, maxLengthFor } from '../../src/tasks/generation/config.js';
import { processScores } from '../../src/tasks/generation/constraints.js';
import { argmax, softmax, type ProcessorSettings } from '../../src/tasks/generation/processors.js';
import { drawIndex, seededRandom } from '../../src/tasks/generation/sampler.js';
import { TextStream, type GenerationTokenizer } from '../../src/tasks/generation/text.js';
import { FIXTURES } from '../helpers.js';
import { parityPython, reference } from '../parity/reference.js';

const VOCAB = 64;

/** The processors chain with only the value processors of `s` (repetition penalty, sampling warpers) on. */
function processLogits(logits: Float32Array, seen: readonly number[], s: ProcessorSettings): void {
  const off = { noRepeatNgramSize: 0, badWordsIds: [], minLength: 0, eosTokenIds: [], suppressTokens: [], beginSuppressTokens: [] };
  processScores(logits, seen, { ...off, ...s }, { inputLength: seen.length, maxLength: Number.POSITIVE_INFINITY });
}

/** Rows of distinct float32 logits from the seeded sampler, and token histories with repeats. */
function rows(): { logits: number[][]; ids: number[][] } {
  const random = seededRandom(42);
  const logits = Array.from({ length: 4 }, () => Array.from({ length: VOCAB }, () => Math.fround(random.next() * 10 - 5)));
  const ids = Array.from({ length: 4 }, (_, r) => Array.from({ length: 12 }, (_, i) => (i * (r + 3) * 7) % VOCAB));
  return { logits, ids };
}

type ProcCase = { repetition_penalty?: number; temperature?: number; top_k?: number; top_p?: number };

const CASES: ProcCase[] = [
  { repetition_penalty: 1.3 },
  { repetition_penalty: 0.7 },
  { temperature: 0.6 },
  { temperature: 1.7 },
  { top_k: 5 },
  { top_k: 1 },
  { top_p: 0.9 },
  { top_p: 0.3 },
  { repetition_penalty: 1.2, temperature: 0.8, top_k: 20, top_p: 0.85 },
];

describe('logits processors: the same scores as transformers’ processors, chained in generate()’s order', () => {
  it('repetition penalty, temperature, top-k and top-p, alone and together', async () => {
    const python = parityPython();
    if (!python) return;
    const { logits, ids } = rows();
    const ref = await reference<{ cases: Array<Array<Array<number | null>>> }>(python, 'logits_processors', {
      rows: logits,
      ids,
      cases: CASES,
    });
    for (const [c, settings] of CASES.entries()) {
      for (const [r, row] of logits.entries()) {
        const mine = Float32Array.from(row);
        processLogits(mine, ids[r] as number[], {
          doSample: true,
          ...(settings.repetition_penalty !== undefined ? { repetitionPenalty: settings.repetition_penalty } : {}),
          ...(settings.temperature !== undefined ? { temperature: settings.temperature } : {}),
          ...(settings.top_k !== undefined ? { topK: settings.top_k } : {}),
          ...(settings.top_p !== undefined ? { topP: settings.top_p } : {}),
        });
        const want = ref.cases[c]?.[r] as Array<number | null>;
        const removed = want.map((v) => v === null);
        expect(
          Array.from(mine, (v) => v === Number.NEGATIVE_INFINITY),
          JSON.stringify(settings),
        ).toEqual(removed);
        for (const [k, v] of want.entries())
          if (v !== null) expect(Math.abs((mine[k] as number) - v)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(v)));
      }
    }
  });

  it('ties: equal logits are kept or removed as transformers does (top-k keeps all equal to the k-th)', async () => {
    const python = parityPython();
    if (!python) return;
    const row = [0, 0, 0, 0, 1, 3, 3, 2, 0, 0];
    const cases: ProcCase[] = [{ top_k: 2 }, { top_k: 5 }, { top_p: 0.5 }, { top_p: 0.9 }, { top_k: 6, top_p: 0.6 }];
    const ref = await reference<{ cases: Array<Array<Array<number | null>>> }>(python, 'logits_processors', {
      rows: [row],
      ids: [[0]],
      cases,
    });
    for (const [c, settings] of cases.entries()) {
      const mine = Float32Array.from(row);
      processLogits(mine, [0], {
        doSample: true,
        ...(settings.top_k !== undefined ? { topK: settings.top_k } : {}),
        ...(settings.top_p !== undefined ? { topP: settings.top_p } : {}),
      });
      const want = (ref.cases[c]?.[0] ?? []).map((v) => v ?? Number.NEGATIVE_INFINITY);
      expect(Array.from(mine), JSON.stringify(settings)).toEqual(want);
    }
  });

  it('greedy decoding leaves the sampling warpers out and takes the first of equal best scores', () => {
    const logits = Float32Array.of(0.5, 2, 2, -1);
    processLogits(logits, [], { doSample: false, temperature: 0.1, topK: 1, topP: 0.1 });
    expect(Array.from(logits)).toEqual([0.5, 2, 2, -1]);
    expect(argmax(logits)).toBe(1);
    const probs = softmax(Float32Array.of(0, Number.NEGATIVE_INFINITY, 0));
    expect(Array.from(probs)).toEqual([0.5, 0, 0.5]);
  });
});

describe('the seeded sampler', () => {
  it('a seed gives the same draws every time, another seed other draws', () => {
    const draw = (seed: number) => {
      const r = seededRandom(seed);
      return Array.from({ length: 8 }, () => r.next());
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
    expect(draw(2 ** 40 + 7)).not.toEqual(draw(7));
    expect(draw(0).every((v) => v >= 0 && v < 1)).toBe(true);
  });

  it('draws indices as often as their probabilities say, never one of probability 0', () => {
    const probs = Float32Array.of(0.1, 0, 0.6, 0.3);
    const random = seededRandom(1);
    const counts = [0, 0, 0, 0];
    const n = 20_000;
    for (let i = 0; i < n; i++) (counts[drawIndex(probs, random)] as number)++;
    expect(counts[1]).toBe(0);
    for (const [i, p] of probs.entries()) expect(Math.abs((counts[i] as number) / n - p)).toBeLessThan(0.015);
  });
});

/** A tokenizer whose token i decodes to PIECES[i]; a two-token character shows U+FFFD until both are there. */
const PIECES = ['Hel', 'lo', ' wor', 'ld', '\n', 'Us', 'er', ':', '<e1>', '<e2>'];
const fake = {
  decode(ids: readonly number[]): string {
    return ids
      .map((id) => PIECES[id] as string)
      .join('')
      .replace('<e1><e2>', '🙂')
      .replace('<e1>', '\uFFFD');
  },
} as unknown as GenerationTokenizer;

describe('the text stream', () => {
  it('releases the text as it grows, holding back half a character', () => {
    const s = new TextStream(fake, []);
    expect([0, 1, 8].map((id) => s.push(id))).toEqual(['Hel', 'lo', '']);
    expect(s.push(9)).toBe('🙂');
    expect(s.finish()).toBe('');
    expect(s.value).toBe('Hello🙂');
  });

  it('cuts the text before a stop string split over tokens, never showing its start', () => {
    const s = new TextStream(fake, ['\nUser:']);
    const shown = [0, 1, 4, 5, 6].map((id) => s.push(id));
    expect(shown).toEqual(['Hel', 'lo', '', '', '']);
    expect(s.stopped).toBe(false);
    expect(s.push(7)).toBe('');
    expect(s.stopped).toBe(true);
    expect(s.value).toBe('Hello');
    // A start that turns out not to be the stop string is shown once it is known.
    const t = new TextStream(fake, ['\nUser:']);
    expect([0, 4, 2].map((id) => t.push(id)).join('')).toBe('Hel\n wor');
  });
});

describe('generation settings', () => {
  it('the call over generation_config.json over transformers’ defaults', () => {
    const defaults = generationSettings({}, {}, { eos_token_id: 3 });
    expect(defaults).toMatchObject({ doSample: false, topK: 50, topP: 1, temperature: 1, eosTokenIds: [3], ignored: [] });
    // 20 new tokens after the prompt, as generate()'s default max_length; never beyond the model's positions.
    expect(maxLengthFor(defaults, 5)).toBe(25);
    expect(maxLengthFor(defaults, 5, 16)).toBe(16);
    // generation_config.json's max_length counts the prompt; max_new_tokens (the call's, or the file's) comes first.
    const long = generationSettings({}, { max_length: 12 }, {});
    expect([maxLengthFor(long, 5), maxLengthFor(long, 12)]).toEqual([12, 13]);
    expect(maxLengthFor(generationSettings({ maxNewTokens: 3 }, { max_length: 12 }, {}), 5)).toBe(8);
    // Settings that would change the output and that are not applied are named; sampling-only ones only when sampling.
    expect(generationSettings({}, { num_beams: 4, min_p: 0.1, sequence_bias: { '[1]': -1 } }, {}).ignored).toEqual([
      'num_beams',
      'sequence_bias',
    ]);
    expect(generationSettings({ doSample: true }, { min_p: 0.1, typical_p: 1 }, {}).ignored).toEqual(['min_p']);
    expect(() => generationSettings({}, { bad_words_ids: [1, 2] }, {})).toThrow(/bad_words_ids is not a list of token id lists/);
    expect(() => generationSettings({}, { suppress_tokens: [-1] }, {})).toThrow(/suppress_tokens is not a list of token ids/);
    const configured = generationSettings(
      { topP: 0.5 },
      { do_sample: true, top_k: 0, temperature: 0.6, eos_token_id: [1, 4], max_new_tokens: 7 },
      {},
    );
    expect(configured).toMatchObject({ doSample: true, topK: 0, topP: 0.5, temperature: 0.6, eosTokenIds: [1, 4], maxNewTokens: 7 });
    expect(generationSettings({ stopAtEos: false }, { eos_token_id: 2 }, {}).eosTokenIds).toEqual([]);
  });

  it.each([
    [{ temperature: 0 }, /temperature must be a number above 0/],
    [{ topP: 1.5 }, /top-p must be a number above 0 and at most 1/],
    [{ maxNewTokens: 0 }, /max new tokens must be a whole number of at least 1/],
    [{ repetitionPenalty: -1 }, /repetition penalty must be a number above 0/],
    [{ seed: -2 }, /seed must be a whole number/],
    [{ stop: [''] }, /a stop string cannot be empty/],
  ])('%j is refused (USAGE)', (options, message) => {
    let err: unknown;
    try {
      generationSettings(options, {}, {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ModelctlError);
    expect((err as ModelctlError).code).toBe('USAGE');
    expect((err as ModelctlError).message).toMatch(message);
  });
});

describe('chat templates', () => {
  it('tokenizer_config.json’s template (a string or a named list) wins over chat_template.jinja and .json', () => {
    expect(chatTemplateOf({ chat_template: 'A' }, 'B', { chat_template: 'C' })).toBe('A');
    expect(
      chatTemplateOf({
        chat_template: [
          { name: 'tool_use', template: 'T' },
          { name: 'default', template: 'D' },
        ],
      }),
    ).toBe('D');
    expect(chatTemplateOf({}, 'B', { chat_template: 'C' })).toBe('B');
    expect(chatTemplateOf({}, undefined, { chat_template: 'C' })).toBe('C');
    expect(chatTemplateOf({})).toBeUndefined();
  });

  it('messages from JSON Lines or an array; a model without a template is refused', async () => {
    const lines = '{"role": "system", "content": "be brief"}\n\n{"role": "user", "content": "hi 🙂"}\n';
    expect(parseMessages(lines, 'chat.jsonl')).toEqual([
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'hi 🙂' },
    ]);
    expect(parseMessages('[{"role": "user", "content": "x"}]', 'x')).toHaveLength(1);
    expect(() => parseMessages('{"role": "user"}', 'chat.jsonl')).toThrow(/message 1 needs a string "role" and "content"/);
    // A chat request's body (pretty-printed too) and OpenAI's text parts read as serve's /v1/chat/completions reads them.
    const request = JSON.stringify(
      {
        model: 'm',
        messages: [
          { role: 'system', content: 'be brief' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'hi ' },
              { type: 'text', text: '🙂' },
            ],
          },
        ],
      },
      null,
      2,
    );
    expect(parseMessages(request, 'request.json')).toEqual([
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'hi 🙂' },
    ]);
    expect(() => parseMessages('[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]', 'c.json')).toThrow(
      /message 1: only text content parts are supported, not "image_url"/,
    );
    expect(() => parseMessages('{"model": "m"}', 'c.json')).toThrow(/neither a list of messages nor \{"messages": \[\.\.\.\]\}/);
    await expect(renderChat(undefined, [{ role: 'user', content: 'x' }], {}, 'gpt2')).rejects.toThrow(/gpt2 has no chat template/);
    // The hint fits the CLI and serve's chat endpoint alike (it once named --chat only).
    await expect(renderChat(undefined, [{ role: 'user', content: 'x' }], {}, 'gpt2')).rejects.toMatchObject({
      hint: expect.stringMatching(/without --chat; POST \/v1\/completions instead of \/v1\/chat\/completions/),
    });
    const rendered = await renderChat(
      '{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}',
      [{ role: 'user', content: 'hi' }],
      { bos_token: { content: '<s>' } },
      'm',
    );
    expect(rendered).toBe('<s>[user] hi\n[assistant]');
  });
});

/** Templates in the styles real chat models use: whitespace control, loop variables, filters, tests, tools checks. */
const TEMPLATES = [
  // ChatML (Qwen-like), with a default system message and loop.first.
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|start|>system\\nYou are helpful.<|eot|>\\n' }}{% endif %}{{'<|start|>' + message['role'] + '\\n' + message['content'] + '<|eot|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|start|>assistant\\n' }}{% endif %}",
  // Llama-3.1-like: tools tested against none, trim filter, block whitespace control.
  `{{- bos_token }}
{%- if tools is not none %}
    {{- "Tools: " + tools | length | string + "\\n" }}
{%- endif %}
{%- for message in messages %}
    {{- '<|start|>' + message['role'] + '<|end|>\\n\\n' + message['content'] | trim + '<|eot|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start|>assistant<|end|>\\n\\n' }}
{%- endif %}`,
  // Mistral-like: alternation checked with raise_exception, loop.index0, namespace, tojson.
  "{% set ns = namespace(n=0) %}{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% set ns.n = ns.n + 1 %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% else %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}{{ ns.n | tojson }}",
];

describe('chat templates rendered as transformers renders them', () => {
  it('ChatML, Llama-3.1 and Mistral styles, accents and emoji; a template that raises is refused', async () => {
    const python = parityPython();
    if (!python) return;
    const folder = join(FIXTURES, 'gen-llama-tiny');
    const config = JSON.parse(readFileSync(join(folder, 'tokenizer_config.json'), 'utf8'));
    const conversations = [
      [{ role: 'user', content: '  héllo 東京 🙂  ' }],
      [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'one' },
        { role: 'assistant', content: 'two 🎉' },
        { role: 'user', content: 'three' },
      ],
      [
        { role: 'user', content: 'a' },
        { role: 'user', content: 'b' },
      ],
    ];
    const cases = TEMPLATES.flatMap((template) => conversations.map((messages) => ({ template, messages })));
    const ref = await reference<{ rendered: Array<string | { error: string }> }>(python, 'chat_template', { folder, cases });
    for (const [i, c] of cases.entries()) {
      const want = ref.rendered[i];
      const got = renderChat(c.template, c.messages, config, 'm');
      if (typeof want === 'string') expect(await got, JSON.stringify(c)).toBe(want);
      else await expect(got).rejects.toThrow(/Conversation roles must alternate/);
    }
    expect(ref.rendered.filter((r) => typeof r !== 'string').length).toBeGreaterThan(0);
  });
});
