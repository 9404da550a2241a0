import { duration, flag, int, size, type CommandSpec } from '../declare.js';

export interface GcFlags {
  /** Bytes. */
  maxSize?: number;
  maxModels?: number;
  olderThanMs?: number;
  keepAliased: boolean;
  graceMs?: number;
  dryRun?: boolean;
  json?: boolean;
}

export const gcCommand: CommandSpec<GcFlags> = {
  name: 'gc',
  description: 'evict least-recently-used versions and remove unreferenced blobs and stale temporary files',
  options: {
    maxSize: size('--max-size <size>', 'evict versions until the registry fits, e.g. 20GB'),
    maxModels: int('--max-models <n>', 'keep at most this many model versions', 0),
    olderThanMs: duration('--older-than <duration>', 'evict versions unused for this long, e.g. 30d'),
    keepAliased: flag('--keep-aliased', 'never evict a version an alias (other than latest) points at', {
      default: true,
      negation: 'let aliased versions be evicted too',
    }),
    graceMs: duration('--grace <duration>', 'leave temporary files younger than this (default 1h)'),
    dryRun: flag('--dry-run', 'show what would be removed, remove nothing'),
    json: flag('--json', 'print JSON'),
  },
  examples: ['modelctl gc', 'modelctl gc --max-size 20GB --older-than 30d --dry-run'],
};
