/**
 * `modelctl push ... mlflow://` and `modelctl pull mlflow://...` against a real MLflow tracking server
 * (`mlflow server` from .venv-mlflow, built by test/setup/python-env.ts from test/py/mlflow-requirements.txt),
 * started here on a free loopback port with a sqlite backend and its artifact store in a temp folder. What was
 * pushed is loaded by MLflow itself (mlflow.pyfunc, MlflowClient) in check_mlflow.py.
 */
import { execa, type ResultPromise } from 'execa';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Registry } from '../../src/registry/index.js';
import { FIXTURES, cli, fileDir, tempDir } from '../helpers.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const CHECK = join(HERE, 'check_mlflow.py');
const LOG = join(HERE, 'log_onnx.py');
const IRIS = join(FIXTURES, 'iris-logreg', 'model.onnx');
const IRIS_INPUT = JSON.parse(readFileSync(join(FIXTURES, 'iris-logreg', 'reference.json'), 'utf8')).input as number[][];
const EXIT = { USAGE: 2, NOT_FOUND: 3, NETWORK: 7 };

/** .venv-mlflow's interpreter; without it: under CI=true the run fails, elsewhere the tests warn and check nothing. */
function mlflowPython(): string | null {
  const { python, error } = inject('mlflowPython') ?? { python: null, error: 'the globalSetup test/setup/python-env.ts did not run' };
  if (python) return python;
  const message = `the MLflow test environment (.venv-mlflow) is unavailable: ${error ?? 'unknown reason'}`;
  if (process.env.CI === 'true') throw new Error(message);
  console.warn(`\n!!! NOT CHECKED: the MLflow push and pull tests need ${message}\n`);
  return null;
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}

interface MlflowServer {
  url: string;
  /** mlflow://127.0.0.1:PORT */
  remote: string;
  artifacts: string;
  proc: ResultPromise;
}

let python: string | null = null;
let server: MlflowServer | undefined;

/** Waits until the server answers /health; fails with its output if it exits first. */
async function started(url: string, proc: ResultPromise): Promise<void> {
  let exited = false;
  void proc.finally(() => {
    exited = true;
  });
  for (;;) {
    if (exited) {
      const r = await proc;
      throw new Error(`mlflow server exited (${r.exitCode}) before answering:\n${String(r.all ?? '').slice(-3000)}`);
    }
    const ok = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Starts `mlflow server` in a fresh folder; with `auth`, MLflow's basic-auth app with an admin of that password. */
async function startMlflow(python: string, auth?: { password: string }): Promise<MlflowServer> {
  const dir = fileDir('modelctl-mlflow-');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const artifacts = join(dir, 'artifacts');
  const args = ['server', '--backend-store-uri', `sqlite:///${join(dir, 'mlflow.db')}`, '--artifacts-destination', artifacts];
  // No job runner: these tests start no MLflow jobs, and its huey consumers outlive a SIGTERM.
  const env: Record<string, string> = {
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false',
    ...(auth ? { MLFLOW_AUTH_ADMIN_PASSWORD: auth.password, MLFLOW_FLASK_SERVER_SECRET_KEY: randomBytes(16).toString('hex') } : {}),
  };
  // basic-auth keeps its users in basic_auth.db of the working folder: the temp folder.
  const proc = execa(
    join(dirname(python), 'mlflow'),
    [...args, ...(auth ? ['--app-name', 'basic-auth'] : []), '--host', '127.0.0.1', '--port', String(port), '--workers', '1'],
    { cwd: dir, detached: true, reject: false, all: true, stdin: 'ignore', env },
  );
  const s = { url, remote: `mlflow://127.0.0.1:${port}`, artifacts, proc };
  servers.push(s);
  await started(url, proc);
  return s;
}

const servers: MlflowServer[] = [];
const ADMIN_PASSWORD = `pw-${randomBytes(12).toString('hex')}`;
let authServer: MlflowServer | undefined;

beforeAll(async () => {
  python = mlflowPython();
  if (!python) return;
  [server, authServer] = await Promise.all([startMlflow(python), startMlflow(python, { password: ADMIN_PASSWORD })]);
}, 300_000);

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

afterAll(async () => {
  for (const s of servers) {
    const pid = s.proc.pid;
    if (!pid) continue;
    // The server's uvicorn worker is its child: stop the whole process group, and kill what is left after a while.
    signalGroup(pid, 'SIGTERM');
    const late = setTimeout(() => signalGroup(pid, 'SIGKILL'), 15_000);
    await s.proc;
    clearTimeout(late);
    signalGroup(pid, 'SIGKILL');
  }
}, 60_000);

/** A registry holding iris-logreg as iris:1.0.0 with a tag, a metric and a description. */
async function irisHome(): Promise<string> {
  const home = tempDir('modelctl-mlflow-home-');
  const args = ['--tag', 'team=ml', '--metric', 'accuracy=0.97', '--description', 'iris logistic regression'];
  expect((await cli(['register', IRIS, '--name', 'iris', ...args], { home })).exitCode).toBe(0);
  return home;
}

async function rest(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${(server as MlflowServer).url}/api/2.0/mlflow/${path}`);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

describe('push to and pull from an MLflow Model Registry', () => {
  it('pushes a version that mlflow.pyfunc loads and predicts with, as onnxruntime does; pulls it back by alias byte for byte', async () => {
    if (!python || !server) return;
    const home = await irisHome();
    const pushed = await cli(['push', 'iris:1.0.0', `${server.remote}/iris-logreg`, '--alias', 'champion', '--json'], { home });
    expect(pushed.stderr).toBe('');
    expect(pushed.exitCode).toBe(0);
    const result = JSON.parse(pushed.stdout);
    expect(result).toMatchObject({ ref: 'iris:1.0.0', name: 'iris-logreg', version: '1', aliases: ['champion'], files: 1 });

    const checked = await execa(python, [CHECK, server.url, 'iris-logreg', '1', 'champion', IRIS, JSON.stringify(IRIS_INPUT)], {
      reject: false,
      stdin: 'ignore',
    });
    expect(checked.exitCode, checked.stderr).toBe(0);
    const mlflow = JSON.parse(checked.stdout.trim().split('\n').pop() as string);
    expect(mlflow.loader).toBe('mlflow.onnx');
    expect(mlflow.flavors).toEqual(['onnx', 'python_function']);
    expect(Object.keys(mlflow.pyfunc).sort()).toEqual(['label', 'probabilities']);
    expect(mlflow.pyfunc).toEqual(mlflow.onnxruntime);
    expect(mlflow.pyfunc.label).toHaveLength(IRIS_INPUT.length);
    expect(mlflow.alias_version).toBe('1');
    expect(mlflow.description).toBe('iris logistic regression');
    expect(mlflow.metrics).toEqual({ accuracy: 0.97 });
    expect(mlflow.run_status).toBe('FINISHED');
    expect(mlflow.tags).toMatchObject({
      team: 'ml',
      'modelctl.ref': 'iris:1.0.0',
      'modelctl.format': 'onnx',
      'modelctl.operation': 'register',
    });
    const files = JSON.parse(mlflow.tags['modelctl.files']);
    expect(files).toEqual([{ path: 'model.onnx', sha256: sha256(readFileSync(IRIS)), size: readFileSync(IRIS).length }]);

    // A second push is the next MLflow version, printed as such.
    const again = await cli(['push', 'iris', `${server.remote}/iris-logreg`], { home });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/version 2 of iris-logreg/);

    const pulled = await cli(['pull', `${server.remote}/iris-logreg@champion`, '--name', 'iris-back'], { home });
    expect(pulled.exitCode, pulled.stderr).toBe(0);
    expect(pulled.stdout).toMatch(/Pulled iris-back:1\.0\.0/);
    const registry = new Registry({ home });
    const info = await registry.info('iris-back:1.0.0');
    expect(readFileSync(info.blobPaths['model.onnx'] as string).equals(readFileSync(IRIS))).toBe(true);
    const m = info.manifest;
    expect(m.format).toBe('onnx');
    expect(m.tags).toEqual({ team: 'ml' });
    expect(m.metrics).toEqual({ accuracy: 0.97 });
    expect(m.description).toBe('iris logistic regression');
    expect(m.lineage.operation).toBe('pull');
    expect(m.lineage.source).toMatchObject({
      kind: 'mlflow',
      uri: `${server.remote}/iris-logreg@champion`,
      model: 'iris-logreg',
      version: '1',
      alias: 'champion',
      runId: result.runId,
      pushedFrom: 'iris:1.0.0',
      pushedDigest: (await registry.resolve('iris:1.0.0')).digest,
    });

    // By number, into a fresh registry.
    const other = tempDir('modelctl-mlflow-home-');
    const byNumber = await cli(['pull', `${server.remote}/iris-logreg/2`, '--json'], { home: other });
    expect(byNumber.exitCode, byNumber.stderr).toBe(0);
    expect(JSON.parse(byNumber.stdout).manifest).toMatchObject({ name: 'iris-logreg', lineage: { source: { version: '2' } } });
  }, 180_000);

  it('pulls a model MLflow logged itself (mlflow.onnx.log_model): the ONNX file, its tags and its run metrics', async () => {
    if (!python || !server) return;
    const logged = await execa(python, [LOG, server.url, IRIS, 'iris-by-mlflow', 'prod', 'owner=ds'], { reject: false, stdin: 'ignore' });
    expect(logged.exitCode, logged.stderr).toBe(0);
    const version = logged.stdout.trim().split('\n').pop();
    const home = tempDir('modelctl-mlflow-home-');
    const r = await cli(['pull', `${server.remote}/iris-by-mlflow@prod`], { home });
    expect(r.exitCode, r.stderr).toBe(0);
    const info = await new Registry({ home }).info('iris-by-mlflow');
    // MLflow's own files (MLmodel, conda.yaml, python_env.yaml, requirements.txt) stay out of the version.
    expect(info.manifest.files.map((f) => f.path)).toEqual(['model.onnx']);
    expect(info.manifest.format).toBe('onnx');
    expect(info.manifest.task).toBe('tabular-classification');
    expect(info.manifest.tags).toEqual({ owner: 'ds' });
    expect(info.manifest.metrics).toEqual({ f1: 0.93 });
    expect(info.manifest.lineage.source).toMatchObject({ kind: 'mlflow', model: 'iris-by-mlflow', version, alias: 'prod' });
    // onnx.save of the loaded fixture writes the same bytes.
    expect(sha256(readFileSync(info.blobPaths['model.onnx'] as string))).toBe(sha256(readFileSync(IRIS)));
  }, 120_000);

  it('refuses a model without the ONNX flavor (mlflow.sklearn.log_model), registering nothing', async () => {
    if (!python || !server) return;
    const logged = await execa(python, [LOG, server.url, IRIS, 'sk-by-mlflow', 'prod', 'owner=ds', '--sklearn'], {
      reject: false,
      stdin: 'ignore',
    });
    expect(logged.exitCode, logged.stderr).toBe(0);
    const home = tempDir('modelctl-mlflow-home-');
    const r = await cli(['pull', `${server.remote}/sk-by-mlflow@prod`], { home });
    expect(r.exitCode).toBe(EXIT.USAGE);
    expect(r.stderr).toMatch(/sk-by-mlflow\/1 is not an MLflow model in the ONNX flavor/);
    expect((await new Registry({ home }).list()).entries).toEqual([]);
  }, 120_000);

  it('an alias, a version or a model MLflow does not have is NOT_FOUND, and nothing is registered', async () => {
    if (!python || !server) return;
    const home = await irisHome();
    expect((await cli(['push', 'iris', `${server.remote}/iris-nf`], { home })).exitCode).toBe(0);
    for (const [source, message] of [
      [`${server.remote}/iris-nf@nope`, /iris-nf@nope not found: iris-nf has no alias "nope"/],
      [`${server.remote}/iris-nf/9`, /iris-nf\/9 not found/],
      [`${server.remote}/no-such-model@champion`, /no-such-model@champion not found/],
    ] as const) {
      const r = await cli(['pull', source, '--name', 'should-not-exist'], { home });
      expect(r.exitCode, r.stderr).toBe(EXIT.NOT_FOUND);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1);
    }
    const { entries } = await new Registry({ home }).list();
    expect(entries.map((e) => `${e.name}:${e.version}`)).toEqual(['iris:1.0.0']);
  }, 120_000);

  it('a server that answers 500 is a clear NETWORK error, and no model version is registered', async () => {
    if (!python || !server) return;
    const home = await irisHome();
    // A file where the experiment's artifact folder must go: the real server fails the upload with a 500.
    const created = await fetch(`${server.url}/api/2.0/mlflow/experiments/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'broken-artifacts' }),
    });
    const { experiment_id } = (await created.json()) as { experiment_id: string };
    writeFileSync(join(server.artifacts, experiment_id), 'not a folder');
    const r = await cli(['push', 'iris', `${server.remote}/iris-500`, '--experiment', 'broken-artifacts'], { home });
    expect(r.exitCode).toBe(EXIT.NETWORK);
    expect(r.stderr).toMatch(/^error: MLflow at mlflow:\/\/127\.0\.0\.1:\d+ failed upload of \S+model\.onnx \(HTTP 500\)/m);
    expect(r.stderr).toMatch(/hint: the server failed: see its log/);
    expect((await rest('registered-models/get?name=iris-500')).status).toBe(404);
    const runs = await fetch(`${server.url}/api/2.0/mlflow/runs/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ experiment_ids: [experiment_id] }),
    });
    const { runs: found } = (await runs.json()) as { runs: Array<{ info: { status: string } }> };
    expect(found.map((x) => x.info.status)).toEqual(['FAILED']);
  }, 120_000);

  it('authenticates with MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD against basic-auth; without them, a clear 401', async () => {
    if (!python || !authServer) return;
    const home = await irisHome();
    const target = `${authServer.remote}/iris-auth`;
    const wrong = { MLFLOW_TRACKING_USERNAME: 'admin', MLFLOW_TRACKING_PASSWORD: 'not-the-password' };
    for (const env of [{}, wrong] as Array<Record<string, string>>) {
      const refused = await cli(['push', 'iris', target], { home, env });
      expect(refused.exitCode).toBe(EXIT.USAGE);
      expect(refused.stderr).toMatch(/refused GET experiments\/get-by-name \(HTTP 401\)/);
      expect(refused.stderr).toMatch(/hint: set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD/);
    }
    const env = { MLFLOW_TRACKING_USERNAME: 'admin', MLFLOW_TRACKING_PASSWORD: ADMIN_PASSWORD };
    const pushed = await cli(['push', 'iris', target, '--alias', 'prod', '--json'], { home, env });
    expect(pushed.exitCode, pushed.stderr).toBe(0);
    expect(JSON.parse(pushed.stdout)).toMatchObject({ version: '1', aliases: ['prod'] });
    const anonymous = await cli(['pull', `${target}@prod`, '--name', 'iris-auth'], { home });
    expect(anonymous.exitCode).toBe(EXIT.USAGE);
    const pulled = await cli(['pull', `${target}@prod`, '--name', 'iris-auth', '--json'], { home, env });
    expect(pulled.exitCode, pulled.stderr).toBe(0);
    const info = await new Registry({ home }).info('iris-auth');
    expect(readFileSync(info.blobPaths['model.onnx'] as string).equals(readFileSync(IRIS))).toBe(true);
    // The password is sent, never shown or recorded.
    for (const text of [pushed.stdout, pushed.stderr, pulled.stdout, pulled.stderr, JSON.stringify(info.manifest)]) {
      expect(text).not.toContain(ADMIN_PASSWORD);
      expect(text).not.toContain(Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64'));
    }
  }, 120_000);

  it('refuses what it cannot push: another scheme, plain http off loopback, a model that is not ONNX; an unreachable server', async () => {
    const home = tempDir('modelctl-mlflow-home-');
    expect((await cli(['register', IRIS, '--name', 'iris'], { home })).exitCode).toBe(0);
    const scheme = await cli(['push', 'iris', 'ftp://example.com/iris'], { home });
    expect(scheme.exitCode).toBe(EXIT.USAGE);
    expect(scheme.stderr).toMatch(
      /cannot push to "ftp:\/\/example\.com\/iris".*\nhint: give one of: oci:\/\/\S+, mlflow:\/\/HOST:PORT\/NAME/,
    );
    const plain = await cli(['push', 'iris', 'mlflow:///iris'], { home, env: { MLFLOW_TRACKING_URI: 'http://mlflow.example.com:5000' } });
    expect(plain.exitCode).toBe(EXIT.USAGE);
    expect(plain.stderr).toMatch(/refusing plain http to mlflow\.example\.com:5000/);
    const noVersion = await cli(['pull', 'mlflow://127.0.0.1:5000/iris'], { home });
    expect(noVersion.exitCode).toBe(EXIT.USAGE);
    expect(noVersion.stderr).toMatch(/names no version: add @ALIAS or \/VERSION/);
    const port = await freePort();
    const down = await cli(['pull', `mlflow://127.0.0.1:${port}/iris@champion`], { home });
    expect(down.exitCode).toBe(EXIT.NETWORK);
    expect(down.stderr).toMatch(new RegExp(`cannot reach MLflow at mlflow://127\\.0\\.0\\.1:${port} .*ECONNREFUSED`));
    const safetensors = resolve(FIXTURES, 'safetensors');
    expect((await cli(['register', safetensors, '--name', 'weights'], { home })).exitCode).toBe(0);
    const notOnnx = await cli(['push', 'weights', `mlflow://127.0.0.1:${port}/weights`], { home });
    expect(notOnnx.exitCode).toBe(EXIT.USAGE);
    expect(notOnnx.stderr).toMatch(/weights:1\.0\.0 is safetensors, and MLflow's ONNX flavor takes ONNX models/);
  }, 60_000);
});
