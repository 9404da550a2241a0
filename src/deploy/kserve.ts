import { ModelctlError } from '../errors.js';
import type { Registry } from '../registry/index.js';
import { toYaml, type YamlValue } from '../util/yaml.js';
import { resolveOnnxVersion } from './onnx-version.js';
import { writeOutput, type WriteOutcome } from './output.js';

/**
 * `deploy kserve`: a KServe InferenceService manifest (serving.kserve.io/v1beta1) for one registry version, served
 * over the Open Inference Protocol (v2). With a storage URI (an OCI artifact: KServe's modelcar, or any URI its
 * storage initializer reads) the predictor is the cluster's ONNX runtime over that artifact; without one it is a
 * container running `modelctl serve` from the given image, on port 8080.
 */

export interface KserveOptions {
  storageUri?: string;
  image?: string;
  /** Write here instead of returning the text only. */
  out?: string;
  force?: boolean;
  signal?: AbortSignal;
}

export interface KserveResult {
  /** The InferenceService's metadata.name. */
  name: string;
  ref: string;
  mode: 'storage' | 'container';
  yaml: string;
  out?: string;
  outcome?: WriteOutcome;
}

export const SERVE_PORT = 8080;
/** KServe's own limit on an InferenceService name (its generated host names add to it). */
const MAX_SERVICE_NAME = 45;

/** A registry name as a Kubernetes (DNS-1035) name: lowercase letters, digits and '-', starting with a letter. */
export function serviceName(registryName: string): string {
  let name = registryName
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (!/^[a-z]/.test(name)) name = `m-${name}`;
  return name.slice(0, MAX_SERVICE_NAME).replace(/-+$/, '');
}

function checkStorageUri(uri: string): void {
  if (!/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(uri)) {
    throw new ModelctlError('USAGE', `--storage-uri "${uri}" is not a URI`, {
      hint: 'give a URI KServe can fetch, e.g. oci://registry.example.com/models/iris:1.0.0',
    });
  }
}

export function inferenceService(
  v: { name: string; ref: string; digest: string },
  target: { storageUri: string } | { image: string },
): YamlValue {
  const format = { modelFormat: { name: 'onnx' }, protocolVersion: 'v2' };
  const model: YamlValue =
    'storageUri' in target
      ? { ...format, storageUri: target.storageUri }
      : {
          ...format,
          name: 'kserve-container',
          image: target.image,
          command: ['modelctl', 'serve', '--host', '0.0.0.0', '--port', String(SERVE_PORT)],
          ports: [{ containerPort: SERVE_PORT, protocol: 'TCP' }],
          readinessProbe: { httpGet: { path: '/v2/health/ready', port: SERVE_PORT } },
        };
  return {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: {
      name: v.name,
      annotations: { 'modelctl.dev/model': v.ref, 'modelctl.dev/manifest-digest': v.digest },
    },
    spec: { predictor: { model } },
  };
}

export async function deployKserve(registry: Registry, ref: string, options: KserveOptions): Promise<KserveResult> {
  if (options.storageUri !== undefined && options.image !== undefined) {
    throw new ModelctlError('USAGE', '--storage-uri and --image are two ways to deploy; give one', {
      hint: '--storage-uri: the cluster runs the ONNX artifact; --image: a container runs `modelctl serve`',
    });
  }
  if (options.storageUri === undefined && options.image === undefined) {
    throw new ModelctlError('USAGE', 'deploy kserve needs --storage-uri or --image', {
      hint: 'e.g. --storage-uri oci://HOST/REPO:TAG (after `modelctl push`), or --image IMG holding modelctl and the model',
    });
  }
  if (options.storageUri !== undefined) checkStorageUri(options.storageUri);
  const version = await resolveOnnxVersion(registry, ref, 'KServe', options.signal);
  const name = serviceName(version.manifest.name);
  const target = options.storageUri !== undefined ? { storageUri: options.storageUri } : { image: options.image as string };
  const yaml = toYaml(inferenceService({ name, ref: version.ref, digest: version.manifest.digest }, target));
  const result: KserveResult = { name, ref: version.ref, mode: 'storageUri' in target ? 'storage' : 'container', yaml };
  if (options.out === undefined) return result;
  const outcome = await writeOutput(options.out, [{ relPath: '', text: yaml }], {
    single: true,
    force: options.force === true,
    what: 'manifest',
  });
  return { ...result, out: options.out, outcome };
}
