import type { IncomingMessage, ServerResponse } from 'node:http';
import { loadOrt } from '../runtime/index.js';
import { VERSION } from '../version.js';
import { decodeInferRequest, encodeInferResponse, tensorSpecs, v2Datatype } from './codec.js';
import { modelPath, type Route, type ServeContext } from './context.js';
import { HttpError, readBody, sendJson } from './http.js';
import type { ServedModel } from './models.js';

/** The Open Inference Protocol (KServe v2) endpoints, plus the Triton model config tritonclient can ask for. */

const ACTIONS = ['ready', 'infer', 'config'] as const;

async function versions(ctx: ServeContext, name: string): Promise<string[]> {
  const { entries } = await ctx.registry.list({ name });
  return entries.map((e) => e.version);
}

async function metadata(ctx: ServeContext, res: ServerResponse, m: ServedModel): Promise<void> {
  sendJson(res, 200, {
    name: m.name,
    versions: await versions(ctx, m.name),
    platform: 'onnxruntime_onnx',
    inputs: tensorSpecs(m.inputs),
    outputs: tensorSpecs(m.outputs),
  });
}

/** Triton's model configuration, enough for clients that read max_batch_size and the tensor specs. */
function config(ctx: ServeContext, res: ServerResponse, m: ServedModel): void {
  const spec = (v: ServedModel['inputs'][number]) => ({
    name: v.name,
    data_type: `TYPE_${v2Datatype(v.dtype) === 'BYTES' ? 'STRING' : v2Datatype(v.dtype)}`,
    dims: (m.batchable ? (v.shape ?? []).slice(1) : (v.shape ?? [])).map((d) => (typeof d === 'number' && d >= 0 ? d : -1)),
  });
  sendJson(res, 200, {
    name: m.name,
    platform: 'onnxruntime_onnx',
    backend: 'onnxruntime',
    version_policy: { specific: { versions: [m.version] } },
    max_batch_size: m.batchable ? ctx.maxBatch : 0,
    input: m.inputs.map(spec),
    output: m.outputs.map(spec),
    ...(m.batchable ? { dynamic_batching: {} } : {}),
  });
}

async function infer(ctx: ServeContext, req: IncomingMessage, res: ServerResponse, m: ServedModel): Promise<void> {
  const body = await readBody(req, ctx.maxBody);
  const header = req.headers['inference-header-content-length'];
  const headerLength = header === undefined ? undefined : Number(header);
  const ort = await loadOrt();
  const request = decodeInferRequest(ort.Tensor, body, headerLength, m.inputs);
  const known = new Set(m.outputs.map((o) => o.name));
  for (const name of request.outputs ?? []) {
    if (!known.has(name))
      throw new HttpError(400, `the model has no output named ${JSON.stringify(name)}`, { hint: `its outputs: ${[...known].join(', ')}` });
  }
  const out = await ctx.manager.infer(m, request.inputs, request.rows);
  const names = request.outputs ?? m.outputs.map((o) => o.name);
  const { body: reply, headerLength: replyHeader } = encodeInferResponse(
    m,
    request,
    names.map((n) => [n, out[n] as NonNullable<(typeof out)[string]>]),
  );
  res.writeHead(200, {
    'content-type': replyHeader === undefined ? 'application/json' : 'application/octet-stream',
    'content-length': reply.length,
    ...(replyHeader !== undefined ? { 'inference-header-content-length': String(replyHeader) } : {}),
  });
  res.end(reply);
}

/** The v2 route for a path (segments after `v2`), or undefined when none matches. */
export function v2Route(ctx: ServeContext, method: string, segs: string[]): Route | undefined {
  if (segs.length === 0) {
    if (method !== 'GET') return undefined;
    return {
      label: '/v2',
      handle: async (_req, res) => sendJson(res, 200, { name: 'modelctl', version: VERSION, extensions: ['binary_tensor_data'] }),
    };
  }
  if (segs[0] === 'health' && segs.length === 2 && method === 'GET') {
    if (segs[1] === 'live') return { label: '/v2/health/live', handle: async (_req, res) => sendJson(res, 200, { live: true }) };
    if (segs[1] === 'ready') {
      return {
        label: '/v2/health/ready',
        handle: async (_req, res) =>
          ctx.ready() ? sendJson(res, 200, { ready: true }) : sendJson(res, 503, { ready: false, error: 'the server is shutting down' }),
      };
    }
    return undefined;
  }
  if (segs[0] !== 'models') return undefined;
  const p = modelPath(segs.slice(1), ACTIONS);
  if (!p) return undefined;
  const suffix = `${p.version !== undefined ? '/versions/{version}' : ''}${p.action ? `/${p.action}` : ''}`;
  const label = `/v2/models/{name}${suffix}`;
  const load = () => ctx.manager.model(p.name, p.version);
  if (p.action === 'infer') {
    if (method !== 'POST') return undefined;
    return { label, handle: async (req, res) => infer(ctx, req, res, await load()) };
  }
  if (method !== 'GET') return undefined;
  if (p.action === 'ready') {
    return {
      label,
      handle: async (_req, res) => {
        const m = await load();
        sendJson(res, ctx.ready() ? 200 : 503, { name: m.name, version: m.version, ready: ctx.ready() });
      },
    };
  }
  if (p.action === 'config') return { label, handle: async (_req, res) => config(ctx, res, await load()) };
  return { label, handle: async (_req, res) => metadata(ctx, res, await load()) };
}
