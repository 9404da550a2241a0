import { ModelctlError } from '../../errors.js';
import type { PullOptions } from '../../pull/pull.js';
import { flag, list, text, value, wholeNumber, type CommandSpec } from '../declare.js';
import { registryLoginOptions, type RegistryLoginFlags } from './registry-login.js';

/** The library's options of the same names (--concurrency always set), --progress and --json. */
export interface PullFlags
  extends Pick<PullOptions, 'revision' | 'include' | 'exclude' | 'name' | 'version' | 'endpoint' | 'token' | 'offline'>,
    Required<Pick<PullOptions, 'concurrency'>>,
    RegistryLoginFlags {
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
  description: 'download a model from the Hugging Face Hub, a URL, an OCI registry or a folder into the registry, every file verified',
  arguments: [
    [
      '<source>',
      'hf:ORG/NAME[@REV] or ORG/NAME (the Hub), an https:// URL of a file, oci://HOST/REPO[:TAG|@sha256:...], or a path (./folder)',
    ],
  ],
  options: {
    revision: text('--revision <rev>', 'Hub branch, tag or commit (default: main)'),
    include: list('--include <glob>', 'take only files matching (repeatable; replaces the default selection)'),
    exclude: list('--exclude <glob>', 'leave out files matching (repeatable)'),
    name: text('--name <name>', 'registry name (default: the repo id, or the file or folder name)'),
    version: text('--version <version>', "version (default: the commit's short sha for the Hub, else the next patch)"),
    endpoint: text('--endpoint <url>', 'Hub endpoint (default: $HF_ENDPOINT, else https://huggingface.co)'),
    token: text('--token <token>', 'Hub token (default: $HF_TOKEN, else the token hf auth login saved); never printed or stored'),
    concurrency: value('--concurrency <n>', 'files downloaded at once', concurrency, { default: '4' }),
    offline: flag('--offline', 'use only the registry and the HF cache (also HF_HUB_OFFLINE=1)'),
    ...registryLoginOptions,
    progress: flag('--progress', 'print progress on stderr even when it is not a terminal'),
    json: flag('--json', 'print JSON'),
  },
  examples: [
    'modelctl pull hf:sentence-transformers/all-MiniLM-L6-v2',
    'modelctl pull org/model --revision v1.0 --include "*.json" --include "onnx/model.onnx"',
    'modelctl pull hf:org/model --exclude "*.bin" --name my-model --concurrency 8',
    'HF_HUB_OFFLINE=1 modelctl pull hf:org/model    # from the registry or the HF cache only',
    'modelctl pull https://example.com/models/resnet18.onnx --name resnet18',
    'modelctl pull ./exported-folder --name org/exported',
    'modelctl pull oci://localhost:5000/models/bert:1.0.0',
  ],
};
