import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from '../helpers.js';
import { HANDBUILT, getJson, postJson, serve } from './helpers.js';

/**
 * The design's REST paths (/model-registry/...) beside /v1 (issue 18): the same handlers answer both, so each design
 * path is checked against its /v1 twin; and an upload without ?filename= is named after what its bytes are.
 */

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const R = '/model-registry';

describe('serve: the /model-registry paths', () => {
  it('list (with tag and metric filters), model, version, stats: the same answers as their /v1 twins', async () => {
    const s = await serve();
    await s.registry.edit('iris:1.0.0', { tags: { team: 'nlp' }, metrics: { accuracy: 0.95 } });
    for (const [design, v1] of [
      [`${R}/models`, '/v1/models'],
      [
        `${R}/models?tag=team=nlp&metric=${encodeURIComponent('accuracy>=0.9')}`,
        `/v1/models?tag=team=nlp&metric=${encodeURIComponent('accuracy>=0.9')}`,
      ],
      [`${R}/models/org%2Fhand`, '/v1/models/org%2Fhand'],
      [`${R}/models/org/hand/versions/1.0.0`, '/v1/models/org/hand/versions/1.0.0'],
      [`${R}/stats`, '/v1/stats'],
      [`${R}/models/ghost`, '/v1/models/ghost'],
    ] as const) {
      const a = await getJson(`${s.url}${design}`);
      const b = await getJson(`${s.url}${v1}`);
      expect([a.status, a.body], design).toEqual([b.status, b.body]);
    }
    const filtered = await getJson(`${s.url}${R}/models?tag=team=nlp&metric=${encodeURIComponent('accuracy>=0.9')}`);
    expect(filtered.body.models.map((m: { name: string }) => m.name)).toEqual(['iris']);
    const unknown = await getJson(`${s.url}${R}/models?min_accuracy=0.9`);
    expect([unknown.status, unknown.body.error]).toEqual([400, 'unknown query parameter "min_accuracy"']);
    // predict stays under /v1 (the design names no such path): here iris/predict can only be a model's name.
    const predict = await postJson(`${s.url}${R}/models/iris/predict`, { rows: [[1, 2, 3, 4]] });
    expect([predict.status, predict.headers.get('allow')]).toEqual([405, 'GET, DELETE']);
    const put = await getJson(`${s.url}${R}/models`, { method: 'PUT' });
    expect([put.status, put.headers.get('allow')]).toEqual([405, 'GET']);
    const text = await (await fetch(`${s.url}/metrics`)).text();
    expect(text).toMatch(/modelctl_http_requests_total\{method="GET",route="\/model-registry\/models\/\{name\}",status="200"\} 1/);
  });

  it('upload, download, validate, remove under /model-registry', async () => {
    const s = await serve();
    const bytes = readFileSync(HANDBUILT);
    const up = await getJson(`${s.url}${R}/models/upload?name=team/up&version=2.0.0&alias=staging`, { method: 'POST', body: bytes });
    expect(up.status).toBe(201);
    expect(up.body.manifest).toMatchObject({ name: 'team/up', version: '2.0.0', format: 'onnx', files: [{ path: 'model.onnx' }] });
    // Here models/upload is the upload only, as the document says (a model named "upload" is read under /v1).
    const get = await getJson(`${s.url}${R}/models/upload`);
    expect([get.status, get.headers.get('allow')]).toEqual([405, 'POST']);
    const down = await fetch(`${s.url}${R}/models/team%2Fup/download`);
    expect([down.status, sha256(Buffer.from(await down.arrayBuffer()))]).toEqual([200, sha256(bytes)]);
    const pinned = await fetch(`${s.url}${R}/models/team/up/versions/staging/download`);
    expect(pinned.headers.get('x-modelctl-sha256')).toBe(sha256(bytes));
    await pinned.arrayBuffer();
    const checked = await postJson(`${s.url}${R}/models/team%2Fup/validate`, '');
    expect(checked.body).toMatchObject({ ok: true, versions: 1, problems: [] });
    expect((await getJson(`${s.url}${R}/models/team%2Fup`, { method: 'DELETE' })).status).toBe(400);
    const removed = await getJson(`${s.url}${R}/models/team%2Fup/versions/2.0.0`, { method: 'DELETE' });
    expect(removed.body.removed).toEqual([{ name: 'team/up', version: '2.0.0', size: bytes.length }]);
    const all = await getJson(`${s.url}${R}/models/iris?all_versions=true`, { method: 'DELETE' });
    expect(all.body.removed.map((r: { name: string }) => r.name)).toEqual(['iris']);
    expect((await getJson(`${s.url}${R}/models`)).body.models.map((m: { name: string }) => m.name)).toEqual(['org/hand']);
  });

  it('an upload without ?filename= is stored under the name its bytes call for; bytes of no known format are a 415', async () => {
    const s = await serve();
    for (const [fixture, file, stored, format] of [
      ['iris-logreg', 'model.onnx', 'model.onnx', 'onnx'],
      ['safetensors', 'model.safetensors', 'model.safetensors', 'safetensors'],
      ['lightgbm', 'model.txt', 'model.txt', 'lightgbm'],
      ['xgboost-json', 'model.json', 'model.json', 'xgboost'],
      ['xgboost-ubj', 'model.ubj', 'model.ubj', 'xgboost'],
      ['torch-full', 'model.pt', 'model.pt', 'pytorch'],
      ['torch-legacy', 'model.pth', 'model.pt', 'pytorch'],
      ['keras-v3', 'model.keras', 'model.keras', 'keras'],
      ['keras-h5', 'model.h5', 'model.h5', 'keras-h5'],
      ['sklearn-pickle', 'model.pkl', 'model.pkl', 'pickle'],
      ['sklearn-joblib', 'model.joblib', 'model.joblib', 'joblib'],
    ] as const) {
      const bytes = readFileSync(join(FIXTURES, fixture, file));
      const r = await getJson(`${s.url}/v1/models?name=up/${fixture}`, { method: 'POST', body: bytes });
      expect(r.status, `${fixture}: ${JSON.stringify(r.body)}`).toBe(201);
      expect(r.body.manifest, fixture).toMatchObject({ format, files: [{ path: stored, size: bytes.length }] });
      expect(r.body.manifest.lineage.source, fixture).toMatchObject({ kind: 'upload', filename: stored });
    }
    // ?filename= still names the file (and so the format) when given.
    const named = await getJson(`${s.url}/v1/models?name=up/named&filename=weights.safetensors`, {
      method: 'POST',
      body: readFileSync(join(FIXTURES, 'safetensors', 'model.safetensors')),
    });
    expect(named.body.manifest.files[0].path).toBe('weights.safetensors');
    for (const junk of [Buffer.from('just some text, no model\n'), Buffer.from([0x00, 0x01, 0x02, 0x03, 0xff, 0xfe])]) {
      const r = await getJson(`${s.url}${R}/models/upload?name=up/junk`, { method: 'POST', body: junk });
      expect([r.status, r.body.code]).toEqual([415, 'UNKNOWN_FORMAT']);
      expect(r.body.error).toMatch(/not a model format modelctl recognises/);
      expect(r.body.hint).toMatch(/\?filename=/);
    }
    // A compressed joblib is a zlib stream: its bytes do not say joblib, so it is a 415 until ?filename= says so.
    const compressed = readFileSync(join(FIXTURES, 'sklearn-joblib-compressed', 'model-compressed.joblib'));
    expect((await getJson(`${s.url}/v1/models?name=up/z`, { method: 'POST', body: compressed })).status).toBe(415);
    const z = await getJson(`${s.url}/v1/models?name=up/z&filename=model.joblib`, { method: 'POST', body: compressed });
    expect([z.status, z.body.manifest?.format]).toEqual([201, 'joblib']);
    expect((await getJson(`${s.url}/v1/models?name=up/*`)).body.models).toHaveLength(13);
  });
});
