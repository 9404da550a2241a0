import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ModelctlError } from '../../src/errors.js';
import { predict } from '../../src/predict/predict.js';
import { errorReply } from '../../src/serve/http.js';
import { HANDBUILT, IRIS, IRIS_ROWS, getJson, postJson, serve } from './helpers.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const withoutTimings = ({ timings: _t, ...rest }: Record<string, unknown>) => rest;

describe('serve: the registry API and task-level predict under /v1', () => {
  it('answers each error code with its HTTP status: the server’s own files it may not read are a 500, not the client’s 400', () => {
    const status = (code: ConstructorParameters<typeof ModelctlError>[0]) => errorReply(new ModelctlError(code, 'x')).status;
    expect([status('PERMISSION_DENIED'), status('INVALID_INPUT'), status('NOT_FOUND'), status('CONFLICT')]).toEqual([500, 400, 404, 409]);
  });

  it('lists models, shows a model and a version, and reports stats', async () => {
    const s = await serve();
    const list = await getJson(`${s.url}/v1/models`);
    expect(list.body.models.map((m: { name: string; version: string }) => `${m.name}:${m.version}`).sort()).toEqual([
      'iris:1.0.0',
      'org/hand:1.0.0',
    ]);
    expect((await getJson(`${s.url}/v1/models?name=org/*`)).body.models).toHaveLength(1);
    const model = await getJson(`${s.url}/v1/models/org%2Fhand`);
    expect(model.body).toMatchObject({ name: 'org/hand', aliases: { latest: '1.0.0' } });
    const version = await getJson(`${s.url}/v1/models/org/hand/versions/latest`);
    expect(version.body.manifest).toMatchObject({ name: 'org/hand', version: '1.0.0', format: 'onnx' });
    expect(version.body.aliases).toEqual(['latest']);
    const stats = await getJson(`${s.url}/v1/stats`);
    expect(stats.body.registry).toMatchObject({ models: 2, versions: 2, unreadable: 0 });
  });

  it('filters the listing by tag and metric, shows both, and refuses an unknown filter (issue 18)', async () => {
    const s = await serve();
    await s.registry.edit('iris:1.0.0', { tags: { team: 'nlp' }, metrics: { accuracy: 0.95 } });
    await s.registry.edit('org/hand:1.0.0', { tags: { team: 'nlp' }, metrics: { accuracy: 0.7 } });
    const refs = (body: { models: Array<{ name: string; version: string }> }): string[] => body.models.map((m) => `${m.name}:${m.version}`);
    const good = await getJson(`${s.url}/v1/models?tag=team=nlp&metric=${encodeURIComponent('accuracy>=0.9')}`);
    expect([good.status, refs(good.body)]).toEqual([200, ['iris:1.0.0']]);
    expect(good.body.models[0]).toMatchObject({ tags: { team: 'nlp' }, metrics: { accuracy: 0.95 } });
    const both = await getJson(
      `${s.url}/v1/models?metric=${encodeURIComponent('accuracy>0.5')}&metric=${encodeURIComponent('accuracy<0.9')}`,
    );
    expect(refs(both.body)).toEqual(['org/hand:1.0.0']);
    for (const bad of ['min_accuracy=0.9', 'tags=team=nlp', `metric=${encodeURIComponent('accuracy>=high')}`, 'metric=accuracy']) {
      const r = await getJson(`${s.url}/v1/models?${bad}`);
      expect(r.status, bad).toBe(400);
      expect(r.body.error, bad).toMatch(/unknown query parameter|metric condition/);
    }
  });

  it('registers a streamed upload, downloads it byte for byte, validates, and removes it', async () => {
    const s = await serve();
    const bytes = readFileSync(HANDBUILT);
    const up = await getJson(`${s.url}/v1/models?name=team/up&version=2.0.0&tag=team=ml&alias=staging&filename=model.onnx`, {
      method: 'POST',
      body: bytes,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(up.status).toBe(201);
    expect(up.body.manifest).toMatchObject({ name: 'team/up', version: '2.0.0', format: 'onnx', tags: { team: 'ml' } });
    expect(up.body.aliases.sort()).toEqual(['latest', 'staging']);
    // The same bytes again are the version that holds them (issue 18); other bytes cannot take that version.
    const again = await getJson(`${s.url}/v1/models?name=team/up&version=2.0.0`, { method: 'POST', body: bytes });
    expect([again.status, again.body.upToDate, again.body.manifest.digest]).toEqual([200, true, up.body.manifest.digest]);
    const clash = await getJson(`${s.url}/v1/models?name=team/up&version=2.0.0`, { method: 'POST', body: readFileSync(IRIS) });
    expect(clash.status).toBe(409);
    // Without ?filename= the bytes name the format (issue 18): text that is no model is a 415, not a broken model.onnx.
    const junk = await getJson(`${s.url}/v1/models?name=team/junk`, { method: 'POST', body: 'not a model at all' });
    expect([junk.status, junk.body.code]).toEqual([415, 'UNKNOWN_FORMAT']);
    const claimed = await getJson(`${s.url}/v1/models?name=team/junk&filename=model.onnx`, { method: 'POST', body: 'not a model at all' });
    expect(claimed.status).toBe(400);
    const down = await fetch(`${s.url}/v1/models/team%2Fup/versions/staging/download`);
    expect(down.status).toBe(200);
    const got = Buffer.from(await down.arrayBuffer());
    expect(sha256(got)).toBe(sha256(bytes));
    expect(down.headers.get('x-modelctl-sha256')).toBe(sha256(bytes));
    const meta = await getJson(`${s.url}/v2/models/team/up`);
    expect(meta.body.inputs[0].name).toBe('x');
    const checked = await postJson(`${s.url}/v1/models/team%2Fup/validate`, '');
    expect(checked.body).toMatchObject({ ok: true, versions: 1, problems: [] });
    expect((await postJson(`${s.url}/v1/validate`, '')).body).toMatchObject({ ok: true, versions: 3 });
    expect((await getJson(`${s.url}/v1/models/team%2Fup`, { method: 'DELETE' })).status).toBe(400);
    const removed = await getJson(`${s.url}/v1/models/team%2Fup/versions/2.0.0`, { method: 'DELETE' });
    expect(removed.body.removed).toEqual([{ name: 'team/up', version: '2.0.0', size: bytes.length }]);
    expect((await getJson(`${s.url}/v2/models/team/up`)).status).toBe(404);
    expect((await getJson(`${s.url}/v1/models?name=x`, { method: 'POST', body: '' })).status).toBe(400);
    expect((await getJson(`${s.url}/v1/models`, { method: 'POST', body: bytes })).body.error).toMatch(/name is required/);
  });

  it('refuses an upload over --max-upload with 413 and keeps the registry as it was', async () => {
    const s = await serve({ maxUpload: 100 });
    const r = await getJson(`${s.url}/v1/models?name=big`, { method: 'POST', body: readFileSync(IRIS) });
    expect(r.status).toBe(413);
    expect((await getJson(`${s.url}/v1/models`)).body.models).toHaveLength(2);
  });

  it('predict takes what the CLI takes and returns what predict --json prints', async () => {
    const s = await serve();
    const r = await postJson(`${s.url}/v1/models/iris/predict`, { rows: IRIS_ROWS });
    expect(r.status).toBe(200);
    const ref = await predict({ model: 'iris', registry: s.registry, input: { kind: 'rows', rows: IRIS_ROWS } });
    expect(withoutTimings(r.body)).toEqual(withoutTimings(JSON.parse(JSON.stringify(ref))));
    const raw = await postJson(`${s.url}/v1/models/org%2Fhand/predict`, { inputs: { x: [[1, 2, 3, 4]], steps: [2] } });
    const rawRef = await predict({
      model: 'org/hand',
      registry: s.registry,
      input: { kind: 'tensors', tensors: { x: [[1, 2, 3, 4]], steps: [2] } },
    });
    expect(withoutTimings(raw.body)).toEqual(withoutTimings(JSON.parse(JSON.stringify(rawRef))));
    for (const [body, message] of [
      [{}, /no input given/],
      [{ rows: [[1, 2, 3]] }, /row 1 has 3 features; the model takes 4/],
      [{ rows: IRIS_ROWS, texts: ['a'] }, /one way only/],
      [{ rows: IRIS_ROWS, top_k: 0 }, /"top_k" must be/],
      [{ question: 'who?', context: 'me' }, /question-answering models/],
      // Generation settings a classifier does not take are refused as predict refuses the flags, not ignored.
      [{ rows: IRIS_ROWS, max_new_tokens: 5 }, /^"max_new_tokens" is for text-generation models, not tabular-classification$/],
      [{ rows: IRIS_ROWS, num_beams: 2 }, /^"num_beams" is for encoder-decoder models, not tabular-classification$/],
      [{ rows: IRIS_ROWS, return_timestamps: true }, /^"return_timestamps" is for speech recognition models, not tabular-classification$/],
    ] as Array<[unknown, RegExp]>) {
      const bad = await postJson(`${s.url}/v1/models/iris/predict`, body);
      expect(bad.status).toBe(400);
      expect(bad.body.error).toMatch(message);
    }
  });

  it('describes every endpoint in /openapi.json and counts requests in /metrics', async () => {
    const s = await serve();
    const doc = (await getJson(`${s.url}/openapi.json`)).body;
    expect(doc.openapi).toBe('3.0.3');
    for (const path of [
      '/v2/health/live',
      '/v2/health/ready',
      '/v2/models/{name}',
      '/v2/models/{name}/versions/{version}/infer',
      '/v1/models',
      '/v1/models/{name}/predict',
      '/v1/models/{name}/versions/{version}/download',
      '/v1/stats',
      '/v1/validate',
      '/v1/pull',
      '/v1/jobs/{id}',
      '/model-registry/models',
      '/model-registry/models/upload',
      '/model-registry/models/{name}/register-from-hub',
      '/model-registry/models/{name}/versions/{version}',
      '/model-registry/models/{name}/download',
      '/model-registry/models/{name}/export',
      '/model-registry/models/{name}/validate',
      '/model-registry/stats',
      '/metrics',
    ]) {
      expect(doc.paths, path).toHaveProperty([path]);
    }
    await postJson(`${s.url}/v1/models/iris/predict`, { rows: IRIS_ROWS });
    const text = await (await fetch(`${s.url}/metrics`)).text();
    expect(text).toMatch(/modelctl_http_requests_total\{method="POST",route="\/v1\/models\/\{name\}\/predict",status="200"\} 1/);
    expect(text).toMatch(/modelctl_http_request_duration_seconds_bucket\{route="\/openapi.json",le="\+Inf"\} 1/);
    expect(text).toMatch(/^modelctl_models_loaded \d+$/m);
    expect(text).toMatch(/^modelctl_model_evictions_total 0$/m);
  });
});
