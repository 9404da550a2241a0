import { messageText } from '../tasks/generation/chat.js';
import type { ChatMessage, GenerationOptions } from '../tasks/text-generation.js';
import { HttpError } from './http.js';

/**
 * The body of an OpenAI-compatible request (POST /v1/chat/completions, /v1/completions) read into what modelctl's
 * generation takes. Sampling follows OpenAI's knobs over the model's own defaults: temperature 0 is greedy, a
 * temperature above 0 (or a top_p without a temperature) samples, and neither leaves it to the model's
 * generation_config.json (greedy for most). What this server cannot do (n > 1, logprobs, tools, echo, best_of,
 * suffix, token-id prompts, frequency/presence penalties, logit_bias) is a clear 400, never silently ignored.
 */

export type OpenAiKind = 'chat' | 'completion';

export interface OpenAiRequest {
  kind: OpenAiKind;
  /** The `model` field as sent (echoed back in every response). */
  model: string;
  name: string;
  version?: string;
  messages?: ChatMessage[];
  prompt?: string;
  generation: GenerationOptions;
  stream: boolean;
  includeUsage: boolean;
}

function bad(message: string, param: string, hint?: string): HttpError {
  return new HttpError(400, message, { code: `invalid_${param}`, ...(hint ? { hint } : {}) });
}

function given(body: Record<string, unknown>, key: string): boolean {
  return body[key] !== undefined && body[key] !== null;
}

function numberOf(body: Record<string, unknown>, key: string, ok: (n: number) => boolean, what: string): number | undefined {
  if (!given(body, key)) return undefined;
  const v = body[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw bad(`"${key}" must be ${what}`, key);
  return v;
}

function booleanOf(body: Record<string, unknown>, key: string): boolean | undefined {
  if (!given(body, key)) return undefined;
  if (typeof body[key] !== 'boolean') throw bad(`"${key}" must be true or false`, key);
  return body[key] as boolean;
}

/** A message's content: a string, or a list of text parts (the other part types are for other models); null is empty. */
function contentOf(content: unknown, i: number): string {
  if (content === null || content === undefined) return '';
  const text = messageText(content);
  if (text === undefined) throw bad(`message ${i + 1}: "content" must be a string or a list of text parts`, 'messages');
  if ('part' in text) throw bad(`message ${i + 1}: only text content parts are supported, not ${JSON.stringify(text.part)}`, 'messages');
  return text.text;
}

function messagesOf(value: unknown): ChatMessage[] {
  if (!Array.isArray(value) || value.length === 0)
    throw bad('"messages" must be a non-empty list', 'messages', '[{"role": "user", "content": "Hello"}]');
  return value.map((m, i) => {
    const msg = (m ?? {}) as Record<string, unknown>;
    if (!m || typeof m !== 'object' || typeof msg.role !== 'string' || msg.role === '')
      throw bad(`message ${i + 1} needs a string "role"`, 'messages', '{"role": "user", "content": "Hello"}');
    return { role: msg.role, content: contentOf(msg.content, i) };
  });
}

function promptOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.length === 1 && typeof value[0] === 'string') return value[0];
  if (Array.isArray(value) && value.length > 1 && value.every((v) => typeof v === 'string'))
    throw bad('"prompt" takes one text per request here', 'prompt', 'send one request per prompt');
  throw bad('"prompt" must be a string', 'prompt', 'token-id prompts are not supported: send the text');
}

/** The model reference: `name`, `name:version` or `name:alias`. */
function modelOf(value: unknown): { model: string; name: string; version?: string } {
  if (typeof value !== 'string' || value.trim() === '')
    throw bad('"model" must be the name of a registered text-generation model', 'model', 'GET /v1/models lists them');
  const colon = value.indexOf(':');
  if (colon < 0) return { model: value, name: value };
  return { model: value, name: value.slice(0, colon), version: value.slice(colon + 1) };
}

function refuse(body: Record<string, unknown>, kind: OpenAiKind): void {
  const n = body.n;
  if (given(body, 'n') && n !== 1)
    throw bad(`"n" must be 1: this server generates one choice per request (got ${JSON.stringify(n)})`, 'n', 'send n requests instead');
  if (body.logprobs === true || (typeof body.logprobs === 'number' && body.logprobs > 0) || given(body, 'top_logprobs'))
    throw bad('"logprobs" is not supported by this server', 'logprobs');
  if (kind === 'chat' && Array.isArray(body.tools) && body.tools.length > 0) throw bad('"tools" are not supported by this server', 'tools');
  const format = (body.response_format ?? {}) as Record<string, unknown>;
  if (given(body, 'response_format') && format.type !== 'text')
    throw bad('only "response_format": {"type": "text"} is supported', 'response_format');
  // OpenAI's penalties and biases change which tokens come: not applied here, so anything but their neutral value is refused.
  for (const key of ['frequency_penalty', 'presence_penalty'])
    if (given(body, key) && body[key] !== 0) throw bad(`"${key}" is not supported by this server (only 0)`, key);
  const bias = body.logit_bias;
  if (given(body, 'logit_bias') && (typeof bias !== 'object' || Object.keys(bias as object).length > 0))
    throw bad('"logit_bias" is not supported by this server', 'logit_bias');
  if (kind === 'completion') {
    if (body.echo === true) throw bad('"echo" is not supported by this server', 'echo');
    if (given(body, 'best_of') && body.best_of !== 1) throw bad('"best_of" must be 1 here', 'best_of');
    if (given(body, 'suffix')) throw bad('"suffix" is not supported by this server', 'suffix');
  }
}

function stopOf(body: Record<string, unknown>): string[] | undefined {
  if (!given(body, 'stop')) return undefined;
  const stop = typeof body.stop === 'string' ? [body.stop] : body.stop;
  if (!Array.isArray(stop) || !stop.every((s) => typeof s === 'string' && s !== '') || stop.length > 4)
    throw bad('"stop" must be a non-empty string or a list of up to 4 of them', 'stop');
  return stop.length > 0 ? stop : undefined;
}

export function openAiRequest(body: Record<string, unknown>, kind: OpenAiKind): OpenAiRequest {
  const ref = modelOf(body.model);
  refuse(body, kind);
  const whole = (n: number) => Number.isSafeInteger(n) && n >= 1;
  const maxTokens =
    numberOf(body, 'max_completion_tokens', whole, 'a whole number of at least 1') ??
    numberOf(body, 'max_tokens', whole, 'a whole number of at least 1');
  const temperature = numberOf(body, 'temperature', (n) => n >= 0 && n <= 2, 'a number from 0 to 2');
  const topP = numberOf(body, 'top_p', (n) => n > 0 && n <= 1, 'a number above 0 and at most 1');
  const seed = numberOf(body, 'seed', (n) => Number.isSafeInteger(n) && n >= 0, 'a whole number of at least 0');
  const stop = stopOf(body);
  const stream = booleanOf(body, 'stream') ?? false;
  const options = (body.stream_options ?? {}) as Record<string, unknown>;
  if (given(body, 'stream_options') && (typeof body.stream_options !== 'object' || Array.isArray(body.stream_options)))
    throw bad('"stream_options" must be an object', 'stream_options');
  const includeUsage = booleanOf(options, 'include_usage') ?? false;
  const doSample = temperature !== undefined ? temperature > 0 : topP !== undefined ? true : undefined;
  const generation: GenerationOptions = {
    ...(maxTokens !== undefined ? { maxNewTokens: maxTokens } : {}),
    ...(doSample !== undefined ? { doSample } : {}),
    ...(temperature !== undefined && temperature > 0 ? { temperature } : {}),
    ...(topP !== undefined ? { topP } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(stop ? { stop } : {}),
  };
  const text = kind === 'chat' ? { messages: messagesOf(body.messages) } : { prompt: promptOf(body.prompt) };
  return { kind, ...ref, ...text, generation, stream, includeUsage };
}
