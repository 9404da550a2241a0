import { ModelctlError } from '../../errors.js';
import { REPO_TYPES } from '../../hub/hf-cache.js';
import { parseTimeout } from '../../hub/hub-settings.js';
import type { PullOptions } from '../../pull/pull.js';
import { choice, flag, list, text, value, wholeNumber, type CommandSpec } from '../declare.js';
import { registryLoginOptions, type RegistryLoginFlags } from './registry-login.js';

/** The library's options of the same names (--concurrency always set), --dry-run, --progress and --json. */
export interface PullFlags
  extends Pick<
      PullOptions,
      | 'revision'
      | 'include'
      | 'exclude'
      | 'name'
      | 'version'
      | 'endpoint'
      | 'token'
      | 'offline'
      | 'repoType'
      | 'localDir'
      | 'force'
      | 'hfCache'
      | 'forceDownload'
      | 'timeout'
    >,
    Required<Pick<PullOptions, 'concurrency'>>,
    RegistryLoginFlags {
  dryRun?: boolean;
  progress?: boolean;
  json?: boolean;
}

function concurrency(text: string, flag: string): number {
  const n = wholeNumber(flag, text, 1);
  if (n > 64) throw new ModelctlError('USAGE', `${flag} ${n} is too many`, { hint: 'use 1 to 64' });
  return n;
}

export const pullCommand: CommandSpec<PullFlags> = {
  name: 'pull',
  description:
    'download a model from the Hugging Face Hub, a URL, an OCI registry, an MLflow Model Registry or a folder into the registry, every file verified',
  arguments: [
    [
      '<source>',
      'hf:ORG/NAME[@REV] or ORG/NAME (the Hub), an https:// URL of a file, oci://HOST/REPO[:TAG|@sha256:...], mlflow://HOST:PORT/NAME@ALIAS or .../NAME/VERSION, or a path (./folder)',
    ],
    ['[files...]', 'Hub only: take exactly these files (paths in the repo), as `hf download REPO FILE...` does'],
  ],
  options: {
    revision: text('--revision <rev>', 'Hub branch, tag or commit (default: main)'),
    repoType: choice('--repo-type <type>', 'Hub repo type', REPO_TYPES, { default: 'model' }),
    include: list('--include <glob>', 'take only files matching (repeatable; replaces the default selection)'),
    exclude: list('--exclude <glob>', 'leave out files matching (repeatable)'),
    name: text('--name <name>', 'registry name (default: the repo id, or the file or folder name)'),
    version: text('--version <version>', "version (default: the commit's short sha for the Hub, else the next patch)"),
    localDir: text('--local-dir <dir>', "also write the version's files into this folder (exact paths, copies)"),
    force: flag('--force', 'with --local-dir: overwrite files there that hold other content'),
    hfCache: flag('--hf-cache', 'also write Hub files into the HF cache, for Python tools (also MODELCTL_HF_CACHE_WRITE=1)'),
    dryRun: flag('--dry-run', 'print the files, their sizes and what is already here; download and register nothing'),
    forceDownload: flag('--force-download', 'download every file again, even what the registry or the HF cache holds'),
    endpoint: text('--endpoint <url>', 'Hub endpoint (default: $HF_ENDPOINT, else https://huggingface.co)'),
    token: text('--token <token>', 'Hub token (default: $HF_TOKEN, else the token hf auth login saved); never printed or stored'),
    concurrency: value('--concurrency <n>', 'files downloaded at once', concurrency, { default: '4' }),
    timeout: value(
      '--timeout <seconds>',
      'a request that sends nothing for this long is stalled (default: $HF_HUB_DOWNLOAD_TIMEOUT, else 10)',
      parseTimeout,
    ),
    offline: flag('--offline', 'use only the registry and the HF cache (also HF_HUB_OFFLINE=1)'),
    ...registryLoginOptions,
    progress: flag('--progress', 'print progress on stderr even when it is not a terminal'),
    json: flag('--json', 'print JSON'),
  },
  examples: [
    'modelctl pull hf:sentence-transformers/all-MiniLM-L6-v2',
    'modelctl pull org/model config.json onnx/model.onnx      # exactly these files',
    'modelctl pull org/model --revision v1.0 --include "*.json" --include "onnx/model.onnx"',
    'modelctl pull hf:org/model --exclude "*.bin" --name my-model --concurrency 8',
    'modelctl pull org/model --local-dir ./model --hf-cache   # also a folder, and the HF cache',
    'modelctl pull org/dataset --repo-type dataset --dry-run',
    'HF_HUB_OFFLINE=1 modelctl pull hf:org/model    # from the registry or the HF cache only',
    'modelctl pull https://example.com/models/resnet18.onnx --name resnet18',
    'modelctl pull ./exported-folder --name org/exported',
    'modelctl pull mlflow://127.0.0.1:5000/iris@champion --name iris    # MLFLOW_TRACKING_TOKEN authenticates',
    'modelctl pull oci://localhost:5000/models/bert:1.0.0',
  ],
};
