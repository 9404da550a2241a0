import type { Tensor } from 'onnxruntime-node';
import { ModelctlError } from '../errors.js';
import type { OnnxValueInfo } from '../onnx/summary.js';
import { resolveModel, type ResolvedModel } from '../predict/predict.js';
import type { AutoConvert } from '../predict/types.js';
import type { Registry } from '../registry/index.js';
import type { Manifest } from '../registry/manifest.js';
import { checkName, checkVersion, isAlias, isVersion } from '../registry/names.js';
import { SessionCache, loadOrt, type OpenedSession, type SessionOptions } from '../runtime/index.js';
import { ModelBatcher, type Feeds } from './batcher.js';
import type { Metrics } from './metrics.js';

/**
 * The models a server answers for: registry versions resolved on demand, their ONNX Runtime sessions in a bounded
 * LRU cache (by count and by model bytes), and one dynamic batcher per version.
 */

export interface ServedModel {
  name: string;
  version: string;
  /** name:version@manifest digest: a version removed and registered again is another model to the caches. */
  key: string;
  resolved: ResolvedModel;
  /** Tensor inputs and outputs (ZipMap-like sequence outputs cannot be fetched). */
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  batchable: boolean;
}

export interface ModelManagerOptions {
  registry: Registry;
  maxModels: number;
  maxBytes?: number;
  maxBatch: number;
  maxWaitMs: number;
  session?: SessionOptions;
  metrics?: Metrics;
  /** How long a name or alias stays resolved to one version before it is looked up again. */
  resolveTtlMs?: number;
  /** Re-hash a version's files each time it is loaded (a changed fingerprint always makes it re-hash them). */
  verify?: boolean;
  /** A registered model that is not ONNX: its ONNX export is served (see predict/auto-convert.ts). */
  autoConvert?: AutoConvert;
}

/** Every input and output has a first dimension that is not fixed: the one requests can be stacked along. */
function isBatchable(inputs: OnnxValueInfo[], outputs: OnnxValueInfo[]): boolean {
  const free = (v: OnnxValueInfo) => v.shape !== undefined && v.shape.length > 0 && (v.shape[0] === null || typeof v.shape[0] === 'string');
  return inputs.length > 0 && outputs.length > 0 && [...inputs, ...outputs].every(free);
}

export class ModelManager {
  readonly cache: SessionCache;
  readonly #o: ModelManagerOptions;
  readonly #batchers = new Map<string, ModelBatcher>();
  readonly #served = new Map<string, ServedModel>();
  readonly #refs = new Map<string, { version: string; digest: string; at: number }>();
  readonly #touched = new Map<string, number>();
  readonly #resolving = new Map<string, Promise<ResolvedModel>>();

  constructor(options: ModelManagerOptions) {
    this.#o = options;
    this.cache = new SessionCache({
      maxSessions: options.maxModels,
      ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}),
    });
  }

  get registry(): Registry {
    return this.#o.registry;
  }

  /** A URL's version: a registry version if one exists by that name, else an alias (`production`). */
  async manifest(name: string, version?: string): Promise<Manifest> {
    checkName(name);
    if (version === undefined) return this.#o.registry.resolve(name);
    if (isVersion(version)) {
      try {
        return await this.#o.registry.resolve(`${name}:${version}`);
      } catch (err) {
        if (!(isAlias(version) && err instanceof ModelctlError && err.code === 'NOT_FOUND')) throw err;
      }
    }
    if (isAlias(version)) return this.#o.registry.resolve(`${name}@${version}`);
    return this.#o.registry.resolve(`${name}:${checkVersion(version)}`);
  }

  /** The version a reference means now; names and aliases are cached briefly so a hot path does not read disk. */
  /** One resolution per version at a time: two first requests for a model that is not ONNX convert it once. */
  #resolve(ref: string): Promise<ResolvedModel> {
    let pending = this.#resolving.get(ref);
    if (!pending) {
      const options = { verify: this.#o.verify === true, ...(this.#o.autoConvert ? { autoConvert: this.#o.autoConvert } : {}) };
      pending = resolveModel(ref, this.#o.registry, options).finally(() => this.#resolving.delete(ref));
      this.#resolving.set(ref, pending);
    }
    return pending;
  }

  async model(name: string, version?: string): Promise<ServedModel> {
    const ref = version === undefined ? name : `${name}/${version}`;
    const ttl = this.#o.resolveTtlMs ?? 1000;
    let cached = this.#refs.get(ref);
    if (!cached || Date.now() - cached.at >= ttl) {
      const manifest = await this.manifest(name, version);
      cached = { version: manifest.version, digest: manifest.digest, at: Date.now() };
      this.#refs.set(ref, cached);
    }
    const exact = cached.version;
    const key = `${name}:${exact}@${cached.digest}`;
    const hit = this.#served.get(key);
    // A stat of each file per request: a file changed on disk since it was checked is checked again (and the version
    // reloaded) before the session cache, which reopens changed files, could read it.
    if (hit && (!hit.resolved.verified || this.#o.registry.stillVerified(hit.resolved.verified))) return hit;
    const resolved = await this.#resolve(`${name}:${exact}`);
    // (A converted model's manifest is its export's: the version asked for is the one checked.)
    if (resolved.manifest && !resolved.converted && resolved.manifest.digest !== cached.digest) {
      // Replaced between the two reads: serve what the registry holds now, under its own key.
      this.#refs.delete(ref);
      return this.model(name, version);
    }
    const inputs = resolved.summary.inputs.filter((i) => i.kind === 'tensor');
    const outputs = resolved.summary.outputs.filter((o) => o.kind === 'tensor');
    const served: ServedModel = { name, version: exact, key, resolved, inputs, outputs, batchable: isBatchable(inputs, outputs) };
    for (const stale of [...this.#served.keys()])
      if (stale.startsWith(`${name}:${exact}@`)) {
        this.#served.delete(stale);
        this.#batchers.delete(stale);
      }
    this.#served.set(key, served);
    return served;
  }

  /** Forgets what a removed model resolved to, so the next request looks it up again. */
  forget(name: string): void {
    for (const key of [...this.#refs.keys()]) if (key === name || key.startsWith(`${name}/`)) this.#refs.delete(key);
    for (const key of [...this.#served.keys()])
      if (key.startsWith(`${name}:`)) {
        this.#served.delete(key);
        this.#batchers.delete(key);
      }
  }

  /** Runs feeds through the model's batcher; returns every tensor output. */
  async infer(model: ServedModel, feeds: Feeds, rows: number): Promise<Record<string, Tensor>> {
    const key = `${model.name}:${model.version}`;
    let batcher = this.#batchers.get(model.key);
    if (!batcher) {
      const ort = await loadOrt();
      const fetch = model.outputs.map((o) => o.name);
      const metrics = this.#o.metrics;
      batcher = new ModelBatcher({
        maxBatch: this.#o.maxBatch,
        maxWaitMs: this.#o.maxWaitMs,
        batchable: model.batchable,
        Tensor: ort.Tensor,
        run: (merged) => this.#run(model, merged, fetch),
        onBatch: (requests, n) => {
          metrics?.batchSize.observe(requests, { model: key });
          metrics?.batchRows.observe(n, { model: key });
        },
      });
      this.#batchers.set(model.key, batcher);
    }
    this.#o.metrics?.inferences.inc({ model: key });
    const out = await batcher.submit(feeds, rows);
    this.#touch(model);
    return out;
  }

  /** Lends the model's cached session to `fn` (held past an eviction until `fn` is done). */
  useSession<T>(model: ServedModel, fn: (opened: OpenedSession) => Promise<T>): Promise<T> {
    return this.cache.use(model.resolved.path, this.#o.session ?? {}, fn);
  }

  async #run(model: ServedModel, feeds: Feeds, fetch: string[]): Promise<Record<string, Tensor>> {
    return this.cache.use(model.resolved.path, this.#o.session ?? {}, async (opened) => {
      try {
        return (await opened.session.run(feeds, fetch)) as Record<string, Tensor>;
      } catch (err) {
        const first = String((err as Error).message ?? err).split('\n')[0];
        throw new ModelctlError('INVALID_INPUT', `the model refused the input: ${first}`, { cause: err });
      }
    });
  }

  /** Last-use records order gc's evictions; once a minute per version is plenty and keeps writes off the hot path. */
  #touch(model: ServedModel): void {
    const key = `${model.name}:${model.version}`;
    const now = Date.now();
    if (now - (this.#touched.get(key) ?? 0) < 60_000) return;
    this.#touched.set(key, now);
    void this.#o.registry.store.touch(model.name, model.version).catch(() => undefined);
  }
}
