import { flag, list, size, type CommandSpec } from '../declare.js';
import { registryLoginOptions, type RegistryLoginFlags } from './registry-login.js';

export interface PushFlags extends RegistryLoginFlags {
  mountFrom?: string[];
  chunkSize?: number;
  progress?: boolean;
  json?: boolean;
}

export const pushCommand: CommandSpec<PushFlags> = {
  name: 'push',
  description: 'push a registry version to a remote: an OCI registry as a CNCF ModelPack artifact (oci://)',
  arguments: [
    ['<ref>', 'name[:version|@alias] to push'],
    ['<target>', 'oci://HOST[:PORT]/REPO[:TAG] (the tag defaults to the version)'],
  ],
  options: {
    ...registryLoginOptions,
    mountFrom: list('--mount-from <repo>', 'another repository of the same registry to mount blobs from instead of uploading (repeatable)'),
    chunkSize: size('--chunk-size <size>', 'blobs larger than this are uploaded in chunks of this size (default 256MiB)'),
    progress: flag('--progress', 'print progress on stderr even when it is not a terminal'),
    json: flag('--json', 'print JSON'),
  },
  examples: [
    'modelctl push bert:1.0.0 oci://localhost:5000/models/bert:1.0.0',
    'echo "$TOKEN" | modelctl push bert@production oci://registry.example.com/team/bert:prod --username me --password-stdin',
    'modelctl push bert oci://registry.example.com/team/bert-small --mount-from team/bert',
  ],
};
