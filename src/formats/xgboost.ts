import { singleFile, type FileContext, type FormatFacts } from './context.js';
import { Cursor, EndOfData, MB, corrupt, decodeUtf8, isRecord, readAt, tryParseJson, withSource } from './io.js';
import { detectTaskFromObjective } from './task.js';
import type { Inspection } from './types.js';
import { SkippedArray, UbjsonError, decodeUbjson, firstUbjsonKey } from './ubjson.js';

/**
 * XGBoost's own model files (save_model to .json or .ubj). Both hold one document {learner, version}; JSON is
 * parsed whole only below a size bound, larger files are read at the head (feature names, tree count) and tail
 * (learner parameters, objective, version), which is where XGBoost writes those keys.
 */

const MAX_JSON_PARSE = 64 * MB;
const SCAN_BYTES = 4 * MB;
const MAX_FEATURE_NAMES = 1000;

export function looksLikeXgboostJson(head: Uint8Array): boolean {
  const text = decodeUtf8(head.subarray(0, 4096)).trimStart();
  return text.startsWith('{') && /^\{\s*"learner"\s*:/.test(text);
}

export function looksLikeXgboostUbj(head: Uint8Array): boolean {
  const key = firstUbjsonKey(head);
  return key === 'learner' || key === 'version';
}

function str(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}

function num(value: unknown): number | undefined {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

function length(value: unknown): number | undefined {
  if (Array.isArray(value)) return value.length;
  return value instanceof SkippedArray ? value.length : undefined;
}

function documentFacts(doc: unknown, where: string): FormatFacts {
  if (!isRecord(doc) || !isRecord(doc.learner)) throw corrupt(where, 'XGBoost model without a "learner" object');
  const learner = doc.learner;
  const param = isRecord(learner.learner_model_param) ? learner.learner_model_param : {};
  const objective = isRecord(learner.objective) ? str(learner.objective.name) : undefined;
  const booster = isRecord(learner.gradient_booster) ? learner.gradient_booster : {};
  const boosterName = str(booster.name);
  // dart wraps a gbtree: {name: "dart", gbtree: {model: ...}}.
  const model = boosterName === 'dart' && isRecord(booster.gbtree) ? booster.gbtree.model : booster.model;
  const treeParam = isRecord(model) && isRecord(model.gbtree_model_param) ? model.gbtree_model_param : {};
  const numTrees = num(treeParam.num_trees) ?? (isRecord(model) ? length(model.trees) : undefined);
  // iteration_indptr has one boundary per boosting round plus the leading 0.
  const indptr = isRecord(model) ? length(model.iteration_indptr) : undefined;
  const names = Array.isArray(learner.feature_names) ? learner.feature_names.filter((n): n is string => typeof n === 'string') : [];
  const attributes = isRecord(learner.attributes) ? learner.attributes : {};
  const version = Array.isArray(doc.version) ? doc.version.map(String).join('.') : undefined;
  const task = detectTaskFromObjective(objective, 'xgboost');
  return {
    metadata: {
      ...(version ? { version } : {}),
      ...(num(param.num_feature) !== undefined ? { numFeature: num(param.num_feature) } : {}),
      ...(num(param.num_class) !== undefined ? { numClass: num(param.num_class) } : {}),
      ...(num(param.num_target) !== undefined ? { numTarget: num(param.num_target) } : {}),
      ...(str(param.base_score) ? { baseScore: str(param.base_score) } : {}),
      ...(objective ? { objective } : {}),
      ...(boosterName ? { booster: boosterName } : {}),
      ...(numTrees !== undefined ? { numTrees } : {}),
      ...(indptr !== undefined && indptr > 0 ? { numBoostedRounds: indptr - 1 } : {}),
      ...(names.length > 0 ? { featureNames: names.slice(0, MAX_FEATURE_NAMES) } : {}),
      ...(Object.keys(attributes).length > 0 ? { attributes: Object.keys(attributes) } : {}),
      ...(str(attributes.best_iteration) ? { bestIteration: num(attributes.best_iteration) } : {}),
    },
    ...(task ? { task } : {}),
  };
}

/** Head and tail of a JSON model too large to parse: the same facts, found by pattern. */
function scannedFacts(head: string, tail: string, where: string, limit: number): FormatFacts {
  const pick = (text: string, re: RegExp): string | undefined => re.exec(text)?.[1];
  const version = /"version"\s*:\s*\[\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\]/.exec(tail);
  const featureList = pick(head, /"feature_names"\s*:\s*(\[[^\]]*\])/);
  const doc = {
    learner: {
      feature_names: featureList ? tryParseJson(featureList) : undefined,
      // Trees carry their own num_feature; only the learner's parameter object is trusted.
      learner_model_param: tryParseJson(pick(tail, /"learner_model_param"\s*:\s*(\{[^{}]*\})/) ?? '{}'),
      objective: { name: pick(tail, /"objective"\s*:\s*\{[^{}]*?"name"\s*:\s*"([^"]+)"/) },
      gradient_booster: {
        name: pick(tail, /"name"\s*:\s*"(gbtree|dart|gblinear)"/),
        model: { gbtree_model_param: { num_trees: pick(head, /"num_trees"\s*:\s*"(\d+)"/) } },
      },
    },
    ...(version ? { version: version.slice(1).map(Number) } : {}),
  };
  const facts = documentFacts(doc, where);
  return {
    ...facts,
    warnings: [
      `${where} is larger than ${limit >= MB ? `${limit / MB} MB` : `${limit} bytes`}: its facts were read from its start and end, not parsed`,
    ],
  };
}

/** `parseLimit` is the largest file parsed whole; larger ones are scanned at both ends. */
export function xgboostJsonFacts(abs: string, where: string, parseLimit = MAX_JSON_PARSE): FormatFacts {
  return withSource(abs, (source) => {
    if (source.size <= parseLimit) {
      const doc = tryParseJson(decodeUtf8(readAt(source, 0, source.size)));
      if (doc === undefined) throw corrupt(where, 'XGBoost JSON model does not parse (truncated?)');
      return documentFacts(doc, where);
    }
    const head = decodeUtf8(readAt(source, 0, SCAN_BYTES));
    const tail = decodeUtf8(readAt(source, Math.max(0, source.size - SCAN_BYTES), SCAN_BYTES));
    return scannedFacts(head, tail, where, parseLimit);
  });
}

export function xgboostUbjFacts(abs: string, where: string): FormatFacts {
  return withSource(abs, (source) => {
    try {
      return documentFacts(decodeUbjson(new Cursor(source)), where);
    } catch (err) {
      if (err instanceof UbjsonError || err instanceof EndOfData) throw corrupt(where, `XGBoost UBJSON model is damaged: ${err.message}`);
      throw err;
    }
  });
}

export function inspectXgboost(ctx: FileContext, encoding: 'json' | 'ubj'): Inspection {
  const facts = encoding === 'json' ? xgboostJsonFacts(ctx.abs, ctx.display) : xgboostUbjFacts(ctx.abs, ctx.display);
  return singleFile(ctx, 'xgboost', { ...facts, metadata: { encoding, ...facts.metadata } });
}
