import { performance } from 'node:perf_hooks';
import type { InferenceSession } from 'onnxruntime-node';
import { ModelctlError } from '../errors.js';
import { cudaAvailability, cudaLoadError, cudaMissingError, isCudaSetupError } from './cuda.js';
import { executionProviders, formatDevice, type Device, type ProviderConfig } from './device.js';
import { fingerprintModel, type ModelFingerprint } from './model-files.js';
import { loadOrt } from './ort.js';
import { modelLoadError } from './ort-errors.js';
import { parseGraphOptimization, type GraphOptimization } from './optimization.js';
import { checkThreads } from './threads.js';

export { MAX_THREADS } from './threads.js';

export type { GraphOptimization };

export interface SessionOptions {
  /** Default: the CPU. */
  device?: Device;
  /** Intra-op threads; 0 or absent lets onnxruntime choose. */
  threads?: number;
  /** Inter-op threads; above 1 also switches onnxruntime to parallel execution, the only mode that uses them. */
  interOpThreads?: number;
  /** Default 'all'. */
  graphOptimization?: GraphOptimization;
  /** Run on the CPU when CUDA is unusable, recording why in `fellBack`; without it such a request fails. */
  fallback?: 'cpu';
  /** Where the CUDA provider libraries are looked for; defaults to onnxruntime-node's binary folder. A test seam. */
  providerLibraryDir?: string;
}

export interface OpenedSession {
  session: InferenceSession;
  provider: 'cpu' | 'cuda';
  /** Set when CUDA was asked for and the session runs on the CPU instead: why, fit for a warning. */
  fellBack?: string;
  inputNames: readonly string[];
  outputNames: readonly string[];
  /** Time spent creating the session (every attempt), in milliseconds. */
  createMs: number;
  /** Resolved path, file stamps and options: equal keys mean interchangeable sessions. */
  key: string;
  /** Model plus external data size, the cache's estimate of the session's memory. */
  bytes: number;
}

/** Options with their defaults filled in and checked: the form keys are made of. */
function normalize(options: SessionOptions): Required<Pick<SessionOptions, 'device' | 'graphOptimization'>> & SessionOptions {
  checkThreads(options.threads, 'threads');
  checkThreads(options.interOpThreads, 'inter-op threads');
  const graphOptimization = parseGraphOptimization(String(options.graphOptimization ?? 'all'));
  if (options.fallback !== undefined && options.fallback !== 'cpu') {
    throw new ModelctlError('USAGE', `unknown fallback: ${String(options.fallback)}`, { hint: 'the only fallback is cpu' });
  }
  return { ...options, device: options.device ?? { kind: 'cpu' }, graphOptimization };
}

/** Checks session options (thread counts, optimization level, fallback) without opening anything: a USAGE error. */
export function checkSessionOptions(options: SessionOptions): void {
  normalize(options);
}

/** The part of a key that names a model and how it runs, without the file stamps. */
export function sessionIdentity(path: string, options: SessionOptions): string {
  const o = normalize(options);
  return JSON.stringify([
    path,
    formatDevice(o.device),
    o.threads ?? 0,
    o.interOpThreads ?? 0,
    o.graphOptimization,
    o.fallback ?? null,
    o.providerLibraryDir ?? null,
  ]);
}

export function sessionKey(fingerprint: ModelFingerprint, options: SessionOptions): string {
  const stamps = [fingerprint.model, ...fingerprint.external].map((f) => [f.path, f.size, f.mtimeMs]);
  return `${sessionIdentity(fingerprint.path, options)}${JSON.stringify(stamps)}`;
}

/** onnxruntime-node's session options for ours and a provider list. */
export function ortSessionOptions(options: SessionOptions, providers?: ProviderConfig[]): InferenceSession.SessionOptions {
  const o = normalize(options);
  return {
    executionProviders: providers ?? executionProviders(o.device, o),
    graphOptimizationLevel: o.graphOptimization,
    ...(o.threads ? { intraOpNumThreads: o.threads } : {}),
    ...(o.interOpThreads ? { interOpNumThreads: o.interOpThreads } : {}),
    ...(o.interOpThreads !== undefined && o.interOpThreads > 1 ? { executionMode: 'parallel' as const } : {}),
  };
}

/**
 * Opens a session on a model file; `openFingerprinted` lets the cache reuse the stamps it already took. `bytes`,
 * when given, is the model to load instead of the file's own bytes (the file with extra outputs declared);
 * `externalData`, the external data names a caller already read from the model's summary (else they are scanned).
 */
export async function openSession(
  modelPath: string,
  options: SessionOptions = {},
  bytes?: Uint8Array,
  externalData?: readonly string[],
): Promise<OpenedSession> {
  normalize(options); // bad options fail before any file is touched
  return openFingerprinted(await fingerprintModel(modelPath, undefined, externalData), options, bytes);
}

export async function openFingerprinted(
  fingerprint: ModelFingerprint,
  options: SessionOptions,
  bytes?: Uint8Array,
): Promise<OpenedSession> {
  const o = normalize(options);
  const ort = await loadOrt();
  const started = performance.now();
  const attempt = (providers: ProviderConfig[]) =>
    bytes
      ? ort.InferenceSession.create(bytes, ortSessionOptions(o, providers))
      : ort.InferenceSession.create(fingerprint.path, ortSessionOptions(o, providers));
  const onCpu = () =>
    attempt(['cpu']).catch((err: unknown) => {
      throw modelLoadError(err, fingerprint.path, ort.env.versions.node);
    });

  let session: InferenceSession;
  let provider: OpenedSession['provider'] = o.device.kind;
  let fellBack: string | undefined;
  const fallBack = async (reason: string) => {
    fellBack = reason;
    provider = 'cpu';
    return onCpu();
  };
  if (o.device.kind === 'cpu') {
    session = await onCpu();
  } else {
    const availability = cudaAvailability(o.providerLibraryDir ? { providerLibraryDir: o.providerLibraryDir } : {});
    if (!availability.available) {
      const missing = cudaMissingError(o.device, availability);
      if (o.fallback !== 'cpu') throw missing;
      session = await fallBack(missing.message);
    } else {
      try {
        session = await attempt(executionProviders(o.device, o));
      } catch (err) {
        if (!isCudaSetupError(err)) throw modelLoadError(err, fingerprint.path, ort.env.versions.node);
        const failed = cudaLoadError(o.device, err);
        if (o.fallback !== 'cpu') throw failed;
        session = await fallBack(failed.message);
      }
    }
  }
  return {
    session,
    provider,
    ...(fellBack !== undefined ? { fellBack } : {}),
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    createMs: performance.now() - started,
    key: `${sessionKey(fingerprint, o)}${bytes ? `#${bytes.length}` : ''}`,
    bytes: fingerprint.bytes,
  };
}
