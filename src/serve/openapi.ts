import { VERSION } from '../version.js';
import { OPENAI_PATHS, OPENAI_SCHEMAS } from './openapi-openai.js';
import { type Schema, json, ok, op, ref, strict, versioned } from './openapi-parts.js';
import { REGISTRY_SCHEMAS, registryPaths } from './openapi-registry.js';

/**
 * The OpenAPI 3.0 document served at /openapi.json: every endpoint, its parameters and bodies, and the error body.
 * Tests fuzz the server from it (schemathesis), so it must say what the routes really accept.
 */

const TENSOR_IN: Schema = {
  type: 'object',
  required: ['name', 'shape', 'datatype'],
  properties: {
    name: { type: 'string' },
    shape: { type: 'array', items: { type: 'integer', minimum: 0 } },
    datatype: {
      type: 'string',
      enum: ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'],
    },
    parameters: { type: 'object', properties: { binary_data_size: { type: 'integer', minimum: 0 } } },
    data: { description: 'Row-major values, flat or nested', type: 'array', items: {} },
  },
};

const SCHEMAS: Record<string, Schema> = {
  Error: {
    type: 'object',
    required: ['error'],
    properties: { error: { type: 'string' }, code: { type: 'string' }, hint: { type: 'string' } },
  },
  ServerMetadata: {
    type: 'object',
    required: ['name', 'version', 'extensions'],
    properties: { name: { type: 'string' }, version: { type: 'string' }, extensions: { type: 'array', items: { type: 'string' } } },
  },
  TensorMetadata: {
    type: 'object',
    required: ['name', 'datatype', 'shape'],
    properties: { name: { type: 'string' }, datatype: { type: 'string' }, shape: { type: 'array', items: { type: 'integer' } } },
  },
  ModelMetadata: {
    type: 'object',
    required: ['name', 'platform', 'inputs', 'outputs'],
    properties: {
      name: { type: 'string' },
      versions: { type: 'array', items: { type: 'string' } },
      platform: { type: 'string' },
      inputs: { type: 'array', items: ref('TensorMetadata') },
      outputs: { type: 'array', items: ref('TensorMetadata') },
    },
  },
  InferRequest: {
    type: 'object',
    required: ['inputs'],
    properties: {
      id: { type: 'string' },
      parameters: { type: 'object', properties: { binary_data_output: { type: 'boolean' } } },
      inputs: { type: 'array', items: TENSOR_IN },
      outputs: {
        type: 'array',
        items: {
          type: 'object',
          required: ['name'],
          properties: { name: { type: 'string' }, parameters: { type: 'object', properties: { binary_data: { type: 'boolean' } } } },
        },
      },
    },
  },
  InferResponse: {
    type: 'object',
    required: ['model_name', 'outputs'],
    properties: {
      model_name: { type: 'string' },
      model_version: { type: 'string' },
      id: { type: 'string' },
      outputs: {
        type: 'array',
        items: {
          type: 'object',
          required: ['name', 'shape', 'datatype'],
          properties: {
            name: { type: 'string' },
            shape: { type: 'array', items: { type: 'integer' } },
            datatype: { type: 'string' },
            data: { type: 'array', items: {} },
            parameters: { type: 'object' },
          },
        },
      },
    },
  },
  PredictRequest: {
    type: 'object',
    description: 'One of rows, inputs, text(s), image(s), audio or question with context, as `modelctl predict` takes them',
    properties: {
      rows: { type: 'array', items: {}, description: 'Rows of numbers, or objects of feature values' },
      columns: { type: 'array', items: { type: 'string' } },
      inputs: { type: 'object', description: 'Named tensors: nested arrays or {"dims", "data", "type"}' },
      text: { type: 'string' },
      texts: { type: 'array', items: { type: 'string' } },
      image: { type: 'string', description: 'base64' },
      images: { type: 'array', items: { type: 'string' } },
      audio: { type: 'array', items: { type: 'string' }, description: 'base64 WAV, FLAC or MP3 files' },
      question: { type: 'string' },
      context: { type: 'string' },
      questions: { type: 'array', items: { type: 'object', properties: { question: { type: 'string' }, context: { type: 'string' } } } },
      task: { type: 'string' },
      top_k: { type: 'integer', minimum: 1 },
      batch_size: { type: 'integer', minimum: 1 },
      normalize: { type: 'boolean' },
      aggregation: { type: 'string', enum: ['none', 'simple', 'first', 'max', 'average'] },
      conf: { type: 'number', minimum: 0, maximum: 1 },
      iou: { type: 'number', minimum: 0, maximum: 1 },
      candidate_labels: { type: 'array', items: { type: 'string' }, description: 'zero-shot-classification (or a comma-separated string)' },
      hypothesis_template: { type: 'string', description: 'zero-shot-classification, {} for the label' },
      multi_label: { type: 'boolean', description: 'zero-shot-classification' },
      max_new_tokens: { type: 'integer', minimum: 1, description: 'text-generation, as the other fields below' },
      do_sample: { type: 'boolean' },
      temperature: { type: 'number', minimum: 0, exclusiveMinimum: true },
      top_p: { type: 'number', minimum: 0, exclusiveMinimum: true, maximum: 1 },
      seed: { type: 'integer', minimum: 0 },
      repetition_penalty: { type: 'number', minimum: 0, exclusiveMinimum: true },
      stop: { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
      num_beams: {
        type: 'integer',
        minimum: 1,
        description: 'text2text-generation, translation, summarization, automatic-speech-recognition, image-to-text: beam search',
      },
      length_penalty: { type: 'number' },
      early_stopping: { oneOf: [{ type: 'boolean' }, { type: 'string', enum: ['never'] }] },
      no_repeat_ngram_size: { type: 'integer', minimum: 0 },
      language: {
        type: 'string',
        description: 'automatic-speech-recognition: the spoken language (en, <|en|>, english; default detected)',
      },
      speech_task: { type: 'string', enum: ['transcribe', 'translate'], description: 'automatic-speech-recognition' },
      chunk_length_s: { type: 'number', minimum: 0, exclusiveMinimum: true, description: 'automatic-speech-recognition: window length' },
      stride_length_s: { type: 'number', minimum: 0, description: 'automatic-speech-recognition: overlap on each side of a window' },
      return_timestamps: { type: 'boolean', description: 'automatic-speech-recognition: chunks with [start, end] seconds' },
    },
  },
  PredictResult: {
    type: 'object',
    required: ['model', 'task'],
    description: 'What `modelctl predict --json` prints',
    properties: {
      model: { type: 'string' },
      task: { type: 'string' },
      predictions: { type: 'array', items: {} },
      outputs: { type: 'object' },
      warnings: {
        type: 'array',
        items: { type: 'string' },
        description: 'Generation settings not applied (what `predict` prints on stderr); present only when there is one',
      },
    },
  },
};

export function openApiDocument(): Schema {
  const infer = (params: Schema[], v: string) => ({
    post: op(
      `infer${v}`,
      'Run the model on JSON tensors (Open Inference Protocol; the binary tensor extension too)',
      'inference',
      { ...ok('The outputs', ref('InferResponse')), '413': { description: 'Larger than --max-body', content: json(ref('Error')) } },
      {
        parameters: params,
        requestBody: { required: true, content: json(ref('InferRequest')) },
      },
    ),
  });
  const paths: Record<string, Schema> = {
    '/v2': {
      get: op('serverMetadata', 'Server name, version and protocol extensions', 'inference', ok('Server metadata', ref('ServerMetadata'))),
    },
    '/v2/health/live': { get: op('serverLive', 'Liveness', 'health', ok('The server is live')) },
    '/v2/health/ready': {
      get: op('serverReady', 'Readiness (503 while shutting down)', 'health', {
        ...ok('The server takes requests'),
        '503': { description: 'Shutting down', content: json(ref('Error')) },
      }),
    },
    ...versioned('/v2/models', '', (p, v) => ({
      get: op(
        `modelMetadata${v}`,
        'Inputs and outputs with datatypes and shapes (-1: not fixed)',
        'inference',
        ok('Model metadata', ref('ModelMetadata')),
        { parameters: p },
      ),
    })),
    ...versioned('/v2/models', '/ready', (p, v) => ({
      get: op(`modelReady${v}`, 'Whether the model can be served', 'health', ok('Ready'), { parameters: p }),
    })),
    ...versioned('/v2/models', '/config', (p, v) => ({
      get: op(`modelConfig${v}`, 'Triton-style model configuration (max_batch_size, tensors)', 'inference', ok('Configuration'), {
        parameters: p,
      }),
    })),
    ...versioned('/v2/models', '/infer', infer),
    ...registryPaths('/v1'),
    ...registryPaths('/model-registry'),
    ...versioned('/v1/models', '/predict', (p, v) => ({
      post: op(
        `predict${v}`,
        'Task-level prediction: the same JSON as `modelctl predict --json`',
        'inference',
        ok('The predictions', ref('PredictResult')),
        { parameters: p, requestBody: { required: true, content: json(ref('PredictRequest')) } },
      ),
    })),
    '/v1/validate': {
      post: op('validateRegistry', 'Re-hash every blob; check manifests, aliases and ONNX files', 'registry', ok('Validation result'), {
        parameters: [strict],
      }),
    },
    '/metrics': {
      get: op('metrics', 'Prometheus metrics', 'health', {
        '200': { description: 'Text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } },
      }),
    },
    '/openapi.json': { get: op('openapi', 'This document', 'health', ok('OpenAPI 3.0')) },
    ...OPENAI_PATHS,
  };
  return {
    openapi: '3.0.3',
    info: {
      title: 'modelctl serve',
      version: VERSION,
      description:
        'The Open Inference Protocol (KServe v2) over a modelctl registry, with task-level prediction, the registry API (under /v1 and the same operations under /model-registry), pull and export as jobs polled at /v1/jobs/{id}, and OpenAI-compatible completions under /v1.',
    },
    servers: [{ url: '/' }],
    components: {
      schemas: { ...SCHEMAS, ...REGISTRY_SCHEMAS, ...OPENAI_SCHEMAS },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    security: [{}, { bearer: [] }],
    paths,
  };
}
