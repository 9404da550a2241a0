/**
 * A small YAML emitter for the documents modelctl writes (Kubernetes manifests): block mappings and sequences of
 * strings, numbers, booleans and null. Every string value is double-quoted with escapes, so that no text can turn
 * into another type ("no", "1e3", "null") or break the document (":", "#", newlines); keys are left plain only when
 * they are plainly words. Characters YAML does not allow in a stream (controls, lone surrogates, U+FFFE/U+FFFF,
 * the byte-order mark) are written as escapes.
 */

export type YamlValue = string | number | boolean | null | YamlValue[] | { [key: string]: YamlValue };

/**
 * Characters written as escapes: C0 and C1 controls, DEL, the Unicode line and paragraph separators (a reader folds
 * raw line breaks inside a quoted scalar), lone surrogates, the byte-order mark and the two non-characters.
 */
const NEEDS_ESCAPE = /[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff"\\]/u;
const SHORT_ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\t': '\\t', '\r': '\\r', '\0': '\\0' };

function hex(code: number, width: number): string {
  return code.toString(16).toUpperCase().padStart(width, '0');
}

/** A double-quoted YAML scalar that reads back as exactly `text`. */
export function quoteYaml(text: string): string {
  let out = '"';
  // Iterating a string walks code points: a surrogate pair comes as one character, a lone surrogate alone.
  for (const c of text) {
    if (!NEEDS_ESCAPE.test(c)) out += c;
    else if (SHORT_ESCAPES[c] !== undefined) out += SHORT_ESCAPES[c];
    else out += `\\u${hex(c.codePointAt(0) as number, 4)}`;
  }
  return `${out}"`;
}

/** Keys that YAML would read as another type, or that need quoting for their characters. */
const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_./-]*$/;
const SPECIAL_WORDS = /^(y|n|yes|no|on|off|true|false|null)$/i;

function yamlKey(key: string): string {
  return PLAIN_KEY.test(key) && !SPECIAL_WORDS.test(key) ? key : quoteYaml(key);
}

/** A number YAML 1.1 and 1.2 readers both take as the same float or integer ("1e+21" alone is a string in 1.1). */
function yamlNumber(n: number): string {
  if (Number.isNaN(n)) return '.nan';
  if (!Number.isFinite(n)) return n > 0 ? '.inf' : '-.inf';
  if (Number.isSafeInteger(n) && !Object.is(n, -0)) return String(n);
  const text = Object.is(n, -0) ? '-0.0' : String(n);
  if (text.includes('.')) return text;
  const e = text.indexOf('e');
  return e < 0 ? `${text}.0` : `${text.slice(0, e)}.0${text.slice(e)}`;
}

function scalar(value: string | number | boolean | null): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return yamlNumber(value);
  return quoteYaml(value);
}

const isEmptyCollection = (v: YamlValue): boolean =>
  (Array.isArray(v) && v.length === 0) || (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0);

const inline = (v: YamlValue): string | undefined => {
  if (v === null || typeof v !== 'object') return scalar(v);
  if (isEmptyCollection(v)) return Array.isArray(v) ? '[]' : '{}';
  return undefined;
};

const MAX_IMPLICIT_KEY = 1000;

function lines(value: YamlValue, indent: string): string[] {
  const single = inline(value);
  if (single !== undefined) return [`${indent}${single}`];
  if (Array.isArray(value)) {
    return value.flatMap((item) => {
      const text = inline(item);
      if (text !== undefined) return [`${indent}- ${text}`];
      const inner = lines(item, `${indent}  `);
      return [`${indent}- ${(inner[0] as string).trimStart()}`, ...inner.slice(1)];
    });
  }
  return Object.entries(value as Record<string, YamlValue>).flatMap(([key, item]) => {
    const text = inline(item);
    const k = yamlKey(key);
    // An implicit key is at most 1024 characters: a longer one is written as an explicit key ("? key").
    if (k.length > MAX_IMPLICIT_KEY) {
      return text !== undefined
        ? [`${indent}? ${k}`, `${indent}: ${text}`]
        : [`${indent}? ${k}`, `${indent}:`, ...lines(item, `${indent}  `)];
    }
    return text !== undefined ? [`${indent}${k}: ${text}`] : [`${indent}${k}:`, ...lines(item, `${indent}  `)];
  });
}

/** One YAML document (with its `---` start marker) for `value`. */
export function toYaml(value: YamlValue): string {
  return `---\n${lines(value, '').join('\n')}\n`;
}
