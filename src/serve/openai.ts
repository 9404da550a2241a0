import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { chooseTask, predict } from '../predict/predict.js';
import { aTaskModel } from '../tasks/known.js';
import type { GenerationPrediction } from '../tasks/text-generation.js';
import type { Route, ServeContext } from './context.js';
import { HttpError, errorReply, readJsonObject, sendJson } from './http.js';
import { openAiRequest, type OpenAiKind, type OpenAiRequest } from './openai-request.js';

/**
 * OpenAI-compatible text generation: POST /v1/chat/completions and POST /v1/completions for the registry's
 * text-generation models, so the `openai` clients work unchanged (base_url = the server's /v1). The generation is
 * `modelctl predict`'s (the same tokens for the same settings), on serve's cached session. Streaming is server-sent
 * events (`data: {chunk}` lines, then `data: [DONE]`); the event stream starts with the first token, so an error
 * before it (a bad setting, a model without a chat template) is still a plain JSON error with its status. Errors on
 * these paths use OpenAI's shape: {"error": {"message", "type", "param", "code"}} (modelctl's hint beside them).
 */

type Usage = { prompt_tokens: number; completion_tokens: number; total_tokens: number };

function usageOf(p: GenerationPrediction): Usage {
  return { prompt_tokens: p.prompt_tokens, completion_tokens: p.tokens.length, total_tokens: p.prompt_tokens + p.tokens.length };
}

/** OpenAI has two reasons: an end token or a stop string is `stop`; running out of tokens or positions is `length`. */
function finishReason(p: GenerationPrediction): 'stop' | 'length' {
  return p.finish_reason === 'length' ? 'length' : 'stop';
}

/**
 * Whether an error on this request answers in OpenAI's shape: always on the completions paths; on the model list
 * and one model (GET /v1/models[/{id}], modelctl's own endpoints too) when an OpenAI client asks, as its SDKs say
 * with their `X-Stainless-Lang` header, so client.models.retrieve() of an unknown model raises its NotFoundError
 * with `code` and `type`, while modelctl's clients keep the `{"error": "message"}` shape.
 */
export function speaksOpenAi(headers: IncomingMessage['headers'], method: string, segs: string[]): boolean {
  if (segs[0] !== 'v1') return false;
  const rest = segs.slice(1);
  if (completionKind(rest)) return true;
  return rest[0] === 'models' && rest.length <= 3 && method === 'GET' && headers['x-stainless-lang'] !== undefined;
}

/** The status, OpenAI error body and headers for any error a route threw; `internal` is true for bugs (500). */
export function openAiReply(err: unknown): {
  status: number;
  body: { error: Record<string, unknown> };
  headers: Record<string, string>;
  internal: boolean;
} {
  const reply = errorReply(err);
  const code = String(reply.body.code ?? '');
  const type =
    reply.status === 401
      ? 'authentication_error'
      : reply.status === 404
        ? 'not_found_error'
        : reply.status >= 500
          ? 'server_error'
          : 'invalid_request_error';
  const param = /^invalid_(.+)$/.exec(code)?.[1] ?? (reply.status === 404 ? 'model' : null);
  return {
    status: reply.status,
    headers: reply.headers,
    internal: reply.internal,
    body: {
      error: {
        message: String(reply.body.error),
        type,
        param,
        code: reply.status === 404 ? 'model_not_found' : reply.status === 401 ? 'invalid_api_key' : code.toLowerCase(),
        ...(reply.body.hint ? { hint: reply.body.hint } : {}),
      },
    },
  };
}

/** One event stream: headers on the first write, each chunk a `data:` line. */
class EventStream {
  readonly #res: ServerResponse;

  constructor(res: ServerResponse) {
    this.#res = res;
  }

  get started(): boolean {
    return this.#res.headersSent;
  }

  send(data: unknown): void {
    if (!this.#res.headersSent)
      this.#res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
    this.#res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
  }

  end(): void {
    this.send('[DONE]');
    this.#res.end();
  }
}

/** The response documents of one request: the whole answer, and the chunks of a stream. */
function shapes(r: OpenAiRequest) {
  const chat = r.kind === 'chat';
  const head = {
    id: `${chat ? 'chatcmpl' : 'cmpl'}-${randomBytes(12).toString('hex')}`,
    created: Math.floor(Date.now() / 1000),
    model: r.model,
    system_fingerprint: null,
  };
  const object = chat ? 'chat.completion.chunk' : 'text_completion';
  return {
    whole: (p: GenerationPrediction) => ({
      ...head,
      object: chat ? 'chat.completion' : 'text_completion',
      choices: [
        chat
          ? {
              index: 0,
              message: { role: 'assistant', content: p.generated_text, refusal: null },
              logprobs: null,
              finish_reason: finishReason(p),
            }
          : { index: 0, text: p.generated_text, logprobs: null, finish_reason: finishReason(p) },
      ],
      usage: usageOf(p),
    }),
    chunk: (text: string | undefined, finish: 'stop' | 'length' | null, usage?: Usage | null, role = false) => ({
      ...head,
      object,
      choices: chat
        ? [
            {
              index: 0,
              delta: { ...(role ? { role: 'assistant' } : {}), ...(text !== undefined ? { content: text } : {}) },
              logprobs: null,
              finish_reason: finish,
            },
          ]
        : [{ index: 0, text: text ?? '', logprobs: null, finish_reason: finish }],
      ...(usage !== undefined ? { usage } : {}),
    }),
    usageChunk: (usage: Usage) => ({ ...head, object, choices: [], usage }),
  };
}

async function complete(ctx: ServeContext, req: IncomingMessage, res: ServerResponse, kind: OpenAiKind): Promise<void> {
  const r = openAiRequest(await readJsonObject(req, ctx.maxBody), kind);
  const m = await ctx.manager.model(r.name, r.version);
  const { task } = await chooseTask(undefined, m.resolved, ctx.registry);
  if (task !== 'text-generation')
    throw new HttpError(
      400,
      `${m.name}:${m.version} is ${aTaskModel(task)}; ${kind === 'chat' ? '/v1/chat/completions' : '/v1/completions'} serves text-generation models`,
      {
        code: 'invalid_model',
        hint: `POST /v1/models/${m.name}/predict runs ${aTaskModel(task)}`,
      },
    );
  const out = shapes(r);
  const events = r.stream ? new EventStream(res) : undefined;
  // A client that goes away stops the generation between two tokens.
  const gone = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) gone.abort();
  });
  const chunk = (text: string | undefined, finish: 'stop' | 'length' | null, role = false) =>
    out.chunk(text, finish, r.includeUsage ? null : undefined, role);
  let first = true;
  const onText = (piece: string): void => {
    if (!events) return;
    if (first) events.send(chunk(kind === 'chat' ? '' : undefined, null, true));
    first = false;
    events.send(chunk(piece, null));
  };
  // Settings of generation_config.json modelctl does not apply (predict's warnings) go back as "warnings": beside
  // the whole answer, or in the stream's last chunk (clients that do not know the field ignore it).
  const warnings: string[] = [];
  const warned = (doc: object) => (warnings.length > 0 ? { ...doc, warnings } : doc);
  let prediction: GenerationPrediction;
  try {
    const result = await ctx.manager.useSession(m, (opened) =>
      predict({
        model: `${m.name}:${m.version}`,
        registry: ctx.registry,
        resolved: m.resolved,
        opened,
        task: 'text-generation',
        input: { kind: 'texts', texts: r.prompt !== undefined ? [r.prompt] : [] },
        generation: { ...r.generation, ...(r.messages ? { chat: r.messages } : {}), onText, onWarning: (w) => warnings.push(w) },
        signal: AbortSignal.any([ctx.signal, gone.signal]),
      }),
    );
    prediction = result.predictions?.[0] as GenerationPrediction;
  } catch (err) {
    if (!events?.started) throw err;
    // Mid-stream: the status is gone already; the error is the stream's last event.
    if (!res.destroyed) {
      const reply = openAiReply(err);
      if (reply.internal) throw err;
      events.send(reply.body);
      res.end();
    }
    return;
  }
  if (!events) {
    sendJson(res, 200, warned(out.whole(prediction)));
    return;
  }
  if (first && kind === 'chat') events.send(chunk('', null, true));
  events.send(warned(chunk(kind === 'chat' ? undefined : '', finishReason(prediction))));
  if (r.includeUsage) events.send(out.usageChunk(usageOf(prediction)));
  events.end();
}

function completionKind(segs: string[]): OpenAiKind | undefined {
  if (segs.length === 2 && segs[0] === 'chat' && segs[1] === 'completions') return 'chat';
  return segs.length === 1 && segs[0] === 'completions' ? 'completion' : undefined;
}

/**
 * The OpenAI routes among the segments after `v1`, or undefined. Their errors (this route's and the server's: a
 * missing token, a wrong method) take OpenAI's shape in the server's handler (speaksOpenAi).
 */
export function openAiRoute(ctx: ServeContext, method: string, segs: string[]): Route | undefined {
  const kind = completionKind(segs);
  if (!kind || method !== 'POST') return undefined;
  return {
    label: kind === 'chat' ? '/v1/chat/completions' : '/v1/completions',
    handle: async (req, res) => complete(ctx, req, res, kind),
  };
}

/** OpenAI's model object for a registry entry (client.models.list() / retrieve() read these fields). */
export function openAiModel(id: string, createdAt: string): { id: string; object: 'model'; created: number; owned_by: string } {
  const t = Date.parse(createdAt);
  return { id, object: 'model', created: Number.isFinite(t) ? Math.floor(t / 1000) : 0, owned_by: 'modelctl' };
}
