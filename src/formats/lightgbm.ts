import { singleFile, type FileContext, type FormatFacts } from './context.js';
import { MB, corrupt, decodeUtf8, readAt, withSource } from './io.js';
import { detectTaskFromObjective } from './task.js';
import type { Inspection } from './types.js';

/**
 * LightGBM's text model: "tree", then key=value header lines, then "Tree=0" and the trees. Only the header is
 * read, up to the first "Tree=" line; tree_sizes (one size per tree) gives the tree count without reading trees.
 */

/** The header of a model with very many features or trees is long (feature_infos, tree_sizes), but bounded. */
const MAX_HEADER = 16 * MB;
const MAX_FEATURE_NAMES = 1000;

export function looksLikeLightgbm(head: Uint8Array): boolean {
  const text = decodeUtf8(head.subarray(0, 256));
  return /^tree\r?\n/.test(text) && /\nversion=v\d/.test(text);
}

function headerLines(abs: string): { lines: Map<string, string>; complete: boolean } {
  return withSource(abs, (source) => {
    let bytes = Buffer.alloc(0);
    let end = -1;
    while (end < 0 && bytes.length < Math.min(MAX_HEADER, source.size)) {
      const chunk = readAt(source, bytes.length, Math.min(MB, MAX_HEADER - bytes.length));
      if (chunk.length === 0) break;
      // Search from just before the old end so a "\nTree=" split across reads is still found.
      const from = Math.max(0, bytes.length - 6);
      bytes = Buffer.concat([bytes, chunk]);
      end = bytes.indexOf('\nTree=', from);
    }
    const header = decodeUtf8(end >= 0 ? bytes.subarray(0, end) : bytes.subarray(0, bytes.lastIndexOf(0x0a) + 1));
    const lines = new Map<string, string>();
    for (const line of header.split(/\r?\n/)) {
      const eq = line.indexOf('=');
      if (eq > 0) lines.set(line.slice(0, eq), line.slice(eq + 1));
    }
    return { lines, complete: end >= 0 || bytes.length >= source.size };
  });
}

export function lightgbmFacts(abs: string, where: string): FormatFacts {
  const { lines, complete } = headerLines(abs);
  const version = lines.get('version');
  if (!version) throw corrupt(where, 'LightGBM model without a version= header line');
  const int = (key: string): number | undefined => {
    const v = lines.get(key);
    return v !== undefined && /^-?\d+$/.test(v.trim()) ? Number(v) : undefined;
  };
  const objective = lines.get('objective')?.trim();
  const features = lines.get('feature_names')?.trim().split(/\s+/).filter(Boolean) ?? [];
  const treeSizes = lines.get('tree_sizes')?.trim().split(/\s+/).filter(Boolean);
  const maxFeatureIdx = int('max_feature_idx');
  const perIteration = int('num_tree_per_iteration') ?? 1;
  const task = detectTaskFromObjective(objective, 'lightgbm');
  const warnings = complete ? [] : [`${where}: no "Tree=" line in the first ${MAX_HEADER / MB} MB; the header may be incomplete`];
  return {
    metadata: {
      version,
      ...(int('num_class') !== undefined ? { numClass: int('num_class') } : {}),
      ...(int('num_tree_per_iteration') !== undefined ? { numTreePerIteration: int('num_tree_per_iteration') } : {}),
      ...(int('label_index') !== undefined ? { labelIndex: int('label_index') } : {}),
      ...(maxFeatureIdx !== undefined ? { maxFeatureIdx, numFeature: maxFeatureIdx + 1 } : {}),
      ...(objective ? { objective } : {}),
      ...(features.length > 0 ? { featureNames: features.slice(0, MAX_FEATURE_NAMES) } : {}),
      ...(treeSizes ? { numTrees: treeSizes.length } : {}),
      ...(treeSizes && perIteration ? { numIterations: Math.floor(treeSizes.length / perIteration) } : {}),
    },
    ...(task ? { task } : {}),
    warnings,
  };
}

export function inspectLightgbm(ctx: FileContext): Inspection {
  return singleFile(ctx, 'lightgbm', lightgbmFacts(ctx.abs, ctx.display));
}
