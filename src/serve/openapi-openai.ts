/**
 * The OpenAI-compatible paths of the OpenAPI document (src/serve/openapi.ts): /v1/chat/completions and
 * /v1/completions, with their own error body ({"error": {"message", "type", "param", "code"}}).
 */

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema) => ({ 'application/json': { schema } });

const COMMON: Record<string, Schema> = {
  model: { type: 'string', description: 'A registered text-generation model: name, name:version or name:alias' },
  max_tokens: { type: 'integer', minimum: 1 },
  max_completion_tokens: { type: 'integer', minimum: 1 },
  temperature: { type: 'number', minimum: 0, maximum: 2, description: '0 is greedy; above 0 samples' },
  top_p: { type: 'number', minimum: 0, exclusiveMinimum: true, maximum: 1 },
  seed: { type: 'integer', minimum: 0 },
  stop: {
    oneOf: [
      { type: 'string', minLength: 1 },
      { type: 'array', maxItems: 4, items: { type: 'string', minLength: 1 } },
    ],
  },
  n: { type: 'integer', minimum: 1, maximum: 1, description: 'One choice per request' },
  stream: { type: 'boolean', description: 'Server-sent events: `data: {chunk}` lines, then `data: [DONE]`' },
  stream_options: { type: 'object', properties: { include_usage: { type: 'boolean' } } },
};

export const OPENAI_SCHEMAS: Record<string, Schema> = {
  OpenAiError: {
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['message', 'type'],
        properties: {
          message: { type: 'string' },
          type: { type: 'string' },
          param: { type: 'string', nullable: true },
          code: { type: 'string', nullable: true },
          hint: { type: 'string' },
        },
      },
    },
  },
  ChatCompletionRequest: {
    type: 'object',
    required: ['model', 'messages'],
    properties: {
      ...COMMON,
      messages: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          required: ['role', 'content'],
          properties: { role: { type: 'string', minLength: 1 }, content: { type: 'string' } },
        },
        description: "Rendered with the model's chat template",
      },
    },
  },
  CompletionRequest: {
    type: 'object',
    required: ['model', 'prompt'],
    properties: { ...COMMON, prompt: { type: 'string' } },
  },
  Completion: {
    type: 'object',
    required: ['id', 'object', 'created', 'model', 'choices'],
    description: 'chat.completion or text_completion (a stream sends chat.completion.chunk / text_completion chunks)',
    properties: {
      id: { type: 'string' },
      object: { type: 'string' },
      created: { type: 'integer' },
      model: { type: 'string' },
      choices: { type: 'array', items: { type: 'object' } },
      usage: {
        type: 'object',
        properties: { prompt_tokens: { type: 'integer' }, completion_tokens: { type: 'integer' }, total_tokens: { type: 'integer' } },
      },
    },
  },
};

function completion(operationId: string, summary: string, request: string): Schema {
  const error = (description: string) => ({ description, content: json(ref('OpenAiError')) });
  return {
    post: {
      operationId,
      summary,
      tags: ['openai'],
      requestBody: { required: true, content: json(ref(request)) },
      responses: {
        '200': {
          description: 'The completion (JSON), or with "stream": true its chunks as server-sent events',
          content: { ...json(ref('Completion')), 'text/event-stream': { schema: { type: 'string' } } },
        },
        '400': error('Bad request: a field does not fit, the model is not a text-generation model, or n > 1'),
        '401': error('A bearer token is required (--token)'),
        '404': error('No such model, version or alias'),
      },
    },
  };
}

export const OPENAI_PATHS: Record<string, Schema> = {
  '/v1/chat/completions': completion(
    'createChatCompletion',
    "OpenAI-compatible chat completion: the messages rendered with the model's chat template",
    'ChatCompletionRequest',
  ),
  '/v1/completions': completion('createCompletion', 'OpenAI-compatible text completion of a prompt', 'CompletionRequest'),
};
