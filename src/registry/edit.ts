import { ModelctlError } from '../errors.js';
import { withLock, type LockOptions } from './lock.js';
import { manifestProblems, sealManifest, type Manifest, type ManifestEdit } from './manifest.js';
import type { ModelRef } from './names.js';
import { checkMetadataKeys } from './metadata-keys.js';
import type { Store } from './store.js';

/** What `modelctl set` changes on an existing version: its tags, metrics and description (never its files). */
export interface EditOptions {
  /** Tags to add or change. */
  tags?: Record<string, string>;
  /** Tag keys to remove. */
  untag?: string[];
  /** Metrics to add or change. */
  metrics?: Record<string, number>;
  /** Metric keys to remove. */
  unmetric?: string[];
  /** A new description; null removes it. */
  description?: string | null;
}

export interface EditResult {
  manifest: Manifest;
  /** False when the version already said all this: nothing was written. */
  changed: boolean;
  /** The digest the version had before (equal to manifest.digest when nothing changed). */
  previousDigest: string;
}

function checkEdit(e: EditOptions): void {
  checkMetadataKeys({ ...(e.tags ? { tags: e.tags } : {}), ...(e.metrics ? { metrics: e.metrics } : {}) });
  for (const [kind, set, unset] of [
    ['tag', e.tags, e.untag],
    ['metric', e.metrics, e.unmetric],
  ] as const) {
    const both = (unset ?? []).filter((k) => Object.hasOwn(set ?? {}, k));
    if (both.length > 0)
      throw new ModelctlError('USAGE', `${kind} ${both[0]} is both set and removed`, {
        hint: `give --${kind} or --un${kind} for it, not both`,
      });
  }
  const nothing =
    Object.keys(e.tags ?? {}).length + Object.keys(e.metrics ?? {}).length + (e.untag?.length ?? 0) + (e.unmetric?.length ?? 0) === 0 &&
    e.description === undefined;
  if (nothing)
    throw new ModelctlError('USAGE', 'nothing to change', {
      hint: 'give --tag k=v, --untag k, --metric k=v, --unmetric k, --description TEXT or --no-description',
    });
}

function without<T>(record: Record<string, T>, keys: string[] | undefined): Record<string, T> {
  const out = { ...record };
  for (const k of keys ?? []) delete out[k];
  return out;
}

function sameRecord(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

/**
 * Changes the tags, metrics or description of an existing version. Manifests stay sealed: under the registry lock
 * the version gets a new sealed manifest (same files, name, version, lineage and creation time) that replaces the
 * old one atomically (a reader sees one or the other), and whose `history` keeps what every earlier state said
 * (its digest, tags, metrics and description, and when it was replaced).
 */
export async function editVersion(
  store: Store,
  target: Extract<ModelRef, { kind: 'registry' }>,
  edit: EditOptions,
  options: { clock: () => Date; lock: LockOptions },
): Promise<EditResult> {
  checkEdit(edit);
  return withLock(
    store.layout,
    async () => {
      const old = await store.resolve(target);
      const tags = { ...without(old.tags, edit.untag), ...edit.tags };
      const metrics = { ...without(old.metrics, edit.unmetric), ...edit.metrics };
      const description = edit.description === undefined ? old.description : (edit.description ?? undefined);
      if (sameRecord(tags, old.tags) && sameRecord(metrics, old.metrics) && description === old.description) {
        return { manifest: old, changed: false, previousDigest: old.digest };
      }
      const { digest: _previous, history = [], description: _d, ...rest } = old;
      const was: ManifestEdit = {
        digest: old.digest,
        replacedAt: options.clock().toISOString(),
        tags: old.tags,
        metrics: old.metrics,
        ...(old.description !== undefined ? { description: old.description } : {}),
      };
      const manifest = sealManifest({
        ...rest,
        tags,
        metrics,
        ...(description !== undefined ? { description } : {}),
        history: [...history, was],
      });
      const problems = manifestProblems(manifest);
      if (problems.length > 0) throw new ModelctlError('INVALID_INPUT', `cannot store this change: the manifest ${problems.join('; ')}`);
      await store.replaceManifest(manifest);
      return { manifest, changed: true, previousDigest: old.digest };
    },
    { purpose: `set ${target.name}`, ...options.lock },
  );
}
