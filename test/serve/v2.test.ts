import { describe, expect, it } from 'vitest';
import { predict } from '../../src/predict/predict.js';
import { join } from 'node:path';
import { FIXTURES } from '../helpers.js';
import { IRIS_ROWS, getJson, irisInfer, postJson, serve } from './helpers.js';

describe('serve: Open Inference Protocol (KServe v2) over loopback HTTP', () => {
  it('answers health, server metadata and model metadata, for org/name with %2F and with a plain slash', async () => {
    const s = await serve();
    expect((await getJson(`${s.url}/v2/health/live`)).status).toBe(200);
    expect((await getJson(`${s.url}/v2/health/ready`)).status).toBe(200);
    expect((await getJson(`${s.url}/v2`)).body).toMatchObject({ name: 'modelctl', extensions: ['binary_tensor_data'] });
    const iris = await getJson(`${s.url}/v2/models/iris`);
    expect(iris.body).toEqual({
      name: 'iris',
      versions: ['1.0.0'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [
        { name: 'label', datatype: 'INT64', shape: [-1] },
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
      ],
    });
    const encoded = await getJson(`${s.url}/v2/models/org%2Fhand/versions/1.0.0`);
    const plain = await getJson(`${s.url}/v2/models/org/hand/versions/1.0.0`);
    expect(encoded.status).toBe(200);
    expect(plain.body).toEqual(encoded.body);
    expect(plain.body.inputs).toEqual([
      { name: 'x', datatype: 'FP32', shape: [-1, 4] },
      { name: 'steps', datatype: 'INT64', shape: [-1] },
    ]);
    expect((await getJson(`${s.url}/v2/models/iris/versions/latest/ready`)).body).toEqual({ name: 'iris', version: '1.0.0', ready: true });
    expect((await getJson(`${s.url}/v2/models/iris/config`)).body).toMatchObject({
      max_batch_size: 32,
      input: [{ name: 'input', data_type: 'TYPE_FP32', dims: [4] }],
    });
  });

  it('infers with JSON tensors: the same numbers as predict, the id echoed, only the outputs asked for', async () => {
    const s = await serve();
    const r = await postJson(`${s.url}/v2/models/iris/infer`, irisInfer(IRIS_ROWS, { id: 'req-7' }));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ model_name: 'iris', model_version: '1.0.0', id: 'req-7' });
    const ref = await predict({ model: 'iris', registry: s.registry, input: { kind: 'rows', rows: IRIS_ROWS } });
    const [label, probs] = r.body.outputs;
    expect(label).toEqual({ name: 'label', datatype: 'INT64', shape: [3], data: ref.predictions?.map((p) => p.label) });
    expect(probs.shape).toEqual([3, 3]);
    const expected = (ref.predictions ?? []).flatMap((p) => Object.values(p.probabilities ?? {}));
    probs.data.forEach((v: number, i: number) => expect(v).toBeCloseTo(expected[i] as number, 6));
    const only = await postJson(
      `${s.url}/v2/models/iris/versions/1.0.0/infer`,
      irisInfer([IRIS_ROWS[0] as number[]], { outputs: [{ name: 'probabilities' }] }),
    );
    expect(only.body.outputs.map((o: { name: string }) => o.name)).toEqual(['probabilities']);
    const nested = await postJson(`${s.url}/v2/models/iris/infer`, {
      inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [IRIS_ROWS[0]] }],
    });
    expect(nested.body.outputs[0].data).toEqual([0]);
  });

  it('speaks the binary tensor extension both ways (Inference-Header-Content-Length)', async () => {
    const s = await serve();
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP32', parameters: { binary_data_size: 32 } }],
        outputs: [{ name: 'label' }, { name: 'probabilities', parameters: { binary_data: true } }],
      }),
    );
    const raw = Buffer.from(Float32Array.from(IRIS_ROWS.slice(0, 2).flat()).buffer);
    const r = await fetch(`${s.url}/v2/models/iris/infer`, {
      method: 'POST',
      body: Buffer.concat([header, raw]),
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
    });
    expect(r.status).toBe(200);
    const body = Buffer.from(await r.arrayBuffer());
    const n = Number(r.headers.get('inference-header-content-length'));
    const doc = JSON.parse(body.subarray(0, n).toString());
    expect(doc.outputs[0]).toEqual({ name: 'label', datatype: 'INT64', shape: [2], data: [0, 2] });
    expect(doc.outputs[1]).toEqual({ name: 'probabilities', datatype: 'FP32', shape: [2, 3], parameters: { binary_data_size: 24 } });
    const probs = new Float32Array(new Uint8Array(body.subarray(n)).buffer);
    const json = await postJson(`${s.url}/v2/models/iris/infer`, irisInfer(IRIS_ROWS.slice(0, 2)));
    expect(Array.from(probs)).toEqual(json.body.outputs[1].data.map((v: number) => Math.fround(v)));
  });

  it('answers bad requests with a 4xx and a JSON error, never a 5xx', async () => {
    const s = await serve({ maxBody: 4096 });
    const infer = `${s.url}/v2/models/iris/infer`;
    const cases: Array<[string, Promise<{ status: number; body: any }>, number, RegExp]> = [
      ['not JSON', postJson(infer, '{oops'), 400, /not valid JSON/],
      ['no inputs', postJson(infer, { id: 'x' }), 400, /"inputs" list/],
      [
        'wrong datatype',
        postJson(infer, { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP64', data: [1, 2, 3, 4] }] }),
        400,
        /FP64, but the model takes FP32/,
      ],
      [
        'wrong shape',
        postJson(infer, { inputs: [{ name: 'input', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] }),
        400,
        /shape \[1, 3\]; the model takes \[-1, 4\]/,
      ],
      [
        'too few values',
        postJson(infer, { inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }),
        400,
        /do not fill shape/,
      ],
      [
        'a string in FP32',
        postJson(infer, { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 'x'] }] }),
        400,
        /not a number/,
      ],
      [
        'unknown input',
        postJson(infer, { inputs: [{ name: 'nope', shape: [1], datatype: 'FP32', data: [1] }] }),
        400,
        /no input named "nope"/,
      ],
      [
        'missing input',
        postJson(`${s.url}/v2/models/org%2Fhand/infer`, { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }),
        400,
        /input steps is missing/,
      ],
      ['unknown output', postJson(infer, irisInfer([[1, 2, 3, 4]], { outputs: [{ name: 'zzz' }] })), 400, /no output named "zzz"/],
      [
        'binary past the end',
        postJson(infer, { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', parameters: { binary_data_size: 16 } }] }),
        400,
        /runs past the end/,
      ],
      ['unknown model', postJson(`${s.url}/v2/models/ghost/infer`, irisInfer([[1, 2, 3, 4]])), 404, /no model named "?ghost/],
      ['unknown version', getJson(`${s.url}/v2/models/iris/versions/9.9.9`), 404, /9\.9\.9/],
      ['invalid name', getJson(`${s.url}/v2/models/bad..name`), 400, /invalid model name/],
      ['malformed escape', getJson(`${s.url}/v2/models/%E0%A4%A`), 400, /percent-encoding/],
      ['wrong method', getJson(infer), 405, /GET is not allowed/],
      ['no such endpoint', getJson(`${s.url}/v3/anything`), 404, /no endpoint/],
      [
        'too large',
        postJson(infer, irisInfer(Array.from({ length: 1000 }, () => [1, 2, 3, 4]))),
        413,
        /larger than the limit of 4096 bytes/,
      ],
    ];
    for (const [what, pending, status, message] of cases) {
      const r = await pending;
      expect(r.status, what).toBe(status);
      expect(r.body.error, what).toMatch(message);
    }
    expect((await getJson(`${s.url}/v2/health/ready`)).status).toBe(200);
  });

  it('merges concurrent requests into batches, each answer equal to running it alone', async () => {
    const s = await serve({ maxBatch: 32, maxWaitMs: 20 });
    const rows = Array.from({ length: 24 }, (_, i) => [4 + (i % 7) * 0.5, 2 + (i % 3) * 0.5, 1 + (i % 5), 0.1 + (i % 4) * 0.6]);
    const alone = await Promise.all(
      rows.map(
        async (row) => (await predict({ model: 'iris', registry: s.registry, input: { kind: 'rows', rows: [row] } })).predictions?.[0],
      ),
    );
    const answers = await Promise.all(rows.map((row) => postJson(`${s.url}/v2/models/iris/infer`, irisInfer([row]))));
    answers.forEach((a, i) => {
      expect(a.status).toBe(200);
      expect(a.body.outputs[0].data).toEqual([alone[i]?.label]);
      a.body.outputs[1].data.forEach((v: number, k: number) =>
        expect(v).toBeCloseTo(Object.values(alone[i]?.probabilities ?? {})[k] as number, 6),
      );
    });
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    const runs = Number(/modelctl_inference_batch_size_count\{model="iris:1.0.0"\} (\d+)/.exec(metrics)?.[1]);
    expect(runs).toBeGreaterThan(0);
    expect(runs).toBeLessThan(24); // some requests shared a run
    expect(metrics).toMatch(/modelctl_inference_requests_total\{model="iris:1.0.0"\} 24/);
  });

  it('runs a model whose outputs are not batched (a shape output) one request at a time, correctly', async () => {
    const s = await serve({ maxBatch: 32, maxWaitMs: 20 });
    const bodies = [1, 2, 3, 4].map((k) => ({
      inputs: [
        { name: 'x', shape: [k, 4], datatype: 'FP32', data: Array.from({ length: 4 * k }, (_, i) => i / 10) },
        { name: 'steps', shape: [k], datatype: 'INT64', data: Array(k).fill(1) },
      ],
    }));
    const answers = await Promise.all(bodies.map((b) => postJson(`${s.url}/v2/models/org%2Fhand/infer`, b)));
    answers.forEach((a, i) => {
      expect(a.status).toBe(200);
      expect(a.body.outputs.find((o: { name: string }) => o.name === 'y_shape').data).toEqual([i + 1, 3]);
    });
  });

  it('asks for a bearer token when --token is set, except on the health checks', async () => {
    const s = await serve({ token: 's3cret' });
    expect((await getJson(`${s.url}/v2/health/live`)).status).toBe(200);
    const denied = await getJson(`${s.url}/v2/models/iris`);
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toBe('Bearer');
    expect((await getJson(`${s.url}/v2/models/iris`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await getJson(`${s.url}/v2/models/iris`, { headers: { authorization: 'Bearer s3cret' } })).status).toBe(200);
  });

  it('a version removed and registered again outside the server (the CLI) is served as it is now, not from the cache', async () => {
    const s = await serve({ resolveTtlMs: 0 });
    await s.registry.register({ path: join(FIXTURES, 'iris-logreg', 'model.onnx'), name: 'swap', version: '1.0.0' });
    const before = await postJson(`${s.url}/v2/models/swap/infer`, irisInfer([IRIS_ROWS[0] as number[]]));
    expect(before.body.outputs.map((o: { name: string }) => o.name)).toEqual(['label', 'probabilities']);
    await s.registry.remove('swap:1.0.0');
    await s.registry.register({ path: join(FIXTURES, 'sklearn-zipmap', 'model.onnx'), name: 'swap', version: '1.0.0' });
    const after = await postJson(`${s.url}/v2/models/swap/infer`, irisInfer([IRIS_ROWS[0] as number[]]));
    expect(after.status, JSON.stringify(after.body)).toBe(200);
    expect(after.body.outputs.map((o: { name: string }) => o.name)).toEqual(['output_label']);
    expect(after.body.outputs[0].data).toEqual(['setosa']);
  });
});
