import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HANDBUILT, IRIS_ROWS, getJson, irisInfer, postJson, serve } from './helpers.js';

const handInfer = {
  inputs: [
    { name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] },
    { name: 'steps', shape: [1], datatype: 'INT64', data: [1] },
  ],
};

describe('serve: a RAM-bounded model cache and graceful shutdown', () => {
  it('evicts least recently used sessions under a tight --max-memory while every request is still answered', async () => {
    // iris is 628 bytes and org/hand 686: a 700-byte budget holds one of them at a time.
    const s = await serve({ maxMemory: 700, maxModels: 4, maxWaitMs: 1 });
    const answers = [];
    for (let round = 0; round < 4; round++) {
      answers.push(
        ...(await Promise.all([
          postJson(`${s.url}/v2/models/iris/infer`, irisInfer(IRIS_ROWS)),
          postJson(`${s.url}/v2/models/org%2Fhand/infer`, handInfer),
          postJson(`${s.url}/v2/models/iris/infer`, irisInfer(IRIS_ROWS.slice(0, 1))),
        ])),
      );
    }
    expect(answers.map((a) => a.status)).toEqual(Array(12).fill(200));
    expect(
      new Set(
        answers.filter((a) => a.body.model_name === 'iris' && a.body.outputs[0].shape[0] === 3).map((a) => JSON.stringify(a.body.outputs)),
      ),
    ).toHaveLength(1);
    const stats = s.manager.cache.stats();
    expect(stats.evictions).toBeGreaterThan(0);
    expect(stats.sessions).toBe(1);
    expect(stats.bytes).toBeLessThanOrEqual(700);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(Number(/^modelctl_model_evictions_total (\d+)$/m.exec(metrics)?.[1])).toBe(stats.evictions);
    expect((await getJson(`${s.url}/v1/stats`)).body.server.evictions).toBe(stats.evictions);
  });

  it('keeps at most --max-models-in-ram sessions', async () => {
    const s = await serve({ maxModels: 1 });
    for (let i = 0; i < 3; i++) {
      expect((await postJson(`${s.url}/v2/models/iris/infer`, irisInfer(IRIS_ROWS))).status).toBe(200);
      expect((await postJson(`${s.url}/v2/models/org/hand/infer`, handInfer)).status).toBe(200);
    }
    expect(s.manager.cache.stats()).toMatchObject({ sessions: 1, evictions: 5 });
  });

  it('on close, finishes the request in flight, refuses new connections, then stops', async () => {
    const s = await serve();
    const bytes = readFileSync(HANDBUILT);
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `${s.url}/v1/models?name=slow&filename=model.onnx`,
        { method: 'POST', headers: { 'content-length': bytes.length } },
        (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.write(bytes.subarray(0, 100));
      // The rest arrives only after shutdown has begun.
      setTimeout(() => req.end(bytes.subarray(100)), 300);
    });
    await new Promise((r) => setTimeout(r, 100));
    const closed = s.close(10_000);
    await new Promise((r) => setTimeout(r, 50));
    await expect(fetch(`${s.url}/v2/health/live`)).rejects.toThrow();
    const r = await answer;
    expect(r.status).toBe(201);
    expect(JSON.parse(r.body).manifest.name).toBe('slow');
    await closed;
    expect((await s.registry.list({ name: 'slow' })).entries).toHaveLength(1);
  });
});
