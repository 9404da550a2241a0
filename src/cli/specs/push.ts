import { flag, list, text, type CommandSpec } from '../declare.js';

export interface PushFlags {
  alias?: string[];
  experiment?: string;
  insecure?: boolean;
  progress?: boolean;
  json?: boolean;
}

export const pushCommand: CommandSpec<PushFlags> = {
  name: 'push',
  description: 'publish a registry version to a remote registry: a new model version in an MLflow Model Registry (mlflow://)',
  arguments: [
    ['<ref>', 'the version to push: name, name:version or name@alias'],
    ['<target>', 'mlflow://HOST:PORT/NAME (mlflow:///NAME: the server of MLFLOW_TRACKING_URI)'],
  ],
  options: {
    alias: list('--alias <alias>', 'point an MLflow alias at the new version (repeatable)'),
    experiment: text('--experiment <name>', 'MLflow experiment of the run that logs the model (default: modelctl; created if missing)'),
    insecure: flag('--insecure', 'allow plain http to a server that is not on loopback'),
    progress: flag('--progress', 'print progress on stderr even when it is not a terminal'),
    json: flag('--json', 'print JSON'),
  },
  examples: [
    'modelctl push iris:1.0.0 mlflow://127.0.0.1:5000/iris --alias champion',
    'MLFLOW_TRACKING_URI=https://mlflow.example.com MLFLOW_TRACKING_TOKEN=... modelctl push iris mlflow:///iris',
    'modelctl push iris@production mlflow://mlflow.internal:5000/iris --insecure --experiment iris-release',
  ],
};
