import type { Manifest } from '../registry/manifest.js';
import { TOOL } from '../version.js';

/**
 * A version's lineage as MLflow tags (modelctl.*), on the run and on the model version: which registry version
 * was pushed, its manifest digest, its files and where it came from. Pull reads them back into the lineage of
 * the version it registers and keeps them out of the version's own tags.
 */

export const LINEAGE_PREFIX = 'modelctl.';
/** MLflow's limit on a model version tag's value. */
const MAX_VALUE = 5000;

export function lineageTags(m: Manifest): Record<string, string> {
  const tags: Record<string, string> = {
    'modelctl.ref': `${m.name}:${m.version}`,
    'modelctl.digest': m.digest,
    'modelctl.format': m.format,
    'modelctl.operation': m.lineage.operation,
    'modelctl.tool': TOOL,
  };
  if (m.task) tags['modelctl.task'] = m.task;
  if (m.lineage.parent) tags['modelctl.parent'] = m.lineage.parent;
  const optional: Record<string, string> = {
    'modelctl.source': JSON.stringify(m.lineage.source ?? {}),
    'modelctl.files': JSON.stringify(m.files.map((f) => ({ path: f.path, sha256: f.sha256, size: f.size }))),
  };
  // Too long for MLflow (a model of thousands of files): left out rather than cut into invalid JSON.
  for (const [k, v] of Object.entries(optional)) if (v.length <= MAX_VALUE) tags[k] = v;
  return tags;
}

/** MLflow's tags split into the version's own (neither modelctl.* nor MLflow's mlflow.*) and the modelctl.* ones. */
export function splitTags(tags: Array<{ key: string; value: string }> | undefined): {
  own: Record<string, string>;
  lineage: Record<string, string>;
} {
  const own: Record<string, string> = {};
  const lineage: Record<string, string> = {};
  for (const { key, value } of tags ?? []) {
    if (key.startsWith(LINEAGE_PREFIX)) lineage[key] = value;
    else if (!key.startsWith('mlflow.')) own[key] = value;
  }
  return { own, lineage };
}
