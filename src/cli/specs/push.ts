import { flag, list, size, text, type CommandSpec } from '../declare.js';
import { registryLoginOptions, type RegistryLoginFlags } from './registry-login.js';

/** OCI's flags (login, --mount-from, --chunk-size) and MLflow's (--alias, --experiment); --insecure serves both. */
export interface PushFlags extends RegistryLoginFlags {
  mountFrom?: string[];
  chunkSize?: number;
  alias?: string[];
  experiment?: string;
  progress?: boolean;
  json?: boolean;
}

export const pushCommand: CommandSpec<PushFlags> = {
  name: 'push',
  description:
    'push a registry version to a remote: an OCI registry as a CNCF ModelPack artifact (oci://) or a new model version in an MLflow Model Registry (mlflow://)',
  arguments: [
    ['<ref>', 'name[:version|@alias] to push'],
    [
      '<target>',
      'oci://HOST[:PORT]/REPO[:TAG] (the tag defaults to the version), or mlflow://HOST:PORT/NAME (mlflow:///NAME: the server of MLFLOW_TRACKING_URI)',
    ],
  ],
  options: {
    ...registryLoginOptions,
    insecure: flag('--insecure', 'plain HTTP to a registry or MLflow server that is not on loopback (loopback always uses HTTP)'),
    mountFrom: list(
      '--mount-from <repo>',
      'oci: another repository of the same registry to mount blobs from instead of uploading (repeatable)',
    ),
    chunkSize: size('--chunk-size <size>', 'oci: blobs larger than this are uploaded in chunks of this size (default 256MiB)'),
    alias: list('--alias <alias>', 'mlflow: point an MLflow alias at the new version (repeatable)'),
    experiment: text('--experiment <name>', 'mlflow: experiment of the run that logs the model (default: modelctl; created if missing)'),
    progress: flag('--progress', 'print progress on stderr even when it is not a terminal'),
    json: flag('--json', 'print JSON'),
  },
  examples: [
    'modelctl push bert:1.0.0 oci://localhost:5000/models/bert:1.0.0',
    'echo "$TOKEN" | modelctl push bert@production oci://registry.example.com/team/bert:prod --username me --password-stdin',
    'modelctl push bert oci://registry.example.com/team/bert-small --mount-from team/bert',
    'modelctl push iris:1.0.0 mlflow://127.0.0.1:5000/iris --alias champion',
    'MLFLOW_TRACKING_URI=https://mlflow.example.com MLFLOW_TRACKING_TOKEN=... modelctl push iris mlflow:///iris',
  ],
};
