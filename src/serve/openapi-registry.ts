import { NAME, type Schema, VERSION_PARAM, json, ok, op, ref, strict, versioned } from './openapi-parts.js';
import { EXPORT_FIELDS, PULL_FIELDS } from './job-fields.js';

/**
 * The registry paths of the OpenAPI document, twice: under /v1 and under the design's /model-registry, the same
 * operations (their handlers are shared too: routes-v1.ts, routes-registry.ts), told apart by their operationIds.
 * Pull and export answer 202 with a job, followed at /v1/jobs/{id}.
 */

const JOB_PROGRESS: Schema = {
  type: 'object',
  required: ['bytes', 'totalBytes', 'files', 'stage'],
  properties: {
    bytes: { type: 'integer', minimum: 0 },
    totalBytes: { type: 'integer', minimum: 0 },
    files: { type: 'integer', minimum: 0 },
    stage: { type: 'string' },
  },
};

const { name: _pullName, ...FROM_HUB_FIELDS } = PULL_FIELDS;

export const REGISTRY_SCHEMAS: Record<string, Schema> = {
  Job: {
    type: 'object',
    required: ['id', 'kind', 'status', 'request', 'createdAt', 'progress', 'links'],
    properties: {
      id: { type: 'string' },
      kind: { type: 'string', enum: ['pull', 'export'] },
      status: { type: 'string', enum: ['queued', 'running', 'succeeded', 'failed', 'cancelled'] },
      request: { type: 'object' },
      createdAt: { type: 'string', format: 'date-time' },
      startedAt: { type: 'string', format: 'date-time' },
      finishedAt: { type: 'string', format: 'date-time' },
      progress: JOB_PROGRESS,
      result: {
        type: 'object',
        required: ['name', 'version'],
        properties: { name: { type: 'string' }, version: { type: 'string' }, upToDate: { type: 'boolean' } },
      },
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: { code: { type: 'string' }, message: { type: 'string' }, hint: { type: 'string' } },
      },
      links: { type: 'object', required: ['self'], properties: { self: { type: 'string' }, model: { type: 'string' } } },
    },
  },
  PullRequest: { type: 'object', required: ['source'], additionalProperties: false, properties: PULL_FIELDS },
  RegisterFromHubRequest: {
    type: 'object',
    description: 'The model name is in the path; the source defaults to it (hf:{name})',
    additionalProperties: false,
    properties: FROM_HUB_FIELDS,
  },
  ExportRequest: { type: 'object', additionalProperties: false, properties: EXPORT_FIELDS },
};

const JOB_STARTED = {
  '202': {
    description: 'The job started (or waits for a free slot); poll the Location (/v1/jobs/{id})',
    headers: { Location: { schema: { type: 'string' } } },
    content: json(ref('Job')),
  },
};

const LIST_PARAMETERS: Schema[] = [
  { name: 'name', in: 'query', schema: { type: 'string' }, description: 'A name, or a glob with *' },
  { name: 'task', in: 'query', schema: { type: 'string' } },
  { name: 'format', in: 'query', schema: { type: 'string' } },
  {
    name: 'tag',
    in: 'query',
    schema: { type: 'array', items: { type: 'string' } },
    style: 'form',
    explode: true,
    description: 'key=value or key',
  },
  {
    name: 'metric',
    in: 'query',
    schema: { type: 'array', items: { type: 'string', pattern: '^[A-Za-z0-9_.:/-]{1,128}(>=|<=|==|=|>|<)[^\\s]+$' } },
    style: 'form',
    explode: true,
    description: 'A condition on a metric, e.g. accuracy>=0.9 (>, >=, <, <=, =); all must hold',
  },
];

const UPLOAD_PARAMETERS: Schema[] = [
  { name: 'name', in: 'query', required: true, schema: { type: 'string' } },
  {
    name: 'filename',
    in: 'query',
    schema: { type: 'string' },
    description: 'The stored file name, which names the format; without it the format is read from the bytes (415 when unknown)',
  },
  { name: 'version', in: 'query', schema: { type: 'string' } },
  { name: 'task', in: 'query', schema: { type: 'string' } },
  { name: 'description', in: 'query', schema: { type: 'string' } },
  { name: 'license', in: 'query', schema: { type: 'string' } },
  { name: 'alias', in: 'query', schema: { type: 'array', items: { type: 'string' } }, style: 'form', explode: true },
  { name: 'tag', in: 'query', schema: { type: 'array', items: { type: 'string' } }, style: 'form', explode: true },
  { name: 'metric', in: 'query', schema: { type: 'array', items: { type: 'string' } }, style: 'form', explode: true },
  { name: 'latest', in: 'query', schema: { type: 'boolean' } },
];

/** The registry's paths under `prefix` (/v1 or /model-registry). */
export function registryPaths(prefix: '/v1' | '/model-registry'): Record<string, Schema> {
  const design = prefix === '/model-registry';
  const id = (name: string): string => (design ? `registry${name[0]?.toUpperCase()}${name.slice(1)}` : name);
  const models = `${prefix}/models`;
  const list = op(id('listModels'), 'Versions in the registry', 'registry', ok('Versions'), { parameters: LIST_PARAMETERS });
  const upload = op(
    id('registerModel'),
    'Upload a model file (streamed) and register it as a new version',
    'registry',
    {
      '200': { description: 'Up to date: a version of that name already holds this content', content: json({ type: 'object' }) },
      '201': { description: 'Registered', content: json({ type: 'object' }) },
      '409': { description: 'The version exists', content: json(ref('Error')) },
      '413': { description: 'Larger than --max-upload', content: json(ref('Error')) },
      '415': { description: 'No ?filename= and the bytes are no format modelctl knows', content: json(ref('Error')) },
    },
    {
      parameters: UPLOAD_PARAMETERS,
      requestBody: { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
    },
  );
  const pullBody = (schema: string) => ({ requestBody: { content: json(ref(schema)) } });
  const pullPath: Record<string, Schema> = design
    ? {
        [`${models}/{name}/register-from-hub`]: {
          post: op('registryRegisterFromHub', 'Pull a Hub repo into the registry as {name}: a job', 'registry', JOB_STARTED, {
            parameters: [NAME],
            ...pullBody('RegisterFromHubRequest'),
          }),
        },
      }
    : {
        '/v1/pull': { post: op('pullModel', 'Pull a Hub repo into the registry: a job', 'registry', JOB_STARTED, pullBody('PullRequest')) },
      };
  return {
    [models]: design ? { get: list } : { get: list, post: upload },
    ...(design ? { [`${models}/upload`]: { post: upload } } : {}),
    [`${models}/{name}`]: {
      get: op(
        id('getModel'),
        'Every version and alias of a model (an OpenAI id name:version, name:alias or name@alias: that version)',
        'registry',
        ok('The model'),
        { parameters: [NAME] },
      ),
      delete: op(id('removeModel'), 'Remove every version (?all_versions=true)', 'registry', ok('What was removed'), {
        parameters: [NAME, { name: 'all_versions', in: 'query', schema: { type: 'boolean' } }],
      }),
    },
    [`${models}/{name}/versions/{version}`]: {
      get: op(id('getModelVersion'), 'One version: manifest, aliases, last use', 'registry', ok('The version'), {
        parameters: [NAME, VERSION_PARAM],
      }),
      delete: op(id('removeModelVersion'), 'Remove one version and the blobs nothing else uses', 'registry', ok('What was removed'), {
        parameters: [NAME, VERSION_PARAM],
      }),
    },
    ...versioned(models, '/download', (p, v) => ({
      get: op(
        id(`downloadModel${v}`),
        'The model file (the primary one, or ?file=)',
        'registry',
        { '200': { description: 'The file', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } } },
        { parameters: [...p, { name: 'file', in: 'query', schema: { type: 'string' } }] },
      ),
    })),
    ...versioned(models, '/export', (p, v) => ({
      post: op(id(`exportModel${v}`), 'Convert the version to ONNX and register the result: a job', 'registry', JOB_STARTED, {
        parameters: p,
        requestBody: { content: json(ref('ExportRequest')) },
      }),
    })),
    ...versioned(models, '/validate', (p, v) => ({
      post: op(id(`validateModel${v}`), "Re-hash the model's blobs and check its manifests", 'registry', ok('Validation result'), {
        parameters: [...p, strict],
      }),
    })),
    ...pullPath,
    ...(design
      ? {}
      : {
          '/v1/jobs': { get: op('listJobs', 'Pull and export jobs of this server, newest first', 'registry', ok('The jobs')) },
          '/v1/jobs/{id}': {
            get: op('getJob', "A job's status, progress, and result or error", 'registry', ok('The job', ref('Job')), {
              parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
            }),
            delete: op(
              'cancelJob',
              'Cancel a queued or running job (200 once it has stopped, 202 while it is stopping; 409 when it had already finished)',
              'registry',
              {
                ...ok('The job, cancelled', ref('Job')),
                '202': { description: 'The job is still stopping (stage "cancelling"): poll it', content: json(ref('Job')) },
                '409': { description: 'The job had already finished', content: json(ref('Error')) },
              },
              { parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }] },
            ),
          },
        }),
    [`${prefix}/stats`]: { get: op(id('stats'), "Registry size and the server's model cache", 'registry', ok('Statistics')) },
  };
}
