import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Registry } from '../../src/registry/index.js';
import { converterRoot, familyPython } from '../convert/env.js';
import { pull } from '../../src/pull/pull.js';
import { FIXTURES, rejection, tempDir } from '../helpers.js';
import { BERT_DEFAULT, bertHub, fileContent } from '../hub/fixtures.js';
import { sha256 } from '../hub/server.js';
import { getJson, postJson, serve } from './helpers.js';

/**
 * Pull and export over HTTP as jobs (issue 18): started with 202, polled at /v1/jobs/{id} until they succeed or fail,
 * against the loopback Hub the hub tests use and the real sklearn converter.
 */

const hub = bertHub(256 << 10);

/** What pull and export jobs read: the loopback Hub, an empty HF home, the rest of this process's environment. */
function jobEnv(): NodeJS.ProcessEnv {
  return { ...process.env, HF_ENDPOINT: hub.server.url, HF_HOME: tempDir('modelctl-hf-home-'), HF_TOKEN: '', HF_HUB_OFFLINE: '' };
}

function emptyRegistry(): Registry {
  return new Registry({ home: tempDir('modelctl-jobs-home-') });
}

/** Polls a job until its first bytes have arrived (it is running, in the middle of its download). */
async function bytesArrived(base: string, self: string): Promise<void> {
  while ((await getJson(`${base}${self}`)).body.progress.bytes === 0) await new Promise((resolve) => setTimeout(resolve, 20));
}

/**
 * A server running one pull at a time, its weights slowed down: one pull running (once `started`, its first bytes
 * arrived) and another waiting behind it.
 */
async function runningAndWaiting(started = true) {
  const registry = emptyRegistry();
  const s = await serve({ registry, env: jobEnv(), maxJobs: 1 });
  const weights = fileContent(hub.bert.files, 'model.safetensors');
  hub.server.faults.slow.set(sha256(weights), 16 << 10);
  const running = await postJson(`${s.url}/v1/pull`, { source: 'acme/tiny-bert' });
  const waiting = await postJson(`${s.url}/v1/pull`, { source: 'acme/tiny-bert', name: 'other/bert' });
  if (started) await bytesArrived(s.url, running.body.links.self);
  return { registry, s, running, waiting, weights };
}

/** Polls a job until it has finished; every view seen on the way is returned too. */
async function settle(base: string, self: string): Promise<{ job: any; seen: any[] }> {
  const seen: any[] = [];
  for (;;) {
    const r = await getJson(`${base}${self}`);
    expect(r.status).toBe(200);
    seen.push(r.body);
    if (r.body.status === 'succeeded' || r.body.status === 'failed') return { job: r.body, seen };
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('serve: pull and export as jobs', () => {
  it('POST /v1/pull starts a job that pulls from the Hub; polling shows its progress and then the version', async () => {
    const s = await serve({ registry: emptyRegistry(), env: jobEnv() });
    const started = await postJson(`${s.url}/v1/pull`, { source: 'hf:acme/tiny-bert' });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ kind: 'pull', request: { source: 'hf:acme/tiny-bert' } });
    expect(['queued', 'running']).toContain(started.body.status);
    expect(started.headers.get('location')).toBe(`/v1/jobs/${started.body.id}`);
    expect(started.body.links.self).toBe(`/v1/jobs/${started.body.id}`);
    const { job, seen } = await settle(s.url, started.body.links.self);
    expect(job.error).toBeUndefined();
    expect(job.status).toBe('succeeded');
    const total = hub.bert.files.filter((f) => BERT_DEFAULT.includes(f.path)).reduce((n, f) => n + f.content.length, 0);
    expect(job.progress).toMatchObject({ bytes: total, totalBytes: total, files: BERT_DEFAULT.length, stage: 'done' });
    for (const view of seen) expect(view.progress.bytes).toBeLessThanOrEqual(view.progress.totalBytes || total);
    expect(job.result).toEqual({ name: 'acme/tiny-bert', version: hub.bert.commit.slice(0, 7), upToDate: false });
    expect(job.links.model).toBe(`/v1/models/acme%2Ftiny-bert/versions/${hub.bert.commit.slice(0, 7)}`);
    const version = await getJson(`${s.url}${job.links.model}`);
    expect(version.body.manifest.files.map((f: { path: string }) => f.path).sort()).toEqual(BERT_DEFAULT);
    const listed = await getJson(`${s.url}/v1/jobs`);
    expect(listed.body.jobs.map((j: { id: string }) => j.id)).toEqual([job.id]);

    // The design's twin: register-from-hub under the name in the path, the repo from the body (or the name).
    const named = await postJson(`${s.url}/model-registry/models/team%2Fbert/register-from-hub`, { source: 'acme/tiny-bert' });
    expect(named.status).toBe(202);
    expect((await settle(s.url, named.body.links.self)).job.result).toMatchObject({ name: 'team/bert', upToDate: false });
    const again = await postJson(`${s.url}/model-registry/models/acme/tiny-bert/register-from-hub`, '');
    const repeated = (await settle(s.url, again.body.links.self)).job;
    expect(repeated.result).toEqual({ name: 'acme/tiny-bert', version: hub.bert.commit.slice(0, 7), upToDate: true });
    expect((await getJson(`${s.url}/v1/jobs`)).body.jobs.map((j: { id: string }) => j.id)).toEqual([again.body.id, named.body.id, job.id]);
  });

  it('a failing job reports its error code; what can be checked at once is a 400 or 404 and starts no job', async () => {
    const env = jobEnv();
    const s = await serve({ registry: emptyRegistry(), env });
    const missing = await postJson(`${s.url}/v1/pull`, { source: 'acme/no-such-repo' });
    expect(missing.status).toBe(202);
    const { job } = await settle(s.url, missing.body.links.self);
    expect(job.status).toBe('failed');
    // The error `modelctl pull` gives for it: the Hub answers 401 for a repo it does not show, as huggingface.co does.
    const direct = await rejection(pull({ source: 'acme/no-such-repo', registry: emptyRegistry(), env }));
    expect(job.error).toEqual({ code: direct.code, message: direct.message, hint: direct.hint });
    expect(job.error.code).toBe('PERMISSION_DENIED');
    expect(job.error.message).toMatch(/acme\/no-such-repo/);
    expect(job.result).toBeUndefined();
    const badRevision = await postJson(`${s.url}/v1/pull`, { source: 'acme/tiny-bert', revision: 'no-such-branch' });
    expect((await settle(s.url, badRevision.body.links.self)).job.error.code).toBe('NOT_FOUND');
    for (const [body, status, message] of [
      [{}, 400, /field source is required/],
      [{ source: 'https://example.com/model.onnx' }, 400, /Hub repos only, not URLs/],
      [{ source: '/etc/passwd' }, 400, /Hub repos only, not its own files/],
      [{ source: 'acme/tiny-bert', endpoint: 'http://elsewhere' }, 400, /unknown field "endpoint"/],
      [{ source: 'acme/tiny-bert', include: 'x' }, 400, /field include must be an array/],
      [{ source: 'acme/tiny-bert', name: '../up' }, 400, /name/],
      [[1], 400, /JSON object/],
    ] as Array<[unknown, number, RegExp]>) {
      const r = await postJson(`${s.url}/v1/pull`, body);
      expect([r.status, r.body.error], JSON.stringify(body)).toEqual([status, expect.stringMatching(message)]);
    }
    expect((await postJson(`${s.url}/model-registry/models/x/register-from-hub`, { name: 'y' })).status).toBe(400);
    expect((await postJson(`${s.url}/v1/models/ghost/export`, {})).status).toBe(404);
    expect((await getJson(`${s.url}/v1/jobs/no-such-job`)).status).toBe(404);
    expect((await getJson(`${s.url}/v1/jobs`)).body.jobs).toHaveLength(2);
  });

  it('runs at most --max-jobs at once: the next waits, queued, until one finishes', async () => {
    const s = await serve({ registry: emptyRegistry(), env: jobEnv(), maxJobs: 1 });
    // The first pull's weights come slowly (about half a second), so the others are still waiting when asked about.
    const weights = fileContent(hub.bert.files, 'model.safetensors');
    hub.server.faults.slow.set(sha256(weights), 512 << 10);
    const ids: string[] = [];
    for (const name of ['one/bert', 'two/bert', 'three/bert']) {
      const r = await postJson(`${s.url}/v1/pull`, { source: 'acme/tiny-bert', name });
      expect(r.status).toBe(202);
      ids.push(r.body.id);
    }
    const last = await getJson(`${s.url}/v1/jobs/${ids[2]}`);
    expect(last.body).toMatchObject({ status: 'queued', progress: { stage: 'queued' } });
    const jobs = [];
    for (const id of ids) jobs.push((await settle(s.url, `/v1/jobs/${id}`)).job);
    expect(jobs.map((j) => j.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    // One at a time, in order: each started once the one before had finished.
    for (let i = 1; i < jobs.length; i++) expect(jobs[i].startedAt >= jobs[i - 1].finishedAt).toBe(true);
  });

  it('a server that stops interrupts its running and waiting jobs, and waits for them: nothing half-pulled is registered', async () => {
    const { registry, s, waiting } = await runningAndWaiting();
    expect((await getJson(`${s.url}${waiting.body.links.self}`)).body.status).toBe('queued');
    await s.close(1000);
    expect((await registry.list()).entries).toEqual([]);
    // The waiting job never started: the weights were asked for once, by the job that was cut.
    expect(hub.server.requests.filter((q) => q.method === 'GET' && q.path.endsWith('/model.safetensors'))).toHaveLength(1);
  });

  it('DELETE /v1/jobs/{id} cancels: a waiting job never starts, a running one stops with nothing registered, a finished one is 409', async () => {
    const { registry, s, running, waiting, weights } = await runningAndWaiting(false);
    const del = (self: string) =>
      fetch(`${s.url}${self}`, { method: 'DELETE' }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
    const dropped = await del(waiting.body.links.self);
    expect(dropped.status).toBe(200);
    expect(dropped.body).toMatchObject({ status: 'cancelled', error: { code: 'INTERRUPTED' }, progress: { stage: 'cancelled' } });
    expect(dropped.body.startedAt).toBeUndefined();
    await bytesArrived(s.url, running.body.links.self);
    const stopped = await del(running.body.links.self);
    expect(stopped.status).toBe(200);
    expect(stopped.body).toMatchObject({ status: 'cancelled', error: { code: 'INTERRUPTED', message: 'cancelled while running' } });
    expect(stopped.body.finishedAt).toBeDefined();
    expect((await registry.list()).entries).toEqual([]);
    expect((await del(running.body.links.self)).status).toBe(409);
    expect((await del('/v1/jobs/no-such-job')).status).toBe(404);
    // The server goes on: the next pull runs (at full speed) and succeeds.
    hub.server.faults.slow.delete(sha256(weights));
    const next = await postJson(`${s.url}/v1/pull`, { source: 'acme/tiny-bert' });
    expect((await settle(s.url, next.body.links.self)).job.status).toBe('succeeded');
    // The cancelled waiting job never asked for the weights; the cancelled running one and the last one did.
    expect(hub.server.requests.filter((q) => q.method === 'GET' && q.path.endsWith('/model.safetensors'))).toHaveLength(2);
  });

  it('exports a registered sklearn pickle through the jobs API; the ONNX version predicts what sklearn predicted', async () => {
    const root = converterRoot();
    if (!root) return;
    const registry = emptyRegistry();
    await registry.register({ path: join(FIXTURES, 'sklearn-pickle', 'model.pkl'), name: 'forest' });
    const s = await serve({ registry, env: jobEnv(), autoConvert: { python: familyPython(root, 'sklearn') } });
    expect((await postJson(`${s.url}/v1/models/forest/export`, { framework: 'xgboost-ish' })).status).toBe(400);
    const started = await postJson(`${s.url}/model-registry/models/forest/export`, { name: 'forest-onnx' });
    expect(started.status).toBe(202);
    expect(started.body.request).toMatchObject({ source: 'forest:1.0.0', name: 'forest-onnx' });
    const { job } = await settle(s.url, started.body.links.self);
    expect(job.error).toBeUndefined();
    expect(job.status).toBe('succeeded');
    expect(job.result).toEqual({ name: 'forest-onnx', version: '1.0.0' });
    expect(job.progress.files).toBe(1);
    const version = (await getJson(`${s.url}${job.links.model}`)).body.manifest;
    expect(version).toMatchObject({ format: 'onnx', lineage: { operation: 'export' } });
    const reference = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')).fixtures['sklearn-pickle'].facts.reference;
    const r = await postJson(`${s.url}/v1/models/forest-onnx/predict`, { rows: reference.input });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const predictions = r.body.predictions as Array<{ label: number; probabilities: Record<string, number> }>;
    expect(predictions.map((p) => Number(p.label))).toEqual(reference.predict);
    predictions.forEach((p, i) => {
      Object.values(p.probabilities).forEach((v, k) => expect(v).toBeCloseTo(reference.predict_proba[i][k], 5));
    });
    // An ONNX version has nothing to export: refused at once, no job.
    const onnx = await postJson(`${s.url}/v1/models/forest-onnx/export`, {});
    expect([onnx.status, onnx.body.code]).toEqual([400, 'INVALID_INPUT']);
  }, 180_000);
});

describe('Jobs.cancel (the jobs table itself)', () => {
  it('answers with the job still stopping after the wait, and a CONFLICT when the job finished before the abort reached it', async () => {
    const { Jobs } = await import('../../src/serve/jobs.js');
    const jobs = new Jobs(2, new AbortController().signal);
    // A body that does not heed its signal: it finishes as it would have.
    const deaf = async () => {
      await new Promise((resolve) => setTimeout(resolve, 150));
      return { name: 'x', version: '1' };
    };
    const slow = jobs.start('pull', {}, deaf);
    const stopping = await jobs.cancel(slow.id, 20);
    expect(stopping).toMatchObject({ status: 'running', progress: { stage: 'cancelling' } });
    const late = jobs.start('pull', {}, deaf);
    const err = await jobs.cancel(late.id, 5_000).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONFLICT', message: `job ${late.id} finished (succeeded) before it could be cancelled` });
    await jobs.settled();
    expect(jobs.get(slow.id)?.status).toBe('succeeded');
  });
});
