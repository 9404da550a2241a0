import { ModelctlError } from '../errors.js';
import { downloadUrl, discardFetched, type FetchedFile } from '../hub/download/index.js';
import { commitPull, pullResult } from '../pull/inspect-and-commit.js';
import type { PullOptions, PullResult } from '../pull/options.js';
import { isSafeKey } from '../registry/metadata-keys.js';
import { checkNewName, checkSemverVersion } from '../registry/names.js';
import { MlflowClient, proxyPath } from './client.js';
import { MLFLOW_FILES, onnxFlavorData } from './mlmodel.js';
import { splitTags } from './tags.js';
import { parseMlflowUri } from './target.js';

/**
 * `modelctl pull mlflow://HOST:PORT/NAME@ALIAS` (or `/NAME/N`): the files of an MLflow model version in the ONNX
 * flavor, through the server's artifact proxy, into the registry as a new version. The version's tags (but
 * MLflow's and modelctl's own), its run's metrics and its description come along; the lineage names the mlflow://
 * URI, the version number and the run. An alias or version MLflow does not know is NOT_FOUND, and nothing is
 * registered unless every file arrived.
 */

interface ModelVersion {
  name: string;
  version: string;
  run_id?: string;
  description?: string;
  source?: string;
  tags?: Array<{ key: string; value: string }>;
}

/**
 * The model version an alias or a number names. The alias is looked up in the registered model's list: MLflow
 * answers an unknown alias with INVALID_PARAMETER_VALUE, not RESOURCE_DOES_NOT_EXIST.
 */
async function modelVersion(client: MlflowClient, name: string, alias?: string, version?: string): Promise<ModelVersion> {
  const shown = `${client.server.shown}/${name}${alias ? `@${alias}` : `/${version}`}`;
  const hint = `list the versions and aliases on the server (MlflowClient().get_registered_model("${name}"))`;
  const notFound = (err: unknown): never => {
    if (err instanceof ModelctlError && err.code === 'NOT_FOUND') {
      throw new ModelctlError('NOT_FOUND', `${shown} not found: ${err.message.replace(/^MLflow at \S+: /, '')}`, { hint, cause: err });
    }
    throw err;
  };
  let number = version;
  if (alias) {
    const got = await client
      .call<{ registered_model: { aliases?: Array<{ alias: string; version: string }> } }>('GET', 'registered-models/get', { name })
      .catch(notFound);
    number = got.registered_model.aliases?.find((a) => a.alias === alias)?.version;
    if (number === undefined) throw new ModelctlError('NOT_FOUND', `${shown} not found: ${name} has no alias "${alias}"`, { hint });
  }
  const got = await client
    .call<{ model_version: ModelVersion }>('GET', 'model-versions/get', { name, version: number as string })
    .catch(notFound);
  return got.model_version;
}

/** The run's latest value of each metric modelctl can store. */
async function runMetrics(client: MlflowClient, runId: string | undefined, warnings: string[]): Promise<Record<string, number>> {
  if (!runId) return {};
  let run: { run: { data?: { metrics?: Array<{ key: string; value: number | string }> } } };
  try {
    run = await client.call('GET', 'runs/get', { run_id: runId });
  } catch (err) {
    if (err instanceof ModelctlError && err.code === 'NOT_FOUND') {
      warnings.push(`the run ${runId} of this version is gone: no metrics taken`);
      return {};
    }
    throw err;
  }
  const metrics: Record<string, number> = {};
  for (const { key, value } of run.run.data?.metrics ?? []) {
    const n = Number(value);
    if (isSafeKey(key) && Number.isFinite(n)) metrics[key] = n;
    else warnings.push(`metric ${JSON.stringify(key)} left out: modelctl keeps finite metrics with keys of letters, digits and . _ : / -`);
  }
  return metrics;
}

function ownTags(tags: Record<string, string>, warnings: string[]): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [k, v] of Object.entries(tags)) {
    if (isSafeKey(k)) kept[k] = v;
    else warnings.push(`tag ${JSON.stringify(k)} left out: modelctl tag keys hold letters, digits and . _ : / -`);
  }
  return kept;
}

function safeRelative(path: string): boolean {
  return path !== '' && !path.startsWith('/') && path.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

export async function pullFromMlflow(o: PullOptions): Promise<PullResult> {
  const env = o.env ?? process.env;
  const target = parseMlflowUri(o.source, { env, insecure: o.insecure === true, for: 'pull' });
  const name = checkNewName(o.name ?? target.name);
  if (o.version !== undefined) checkSemverVersion(o.version);
  const client = new MlflowClient(target.server, { ...(o.signal ? { signal: o.signal } : {}), ...(o.fetch ? { fetch: o.fetch } : {}) });
  o.onProgress?.({ type: 'resolving', source: target.uri });

  const mv = await modelVersion(client, target.name, target.alias, target.version);
  const { artifact_uri } = await client.call<{ artifact_uri: string }>('GET', 'model-versions/get-download-uri', {
    name: target.name,
    version: mv.version,
  });
  const root = proxyPath(artifact_uri, target.server);
  const listed = await client.listFiles(root);
  const mlmodelFile = listed.find((f) => f.path === 'MLmodel');
  const mlmodel = mlmodelFile ? await client.getText(`${root}/MLmodel`) : '';
  const data = onnxFlavorData(mlmodel);
  if (!data) {
    throw new ModelctlError(
      'UNKNOWN_FORMAT',
      `${target.server.shown}/${target.name}/${mv.version} is not an MLflow model in the ONNX flavor`,
      {
        hint: 'modelctl pulls ONNX models from MLflow (mlflow.onnx.log_model, or modelctl push)',
      },
    );
  }
  const files = listed.filter((f) => !MLFLOW_FILES.has(f.path) && !f.path.startsWith('metadata/'));
  for (const f of files) {
    if (!safeRelative(f.path)) throw new ModelctlError('INVALID_INPUT', `MLflow listed an unsafe artifact path ${JSON.stringify(f.path)}`);
  }
  if (!files.some((f) => f.path === data)) {
    throw new ModelctlError('NOT_FOUND', `MLmodel names ${data}, which ${target.server.shown}/${target.name}/${mv.version} does not hold`);
  }
  const total = files.reduce((n, f) => n + f.size, 0);
  o.onProgress?.({ type: 'resolved', source: target.uri, files: files.length, bytes: total });

  const fetched: FetchedFile[] = [];
  let done = 0;
  let received = 0;
  let resumed = 0;
  try {
    for (const f of files) {
      const got = await downloadUrl(client.artifactUrl(`${root}/${f.path}`), {
        tmpDir: o.registry.store.layout.tmpDir,
        ...(target.server.headers.authorization ? { authorization: target.server.headers.authorization } : {}),
        ...(o.fetch ? { fetch: o.fetch } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
        onBytes: (n) => {
          done += n;
          o.onProgress?.({ type: 'bytes', done, total: Math.max(total, done) });
        },
        ...(o.retries !== undefined ? { retries: o.retries } : {}),
        ...(o.backoff ? { backoff: o.backoff } : {}),
      });
      received += got.received;
      resumed += got.resumed;
      fetched.push({ path: f.path, origin: 'network', file: got.file });
    }
  } catch (err) {
    await discardFetched(fetched);
    throw err;
  }

  const warnings: string[] = [];
  const { own, lineage } = splitTags(mv.tags);
  const tags = ownTags(own, warnings);
  const metrics = await runMetrics(client, mv.run_id, warnings);
  o.onProgress?.({ type: 'committing' });
  const committed = await commitPull({
    registry: o.registry,
    name,
    ...(o.version !== undefined ? { version: o.version } : {}),
    files: fetched,
    display: target.uri,
    single: fetched.length === 1,
    source: {
      kind: 'mlflow',
      uri: target.uri,
      server: target.server.shown,
      model: target.name,
      version: mv.version,
      ...(target.alias ? { alias: target.alias } : {}),
      ...(mv.run_id ? { runId: mv.run_id } : {}),
      artifactUri: artifact_uri,
      ...(lineage['modelctl.ref'] ? { pushedFrom: lineage['modelctl.ref'], pushedDigest: lineage['modelctl.digest'] } : {}),
    },
    labels: { tags, metrics, ...(mv.description ? { description: mv.description } : {}) },
    clock: o.clock ?? (() => new Date()),
    ...(o.signal ? { signal: o.signal } : {}),
    onWait: () => o.onProgress?.({ type: 'waiting-for-lock' }),
    idempotent: true,
  });
  return pullResult(committed, fetched, received, resumed, warnings);
}
