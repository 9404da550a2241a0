/** What the OpenAPI document's parts share (openapi.ts, openapi-registry.ts): schema helpers, the error responses, the path parameters. */

export type Schema = Record<string, unknown>;

export const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
export const json = (schema: Schema) => ({ 'application/json': { schema } });

export const ERRORS = {
  '400': { description: 'Bad request: the body, a parameter or the input does not fit', content: json(ref('Error')) },
  '401': { description: 'A bearer token is required (--token)', content: json(ref('Error')) },
  '404': { description: 'No such model, version, alias or endpoint', content: json(ref('Error')) },
};

export function op(operationId: string, summary: string, tag: string, responses: Record<string, unknown>, extra: Schema = {}): Schema {
  return { operationId, summary, tags: [tag], ...extra, responses: { ...responses, ...ERRORS } };
}

export const NAME: Schema = {
  name: 'name',
  in: 'path',
  required: true,
  description: 'Model name; `org/name` is sent as one segment, `org%2Fname` (the plain slash form is accepted too)',
  schema: { type: 'string' },
};
export const VERSION_PARAM: Schema = {
  name: 'version',
  in: 'path',
  required: true,
  description: 'A registry version (1.0.0) or an alias (production)',
  schema: { type: 'string' },
};
export const ok = (description: string, schema: Schema = { type: 'object' }) => ({ '200': { description, content: json(schema) } });
export const strict: Schema = {
  name: 'strict',
  in: 'query',
  schema: { type: 'boolean' },
  description: 'Count garbage (orphan blobs, stale temporary files) as problems',
};

/** The v2 model paths with and without `/versions/{version}`. */
export function versioned(base: string, suffix: string, build: (params: Schema[], id: string) => Schema): Record<string, Schema> {
  return {
    [`${base}/{name}${suffix}`]: build([NAME], ''),
    [`${base}/{name}/versions/{version}${suffix}`]: build([NAME, VERSION_PARAM], 'Version'),
  };
}
