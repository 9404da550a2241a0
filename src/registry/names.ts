import { ModelctlError } from '../errors.js';
import { isSemver } from './semver.js';

/**
 * Names follow Hugging Face repo ids (`org/name` or `name`): the same characters, and the same two rules that keep
 * them safe as folder names, no "--" and no "..". Because "--" never occurs in a name, "org/name" is stored on
 * disk as "org--name" without any chance of two names meeting in one folder.
 */
const NAME_PART = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?$/;
const VERSION = /^[A-Za-z0-9](?:[A-Za-z0-9._+-]{0,126}[A-Za-z0-9])?$/;
const ALIAS = /^[A-Za-z][A-Za-z0-9._-]{0,62}$/;

const NAME_HINT = 'use a Hub-style name such as "my-model" or "org/my-model": letters, digits, ".", "_" and "-", without "--" or ".."';

function printable(text: string): string {
  return JSON.stringify(text);
}

export function isVersion(version: string): boolean {
  return VERSION.test(version) && !version.includes('..');
}

export function isAlias(alias: string): boolean {
  return ALIAS.test(alias);
}

export function checkName(name: string): string {
  const parts = name.split('/');
  const ok = parts.length <= 2 && parts.every((p) => NAME_PART.test(p)) && !name.includes('--') && !name.includes('..');
  if (!ok) {
    throw new ModelctlError('INVALID_NAME', `invalid model name ${printable(name)}`, { hint: NAME_HINT });
  }
  return name;
}

/**
 * Device names Windows reserves as file and folder names, in any case and with any extension ("aux.txt" is AUX).
 * A model name is a folder and a version a file name in the registry, so a new one may not be one of them, even on
 * systems that allow it: a registry must stay copyable to any of them. Names read back are not checked, so a model
 * registered before this rule stays readable and removable.
 */
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\.|$)/i;

function checkNotReserved(what: string, text: string, segments: string[]): void {
  const reserved = segments.find((s) => WINDOWS_RESERVED.test(s));
  if (reserved === undefined) return;
  const device = (reserved.split('.')[0] as string).toUpperCase();
  throw new ModelctlError(
    'INVALID_NAME',
    `${what} ${printable(text)} is reserved on Windows (${device} is a device name there, with any extension)`,
    {
      hint: `choose another ${what}: CON, PRN, AUX, NUL, COM0-COM9 and LPT0-LPT9 cannot name a file or folder on Windows, so the registry refuses them`,
    },
  );
}

/** A name for a model being created: checkName, and not reserved on Windows in any of its segments. */
export function checkNewName(name: string): string {
  checkName(name);
  checkNotReserved('model name', name, name.split('/'));
  return name;
}

/** A version being created: checkVersion, and not reserved on Windows (it is the manifest's file name). */
export function checkNewVersion(version: string): string {
  checkVersion(version);
  checkNotReserved('version', version, [version]);
  return version;
}

export function checkVersion(version: string): string {
  if (!isVersion(version)) {
    throw new ModelctlError('INVALID_NAME', `invalid version ${printable(version)}`, {
      hint: 'use a version such as 1.2.0 or a short commit id: letters, digits, ".", "_", "+" and "-"',
    });
  }
  return version;
}

/**
 * A version a user gives (--version): semantic versioning, so that `latest` (the highest version) is well defined.
 * The only other versions modelctl makes itself are Hub commit ids (a pull's default); versions registered before
 * this rule stay readable.
 */
export function checkSemverVersion(version: string): string {
  checkNewVersion(version);
  if (!isSemver(version)) {
    throw new ModelctlError('INVALID_NAME', `version ${printable(version)} is not a semantic version`, {
      hint: `write MAJOR.MINOR.PATCH with an optional -prerelease, e.g. ${suggestSemver(version)} (latest is the highest version by semver precedence)`,
    });
  }
  return version;
}

function suggestSemver(version: string): string {
  const numbers = version
    .replace(/^v/i, '')
    .split(/[.]/)
    .filter((p) => /^\d+$/.test(p))
    .map(Number);
  if (numbers.length === 0 || numbers.length > 3) return '1.2.0';
  while (numbers.length < 3) numbers.push(0);
  return numbers.join('.');
}

export function checkAlias(alias: string): string {
  if (!isAlias(alias)) {
    throw new ModelctlError('INVALID_NAME', `invalid alias ${printable(alias)}`, {
      hint: 'an alias starts with a letter and holds letters, digits, ".", "_" and "-" (e.g. production)',
    });
  }
  return alias;
}

/** "org/name" -> "org--name": one folder per model, no nesting, reversible. */
export function encodeName(name: string): string {
  return name.replace('/', '--');
}

export function decodeName(folder: string): string {
  return folder.replace('--', '/');
}

export type ModelRef =
  | { kind: 'registry'; name: string; version?: string; alias?: string }
  | { kind: 'path'; path: string }
  | { kind: 'hub'; repo: string; revision?: string };

export const LATEST = 'latest';

/**
 * Parses a model reference: `name`, `name:version`, `name@alias`, a filesystem path (starts with ./, ../, /, ~ or
 * file:), or `hf:org/name[@revision]`. A bare name means `name@latest`.
 */
export function parseRef(ref: string): ModelRef {
  const text = ref.trim();
  if (text === '')
    throw new ModelctlError('INVALID_REFERENCE', 'empty model reference', { hint: 'name a model, e.g. my-model or my-model:1.0.0' });
  if (/^(\.{1,2}[\\/]|[\\/]|~)/.test(text) || text === '.' || text === '..' || /^[A-Za-z]:[\\/]/.test(text)) {
    return { kind: 'path', path: text };
  }
  if (text.startsWith('file:')) return { kind: 'path', path: text.slice('file:'.length) };
  if (text.startsWith('hf:')) {
    const [repo = '', revision] = text.slice(3).split('@', 2);
    checkName(repo);
    return revision ? { kind: 'hub', repo, revision } : { kind: 'hub', repo };
  }
  const at = text.lastIndexOf('@');
  const colon = text.lastIndexOf(':');
  if (at > 0 && at > colon) {
    return { kind: 'registry', name: checkName(text.slice(0, at)), alias: checkAlias(text.slice(at + 1)) };
  }
  if (colon > 0) {
    return { kind: 'registry', name: checkName(text.slice(0, colon)), version: checkVersion(text.slice(colon + 1)) };
  }
  if (at === 0 || colon === 0) {
    throw new ModelctlError('INVALID_REFERENCE', `invalid model reference ${printable(text)}`, {
      hint: 'write name, name:version or name@alias',
    });
  }
  return { kind: 'registry', name: checkName(text) };
}

export function formatRef(name: string, version: string): string {
  return `${name}:${version}`;
}
