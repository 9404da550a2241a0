import { ModelctlError } from '../errors.js';
import type { Registry } from '../registry/index.js';
import type { Manifest } from '../registry/manifest.js';
import { TOOL } from '../version.js';
import { MlflowClient, proxyPath, type ClientOptions } from './client.js';
import { environmentFiles, mlmodelText } from './mlmodel.js';
import { lineageTags } from './tags.js';
import { parseMlflowUri } from './target.js';

/**
 * `modelctl push REF mlflow://HOST:PORT/NAME`: a registry version becomes a version of an MLflow registered model.
 * One MLflow run (in --experiment, default "modelctl") holds the artifacts under `model/`: the ONNX file(s) as
 * stored, MLmodel in the ONNX flavor and the environment files; the run carries the version's metrics, and the
 * model version its tags, description and lineage (modelctl.* tags), plus the aliases asked for.
 * Nothing is registered in MLflow unless every artifact arrived: a failure marks the run FAILED.
 */

export const ARTIFACT_PATH = 'model';
export const DEFAULT_EXPERIMENT = 'modelctl';

export interface MlflowPushOptions extends ClientOptions {
  registry: Registry;
  /** A registry reference: name, name:version or name@alias. */
  ref: string;
  /** mlflow://HOST:PORT/NAME (or mlflow:///NAME with MLFLOW_TRACKING_URI). */
  target: string;
  aliases?: string[];
  experiment?: string;
  /** Plain http to a host that is not loopback. */
  insecure?: boolean;
  env?: NodeJS.ProcessEnv;
  clock?: () => Date;
  onProgress?: (event: { type: 'uploading'; path: string; done: number; total: number } | { type: 'registering' }) => void;
}

export interface MlflowPushResult {
  ref: string;
  /** The MLflow registered model and its new version number. */
  name: string;
  version: string;
  uri: string;
  runId: string;
  experimentId: string;
  /** Where MLflow keeps the model folder (the model version's source). */
  source: string;
  aliases: string[];
  files: number;
  bytes: number;
}

interface RunInfo {
  run: { info: { run_id: string; artifact_uri: string } };
}

/** The file MLflow loads: the manifest's primary, else its only .onnx file. */
export function primaryOnnx(m: Manifest): string {
  if (m.format !== 'onnx') {
    throw new ModelctlError('INVALID_INPUT', `${m.name}:${m.version} is ${m.format}, and MLflow's ONNX flavor takes ONNX models`, {
      hint: `export it first: modelctl export ${m.name}:${m.version}`,
    });
  }
  const primary = typeof m.metadata.primary === 'string' ? m.metadata.primary : undefined;
  if (primary && m.files.some((f) => f.path === primary)) return primary;
  const onnx = m.files.filter((f) => f.path.endsWith('.onnx'));
  if (onnx.length !== 1) {
    throw new ModelctlError('INVALID_INPUT', `${m.name}:${m.version} has ${onnx.length} .onnx files and names no primary one`, {
      hint: 'push a version with one model file',
    });
  }
  return (onnx[0] as { path: string }).path;
}

async function experimentId(client: MlflowClient, name: string): Promise<string> {
  try {
    const got = await client.call<{ experiment: { experiment_id: string } }>('GET', 'experiments/get-by-name', { experiment_name: name });
    return got.experiment.experiment_id;
  } catch (err) {
    if (!(err instanceof ModelctlError && err.code === 'NOT_FOUND')) throw err;
  }
  try {
    return (await client.call<{ experiment_id: string }>('POST', 'experiments/create', { name })).experiment_id;
  } catch (err) {
    // Created by another push meanwhile.
    if (err instanceof ModelctlError && err.code === 'CONFLICT') {
      return (await client.call<{ experiment: { experiment_id: string } }>('GET', 'experiments/get-by-name', { experiment_name: name }))
        .experiment.experiment_id;
    }
    throw err;
  }
}

async function ensureRegisteredModel(client: MlflowClient, name: string): Promise<void> {
  try {
    await client.call('GET', 'registered-models/get', { name });
    return;
  } catch (err) {
    if (!(err instanceof ModelctlError && err.code === 'NOT_FOUND')) throw err;
  }
  try {
    await client.call('POST', 'registered-models/create', { name, tags: [{ key: 'modelctl.created_by', value: TOOL }] });
  } catch (err) {
    if (!(err instanceof ModelctlError && err.code === 'CONFLICT')) throw err;
  }
}

const asTags = (tags: Record<string, string>): Array<{ key: string; value: string }> =>
  Object.entries(tags).map(([key, value]) => ({ key, value }));

export async function pushToMlflow(o: MlflowPushOptions): Promise<MlflowPushResult> {
  const target = parseMlflowUri(o.target, { env: o.env ?? process.env, insecure: o.insecure === true, for: 'push' });
  const manifest = await o.registry.resolve(o.ref);
  const data = primaryOnnx(manifest);
  await o.registry.verify(manifest, o.signal ? { signal: o.signal } : {});
  const client = new MlflowClient(target.server, o);
  const clock = o.clock ?? (() => new Date());
  const ref = `${manifest.name}:${manifest.version}`;
  const lineage = lineageTags(manifest);

  const expId = await experimentId(client, o.experiment ?? DEFAULT_EXPERIMENT);
  const started = clock();
  const created = await client.call<RunInfo>('POST', 'runs/create', {
    experiment_id: expId,
    run_name: `modelctl push ${ref}`,
    start_time: started.getTime(),
    tags: asTags({ 'mlflow.source.name': 'modelctl', 'mlflow.source.type': 'LOCAL', ...lineage }),
  });
  const runId = created.run.info.run_id;
  const total = manifest.size;
  try {
    const folder = `${proxyPath(created.run.info.artifact_uri, target.server)}/${ARTIFACT_PATH}`;
    let done = 0;
    for (const f of manifest.files) {
      o.onProgress?.({ type: 'uploading', path: f.path, done, total });
      await client.upload(`${folder}/${f.path}`, o.registry.store.layout.blob(f.sha256), f.size);
      done += f.size;
    }
    o.onProgress?.({ type: 'uploading', path: '', done, total });
    for (const [path, text] of Object.entries(environmentFiles())) await client.uploadText(`${folder}/${path}`, text);
    await client.uploadText(`${folder}/MLmodel`, mlmodelText({ manifest, data, runId, artifactPath: ARTIFACT_PATH, createdAt: started }));
    const metrics = Object.entries(manifest.metrics).map(([key, value]) => ({ key, value, timestamp: started.getTime(), step: 0 }));
    if (metrics.length > 0) await client.call('POST', 'runs/log-batch', { run_id: runId, metrics });
    await client.call('POST', 'runs/update', { run_id: runId, status: 'FINISHED', end_time: clock().getTime() });
  } catch (err) {
    await client.call('POST', 'runs/update', { run_id: runId, status: 'FAILED', end_time: clock().getTime() }).catch(() => {});
    throw err;
  }

  o.onProgress?.({ type: 'registering' });
  await ensureRegisteredModel(client, target.name);
  const source = `${created.run.info.artifact_uri.replace(/\/+$/, '')}/${ARTIFACT_PATH}`;
  const mv = await client.call<{ model_version: { version: string } }>('POST', 'model-versions/create', {
    name: target.name,
    source,
    run_id: runId,
    tags: asTags({ ...manifest.tags, ...lineage }),
    ...(manifest.description ? { description: manifest.description } : {}),
  });
  const version = String(mv.model_version.version);
  for (const alias of o.aliases ?? []) {
    await client.call('POST', 'registered-models/alias', { name: target.name, alias, version });
  }
  return {
    ref,
    name: target.name,
    version,
    uri: `${target.server.shown}/${encodeURIComponent(target.name)}/${version}`,
    runId,
    experimentId: expId,
    source,
    aliases: o.aliases ?? [],
    files: manifest.files.length,
    bytes: manifest.size,
  };
}
