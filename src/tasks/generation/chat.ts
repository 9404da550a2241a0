import { ModelctlError } from '../../errors.js';

/**
 * Chat prompts: messages rendered with the model's own chat template (tokenizer_config.json's chat_template, or
 * chat_template.jinja / chat_template.json beside it) by @huggingface/jinja, with what transformers'
 * apply_chat_template gives the template: the messages, add_generation_prompt, the tokenizer's special tokens
 * (bos_token, eos_token, ...), tools and documents as None, raise_exception; trim_blocks and lstrip_blocks as
 * transformers sets them.
 */

export interface ChatMessage {
  role: string;
  content: string;
}

function record(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** A special token as tokenizer_config.json writes it: a string, or an AddedToken object with `content`. */
function content(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  const c = record(value).content;
  return typeof c === 'string' ? c : undefined;
}

/**
 * The default template of a model: tokenizer_config.json's chat_template (a string, or a list of named templates,
 * "default" taken), else chat_template.jinja's text, else chat_template.json's {"chat_template": ...}.
 */
export function chatTemplateOf(tokenizerConfig: unknown, jinja?: string, json?: unknown): string | undefined {
  const pick = (t: unknown): string | undefined => {
    if (typeof t === 'string') return t;
    if (Array.isArray(t)) {
      const named = t.map(record).find((x) => x.name === 'default') ?? record(t[0]);
      return typeof named.template === 'string' ? named.template : undefined;
    }
    return undefined;
  };
  return pick(record(tokenizerConfig).chat_template) ?? jinja ?? pick(record(json).chat_template);
}

/**
 * A message's content as OpenAI's API takes it: a string, or a list of parts whose text parts are joined. Gives
 * `{ text }`, or `{ part }`: the type of the first part that is not text (images and audio are for other models).
 */
export function messageText(content: unknown): { text: string } | { part: unknown } | undefined {
  if (typeof content === 'string') return { text: content };
  if (!Array.isArray(content)) return undefined;
  let text = '';
  for (const item of content) {
    const p = record(item);
    if (p.type !== 'text' || typeof p.text !== 'string') return { part: p.type ?? null };
    text += p.text;
  }
  return { text };
}

const MESSAGES_HINT = 'JSON Lines of {"role": "user", "content": "..."}, a JSON array of them, or {"messages": [...]}';

/** The messages of a text that is one JSON document: an array of them, {"messages": [...]} or one message; else undefined. */
function documentMessages(text: string): unknown[] | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined; // JSON Lines (or not JSON: the caller's parse says where)
  }
  if (Array.isArray(doc)) return doc;
  const r = record(doc);
  if (Array.isArray(r.messages)) return r.messages;
  if ('role' in r) return [r];
  throw new Error('a JSON document that is neither a list of messages nor {"messages": [...]}');
}

/**
 * Messages from JSON Lines ({"role", "content"} per line), a JSON array of them, or a chat request's
 * {"messages": [...]}; a content may be a list of text parts, as OpenAI's API takes it.
 */
export function parseMessages(text: string, where: string): ChatMessage[] {
  const trimmed = text.trim();
  let items: unknown[];
  try {
    items =
      documentMessages(trimmed) ??
      trimmed
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as unknown);
  } catch (err) {
    throw new ModelctlError('INVALID_INPUT', `${where}: not JSON Lines of messages (${(err as Error).message})`, { hint: MESSAGES_HINT });
  }
  return items.map((m, i) => {
    const r = record(m);
    const content = messageText(r.content);
    if (typeof r.role !== 'string' || content === undefined)
      throw new ModelctlError('INVALID_INPUT', `${where}: message ${i + 1} needs a string "role" and "content"`, { hint: MESSAGES_HINT });
    if ('part' in content)
      throw new ModelctlError(
        'INVALID_INPUT',
        `${where}: message ${i + 1}: only text content parts are supported, not ${JSON.stringify(content.part)}`,
      );
    return { role: r.role, content: content.text };
  });
}

/** The conversation as the prompt text the model continues (add_generation_prompt: the assistant's turn opened). */
export async function renderChat(
  template: string | undefined,
  messages: readonly ChatMessage[],
  tokenizerConfig: unknown,
  model: string,
): Promise<string> {
  if (template === undefined) {
    throw new ModelctlError('INVALID_INPUT', `${model} has no chat template`, {
      hint: 'give the prompt as plain text (predict without --chat; POST /v1/completions instead of /v1/chat/completions), or export the model from a folder whose tokenizer has a chat_template',
    });
  }
  const { Template } = await import('@huggingface/jinja');
  const config = record(tokenizerConfig);
  const specials: Record<string, string> = {};
  for (const [key, value] of Object.entries(config)) {
    const c = key.endsWith('_token') ? content(value) : undefined;
    if (c !== undefined) specials[key] = c;
  }
  try {
    // tools and documents are None in transformers' render when not given: templates test `tools is not none`,
    // which an undefined variable would pass.
    return new Template(template).render({
      ...specials,
      messages: messages.map((m) => ({ ...m })),
      tools: null,
      documents: null,
      add_generation_prompt: true,
    });
  } catch (err) {
    throw new ModelctlError('INVALID_INPUT', `the chat template of ${model} failed: ${(err as Error).message.split('\n')[0]}`, {
      hint: 'check the roles and order of the messages the template accepts',
      cause: err,
    });
  }
}
