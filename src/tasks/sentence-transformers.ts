import { ModelctlError } from '../errors.js';

/**
 * What a sentence-transformers folder says about turning token vectors into one sentence vector, read from its
 * files the way sentence-transformers reads them, so that predict gives what `SentenceTransformer(folder).encode`
 * gives: modules.json (the modules in order: Transformer, Pooling, Normalize), the Pooling module's config.json
 * (its modes), sentence_bert_config.json (max_seq_length, do_lower_case) and config_sentence_transformers.json
 * (the default prompt). These files are embedded by embed-metadata (and export) under these same paths.
 */

export const POOLING_MODES = ['cls', 'max', 'mean', 'mean_sqrt_len_tokens', 'weightedmean', 'lasttoken'] as const;
export type PoolingMode = (typeof POOLING_MODES)[number];

/** The legacy booleans of 1_Pooling/config.json, in the order sentence-transformers concatenates their outputs. */
const LEGACY_KEYS: ReadonlyArray<[string, PoolingMode]> = [
  ['pooling_mode_cls_token', 'cls'],
  ['pooling_mode_max_tokens', 'max'],
  ['pooling_mode_mean_tokens', 'mean'],
  ['pooling_mode_mean_sqrt_len_tokens', 'mean_sqrt_len_tokens'],
  ['pooling_mode_weightedmean_tokens', 'weightedmean'],
  ['pooling_mode_lasttoken', 'lasttoken'],
];

export interface SentencePipeline {
  /** Pooling modes whose vectors are concatenated, in order. */
  pooling: PoolingMode[];
  /** A Normalize module follows the pooling. */
  normalize: boolean;
  /** sentence_bert_config.json's max_seq_length (or its processing_kwargs' max_length), when it says one. */
  maxSeqLength?: number;
  /** do_lower_case: texts are lowercased before tokenizing. */
  lowercase: boolean;
  /** The default prompt put before every text (config_sentence_transformers.json's default_prompt_name). */
  prompt?: string;
}

/** The sentence-transformers files, by path (embedded or beside the model); undefined for a file that is absent. */
export type JsonReader = (path: string) => Promise<unknown>;

/** The files of a sentence-transformers folder besides its modules' own configs. */
export const SENTENCE_TRANSFORMERS_FILES = ['modules.json', 'sentence_bert_config.json', 'config_sentence_transformers.json'] as const;

function record(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function refused(why: string): ModelctlError {
  return new ModelctlError('NOT_AVAILABLE', `cannot compute this sentence-transformers model's embeddings: ${why}`, {
    hint: 'predict follows modules.json with Transformer, Pooling and Normalize modules; run the model with --task raw for its token vectors',
  });
}

function isPoolingMode(value: unknown): value is PoolingMode {
  return typeof value === 'string' && (POOLING_MODES as readonly string[]).includes(value);
}

/** 1_Pooling/config.json: pooling_mode (a name or a list) beats the legacy booleans; none at all is mean. */
export function poolingModes(config: unknown): PoolingMode[] {
  const c = record(config);
  if (c.pooling_mode !== undefined) {
    const modes = Array.isArray(c.pooling_mode) ? c.pooling_mode : [c.pooling_mode];
    const bad = modes.find((m) => !isPoolingMode(m));
    if (bad !== undefined || modes.length === 0) throw refused(`unknown pooling mode ${JSON.stringify(bad ?? modes)}`);
    return modes as PoolingMode[];
  }
  const legacy = LEGACY_KEYS.filter(([key]) => c[key] === true).map(([, mode]) => mode);
  return legacy.length ? legacy : ['mean'];
}

function positiveInt(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}

/** The module's own path in the folder ("" for the root), refused when it could leave the folder. */
function modulePath(m: Record<string, unknown>): string {
  const path = typeof m.path === 'string' ? m.path.replace(/\\/g, '/').replace(/\/+$/, '') : '';
  if (path.startsWith('/') || path.split('/').includes('..')) throw refused(`module path ${JSON.stringify(m.path)} leaves the folder`);
  return path;
}

/**
 * The pipeline of a sentence-transformers model, or undefined when `read` finds none of its files (a plain
 * transformers encoder). Modules predict cannot run (Dense, a Normalize before the pooling, no pooling) are refused
 * rather than ignored: their output would differ from the model's.
 */
export async function readSentencePipeline(read: JsonReader): Promise<SentencePipeline | undefined> {
  const [modules, bert, st] = await Promise.all(SENTENCE_TRANSFORMERS_FILES.map((f) => read(f)));
  if (modules === undefined && bert === undefined && st === undefined) return undefined;
  let pooling: PoolingMode[] = ['mean'];
  let normalize = false;
  let includePrompt = true;
  if (modules !== undefined) {
    if (!Array.isArray(modules)) throw refused('modules.json is not a list of modules');
    const kinds = modules.map((m) => {
      const type = record(m).type;
      return typeof type === 'string' ? (type.split('.').at(-1) ?? type) : '?';
    });
    const shape = kinds.join(' -> ');
    if (!/^Transformer -> Pooling( -> Normalize)?$/.test(shape)) throw refused(`its modules are ${shape || 'none'}`);
    const config = await read(`${modulePath(record(modules[1]))}/config.json`.replace(/^\//, ''));
    pooling = poolingModes(config);
    includePrompt = record(config).include_prompt !== false;
    normalize = kinds.length === 3;
  }
  const b = record(bert);
  const kwargs = record(b.processing_kwargs);
  const maxSeqLength =
    positiveInt(b.max_seq_length) ?? positiveInt(record(kwargs.text).max_length) ?? positiveInt(record(kwargs.common).max_length);
  const s = record(st);
  const promptName = s.default_prompt_name;
  const prompt = typeof promptName === 'string' ? record(s.prompts)[promptName] : undefined;
  if (typeof promptName === 'string' && typeof prompt !== 'string')
    throw refused(`config_sentence_transformers.json names a default prompt ${JSON.stringify(promptName)} that it does not define`);
  if (prompt && !includePrompt) throw refused('its Pooling module leaves the default prompt out (include_prompt: false)');
  return {
    pooling,
    normalize,
    ...(maxSeqLength !== undefined ? { maxSeqLength } : {}),
    lowercase: b.do_lower_case === true,
    ...(typeof prompt === 'string' && prompt !== '' ? { prompt } : {}),
  };
}
