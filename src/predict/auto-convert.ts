import { FORMAT_FRAMEWORK } from '../convert/families.js';
import { ModelctlError } from '../errors.js';
import type { Registry } from '../registry/index.js';
import type { Manifest } from '../registry/manifest.js';
import type { AutoConvert } from './types.js';

/**
 * predict, bench and serve on a registered model that is not ONNX (a transformers folder, a pickle, a Keras file...):
 * the ONNX version exported from it before is used, else it is exported now with the managed converter, as
 * `modelctl export NAME:VERSION` does (validated, registered as a new version of the same name whose lineage names
 * this one), and that version runs. `convert: false` refuses instead (the options: AutoConvert in types.ts).
 */

/** How a converted version names its parent: `export` of exactly this manifest, with no options that change it. */
function exportedFrom(candidate: Manifest, source: Manifest): boolean {
  const l = candidate.lineage as Manifest['lineage'] & { options?: Record<string, unknown> };
  const from = l.source as { kind?: unknown; digest?: unknown } | undefined;
  const o = l.options ?? {};
  return (
    candidate.format === 'onnx' &&
    l.operation === 'export' &&
    l.parent === `${source.name}:${source.version}` &&
    from?.kind === 'registry' &&
    // An export of an earlier state of the version (before `modelctl set` edited its tags or metrics) is still its export.
    (from.digest === source.digest || (source.history ?? []).some((h) => h.digest === from.digest)) &&
    o.validate !== false &&
    o.optimize === undefined &&
    o.quantize === undefined &&
    o.task === undefined &&
    o.opset === undefined
  );
}

/** The newest plain export of `source` in the registry, if any. */
export async function findConverted(registry: Registry, source: Manifest): Promise<Manifest | undefined> {
  const { manifests } = await registry.store.manifests(source.name);
  return manifests
    .filter((m) => exportedFrom(m, source))
    .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0))
    .at(-1);
}

/** The ONNX version to run for a non-ONNX registry version: reused, or exported now (see AutoConvert). */
export async function convertedVersion(
  registry: Registry,
  source: Manifest,
  options: AutoConvert = {},
): Promise<{ manifest: Manifest; reused: boolean }> {
  const from = `${source.name}:${source.version}`;
  if (options.convert === false) {
    throw new ModelctlError('INVALID_INPUT', `${from} is a ${source.format} model and --no-convert was given; ONNX Runtime runs ONNX`, {
      hint: `convert it once: \`modelctl export ${from}\` (or leave out --no-convert to do it now)`,
    });
  }
  if (!Object.hasOwn(FORMAT_FRAMEWORK, source.format)) {
    throw new ModelctlError(
      'INVALID_INPUT',
      `${from} is a ${source.format} model; predict runs ONNX and cannot tell how to convert this one`,
      {
        hint: `convert it with \`modelctl export ${from} --framework ...\`, then run the export`,
      },
    );
  }
  const reused = await findConverted(registry, source);
  if (reused) {
    options.onProgress?.({ type: 'convert-reused', from, to: `${reused.name}:${reused.version}` });
    return { manifest: reused, reused: true };
  }
  options.onProgress?.({ type: 'convert-start', from });
  const { exportModel } = await import('../export/export.js');
  const result = await exportModel({
    source: from,
    registry,
    ...(options.python ? { python: options.python } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    onProgress: (event) => options.onProgress?.({ type: 'export', event }),
  });
  const to = `${result.manifest.name}:${result.manifest.version}`;
  options.onProgress?.({ type: 'convert-done', from, to });
  return { manifest: result.manifest, reused: false };
}
