import { ModelctlError } from '../../errors.js';
import { flag, int, text, type CommandSpec } from '../declare.js';

export type DeployTarget = 'triton' | 'kserve' | 'image';
export const DEPLOY_TARGETS: readonly DeployTarget[] = ['triton', 'kserve', 'image'];

export interface DeployFlags {
  out?: string;
  maxBatchSize?: number;
  storageUri?: string;
  image?: string;
  tag?: string;
  base?: string;
  force?: boolean;
  json?: boolean;
}

/** The target word, checked before anything loads. */
export function deployTarget(word: string): DeployTarget {
  const found = DEPLOY_TARGETS.find((t) => t === word);
  if (!found) {
    throw new ModelctlError('USAGE', `deploy takes a target (${DEPLOY_TARGETS.join(', ')}), got "${word}"`, {
      hint: 'e.g. modelctl deploy triton iris --out model_repository',
    });
  }
  return found;
}

export const deployCommand: CommandSpec<DeployFlags> = {
  name: 'deploy',
  description: 'write what a serving platform runs: a Triton model repository, a KServe InferenceService manifest, or an OCI image',
  arguments: [
    ['<target>', `where it will run: ${DEPLOY_TARGETS.join(', ')}`],
    ['<refs...>', 'registry versions (name, name:version, name@alias); triton takes several, numbered 1, 2, ... per model'],
  ],
  options: {
    out: text(
      '-o, --out <path>',
      'triton: the model repository folder (required); kserve: the manifest file (default: stdout); image: the archive (required)',
    ),
    maxBatchSize: int('--max-batch-size <n>', 'triton: max_batch_size when the first dimension is free (0: no batching; default 8)', 0),
    storageUri: text('--storage-uri <uri>', 'kserve: where the cluster fetches the ONNX artifact (oci://HOST/REPO:TAG for a modelcar)'),
    image: text('--image <image>', 'kserve: a container image holding modelctl and the model, run as `modelctl serve` on port 8080'),
    tag: text('--tag <tag>', "image: the tag in the archive's index (default: the version)"),
    base: text(
      '--base <ref>',
      'image: a base image with Node.js >= 20, oci:DIR[:TAG] or oci-archive:FILE[:TAG] (skopeo copy docker://node:20-slim oci-archive:node.tar)',
    ),
    force: flag('--force', 'replace an existing output with different content'),
    json: flag('--json', 'print JSON'),
  },
  examples: [
    'modelctl deploy triton iris:1.0.0 iris:1.1.0 org/bert --out model_repository',
    'modelctl deploy kserve iris --storage-uri oci://registry.example.com/models/iris:1.1.0 --out iris.yaml',
    'modelctl deploy kserve iris --image registry.example.com/modelctl-iris:1.1.0 | kubectl apply -f -',
    'modelctl deploy image iris --base oci-archive:node.tar --out iris.tar && skopeo copy oci-archive:iris.tar docker://registry.example.com/modelctl-iris:1.1.0',
  ],
};
