import { ModelctlError } from '../errors.js';
import { flatten, makeTensor, runSession, tensorOutputs, tensorToJson, type JsonTensor, type RunContext } from './tensors.js';

/**
 * Any model: named tensors in, named tensors out. An input is `{"dims": [...], "data": [...], "type": "float32"}`,
 * a nested array (its shape read from the nesting, its type from the model), or a .npy file as src/inputs/npy.ts reads it.
 */

function isJsonTensor(v: unknown): v is JsonTensor {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'data' in v;
}

/** Runs named inputs; unknown names and missing inputs are errors that list what the model takes. */
export async function predictRaw(ctx: RunContext, inputs: Record<string, unknown>): Promise<Record<string, JsonTensor>> {
  const specs = new Map(ctx.inputs.map((i) => [i.name, i]));
  const takes = ctx.inputs.map((i) => `${i.name} ${i.dtype ?? '?'}[${(i.shape ?? []).map((d) => d ?? '?').join(', ')}]`).join(', ');
  for (const name of Object.keys(inputs)) {
    if (!specs.has(name))
      throw new ModelctlError('INVALID_INPUT', `the model has no input named ${JSON.stringify(name)}`, { hint: `it takes: ${takes}` });
  }
  const feeds: Record<string, ReturnType<typeof makeTensor>> = {};
  for (const spec of ctx.inputs) {
    const value = inputs[spec.name];
    if (value === undefined)
      throw new ModelctlError('INVALID_INPUT', `input ${spec.name} is missing`, { hint: `the model takes: ${takes}` });
    const type = spec.dtype ?? 'float32';
    if (isJsonTensor(value)) {
      if (value.dims !== undefined && !(Array.isArray(value.dims) && value.dims.every((d) => Number.isSafeInteger(d) && d >= 0))) {
        throw new ModelctlError('INVALID_INPUT', `input ${spec.name}: "dims" must be a list of whole numbers`, {
          hint: '{"dims": [1, 4], "data": [...]}',
        });
      }
      if (value.type && value.type !== type) {
        throw new ModelctlError('INVALID_INPUT', `input ${spec.name} is ${value.type}, but the model takes ${type}`, {
          hint: 'convert it, or give it without "type"',
        });
      }
      const flat = flatten(value.data, spec.name);
      feeds[spec.name] = makeTensor(ctx, spec.name, type, value.dims ?? flat.dims, flat.data);
    } else {
      const flat = flatten(value, spec.name);
      feeds[spec.name] = makeTensor(ctx, spec.name, type, flat.dims, flat.data);
    }
    const want = spec.shape;
    const got = feeds[spec.name]?.dims ?? [];
    if (want !== undefined && (got.length !== want.length || want.some((d, i) => typeof d === 'number' && d > 0 && d !== got[i]))) {
      throw new ModelctlError(
        'INVALID_INPUT',
        `input ${spec.name} has shape [${got.join(', ')}]; the model takes [${want.map((d) => d ?? '?').join(', ')}]`,
        { hint: `the model takes: ${takes}` },
      );
    }
  }
  const fetch = tensorOutputs(ctx);
  const out = await runSession(ctx, feeds, fetch);
  return Object.fromEntries(fetch.map((n) => [n, tensorToJson(out[n] as Parameters<typeof tensorToJson>[0])]));
}
