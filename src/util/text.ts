import { ModelctlError } from '../errors.js';

/**
 * Text and JSON as users and model folders give them: strict UTF-8 (a file in another encoding is refused rather
 * than read as replacement characters), a leading BOM dropped, and one-line errors that name where the text came
 * from. Shared by the input room (src/inputs), predict's model files and bench.
 */

export const UTF8_HINT = 'convert it to UTF-8 first, e.g. iconv -f LATIN1 -t UTF-8';

const BOM = '\uFEFF';

export function stripBom(text: string): string {
  return text.startsWith(BOM) ? text.slice(1) : text;
}

const strict = new TextDecoder('utf-8', { fatal: true });

/** Bytes as UTF-8 text, a leading BOM dropped; bytes that are not UTF-8 are an INVALID_INPUT error naming `where`. */
export function utf8Text(bytes: Uint8Array, where: string): string {
  try {
    return stripBom(strict.decode(bytes));
  } catch (err) {
    throw new ModelctlError('INVALID_INPUT', `${where} is not UTF-8 text`, { hint: UTF8_HINT, cause: err });
  }
}

/** The error for text that JSON.parse refused. */
export function notJson(where: string, err: unknown): ModelctlError {
  return new ModelctlError('INVALID_INPUT', `${where} is not valid JSON (${(err as Error).message.split('\n')[0]})`);
}

export function parseJsonText(text: string, where: string): unknown {
  try {
    return JSON.parse(stripBom(text));
  } catch (err) {
    throw notJson(where, err);
  }
}

/** Parses JSON if the text is one JSON value, else undefined (the caller decides what else it may be). */
export function tryJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return undefined;
  }
}
