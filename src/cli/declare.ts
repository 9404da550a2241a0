import { ModelctlError } from '../errors.js';
import { parseDuration, parseSize } from '../util/units.js';

/**
 * How a command is declared, the one way for all of them: each file in specs/ exports the typed options its handler
 * takes (`interface XxxOptions`) and a `CommandSpec` (name, help, arguments, options, examples). Each option says
 * how its argv text becomes a typed value (a number, a size, a duration, repeated values...), so handlers get their
 * options converted once and cast nothing. Nothing here or in specs/ imports a command's implementation: main.ts
 * builds the whole program (for --help and argv parsing) from these files alone.
 */

/** What commander gives for one option: its text, the texts of a repeatable option, or a switch's boolean. */
export type RawValue = string | string[] | boolean | undefined;

export interface OptionSpec<T> {
  /** Commander flags: '-y, --yes', '--name <name>', '--no-latest'. */
  readonly flags: string;
  readonly description: string;
  /** The default as a user would type it: shown in the help, and converted as a given value is. */
  readonly default?: string | boolean;
  /** The only values commander accepts (it rejects others with the allowed list). */
  readonly choices?: readonly string[];
  /** Commander fails when the option is missing. */
  readonly required?: boolean;
  /** The option may be given many times; its values are collected in order. */
  readonly repeatable?: boolean;
  /** Also declares --no-NAME with this help text, for a switch that can be turned either way. */
  readonly negation?: string;
  /** From what commander parsed to the typed value (undefined when not given); throws a USAGE error. */
  readonly convert: (raw: RawValue) => T;
}

/**
 * The declarations of every member of O. An option with a default (or a required one) may fill any member; one
 * that can be absent only an optional member, so a handler never finds undefined where its type says it cannot.
 */
export type OptionSpecs<O> = {
  // biome-ignore lint/complexity/noBannedTypes: `{} extends Pick<O, K>` is how a mapped type tells an optional key apart
  readonly [K in keyof O]-?: OptionSpec<{} extends Pick<O, K> ? O[K] | undefined : O[K]>;
};

export interface CommandSpec<O> {
  readonly name: string;
  readonly aliases?: readonly string[];
  readonly description: string;
  /** Positional arguments as commander writes them ('<path>', '[ref]', '[values...]'), with their help. */
  readonly arguments?: ReadonlyArray<readonly [name: string, description: string]>;
  readonly options: OptionSpecs<O>;
  /** Command lines shown under "Examples:" in the help. */
  readonly examples: readonly string[];
}

/** The options every command takes, before or after its name. */
export interface GlobalFlags {
  home?: string;
  verbose?: boolean;
  color: boolean;
}

/** How an option is given, beyond its flags and help. */
interface Settings {
  default?: string | boolean;
  required?: boolean;
}

/** An option with a default or required always has a value; any other may be absent. */
type Given<S, T> = S extends { default: string | boolean } | { required: true } ? T : T | undefined;

/** '--max-size <size>' -> '--max-size': the flag error messages name. */
function longFlag(flags: string): string {
  return /--[\w-]+/.exec(flags)?.[0] ?? flags;
}

function option<T, S extends Settings>(
  flags: string,
  description: string,
  settings: S | undefined,
  convert: (raw: RawValue) => T | undefined,
  extra: Partial<Pick<OptionSpec<T>, 'choices' | 'repeatable' | 'negation'>> = {},
): OptionSpec<Given<S, T>> {
  // The one place the type follows the settings: `convert` returns a value whenever there is a default or the
  // option is required, which is what Given says.
  return { flags, description, ...settings, ...extra, convert } as OptionSpec<Given<S, T>>;
}

const textOf = (raw: RawValue): string | undefined => (typeof raw === 'string' ? raw : undefined);
const textsOf = (raw: RawValue): string[] | undefined => (Array.isArray(raw) ? raw : undefined);

/** A switch: true when given. A `--no-x` switch is true unless given; `negation` adds --no-x to a `--x` switch. */
export function flag(flags: `--no-${string}`, description: string): OptionSpec<boolean>;
export function flag<S extends { default?: boolean; negation?: string }>(
  flags: string,
  description: string,
  settings?: S,
): OptionSpec<Given<S, boolean>>;
export function flag(
  flags: string,
  description: string,
  settings: { default?: boolean; negation?: string } = {},
): OptionSpec<boolean | undefined> {
  const { negation, ...rest } = settings;
  return option(
    flags,
    description,
    rest,
    (raw) => (typeof raw === 'boolean' ? raw : undefined),
    negation === undefined ? {} : { negation },
  );
}

/** Text as it is given. */
export function text<S extends Settings>(flags: string, description: string, settings?: S): OptionSpec<Given<S, string>> {
  return option(flags, description, settings, textOf);
}

/** One of a few words; commander refuses others, listing the allowed ones. */
export function choice<C extends string, S extends Settings>(
  flags: string,
  description: string,
  choices: readonly C[],
  settings?: S,
): OptionSpec<Given<S, C>> {
  const isChoice = (v: string): v is C => (choices as readonly string[]).includes(v);
  return option(
    flags,
    description,
    settings,
    (raw) => {
      const v = textOf(raw);
      if (v === undefined) return undefined;
      if (!isChoice(v)) throw new ModelctlError('USAGE', `${longFlag(flags)} takes ${choices.join(', ')}, got "${v}"`);
      return v;
    },
    { choices },
  );
}

/** A value converted by `parse`, which names the flag in its errors. */
export function value<T, S extends Settings>(
  flags: string,
  description: string,
  parse: (text: string, flag: string) => T,
  settings?: S,
): OptionSpec<Given<S, T>> {
  const flag = longFlag(flags);
  return option(flags, description, settings, (raw) => {
    const v = textOf(raw);
    return v === undefined ? undefined : parse(v, flag);
  });
}

/** A whole number of at least `min`. */
export function wholeNumber(flag: string, text: string, min: number): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min)
    throw new ModelctlError('USAGE', `${flag} takes a whole number of at least ${min}, got "${text}"`);
  return n;
}

export function int<S extends Settings>(flags: string, description: string, min: number, settings?: S): OptionSpec<Given<S, number>> {
  return value(flags, description, (v, flag) => wholeNumber(flag, v, min), settings);
}

/** Bytes, from "20GB", "512MiB" or "1024". */
export function size<S extends Settings>(flags: string, description: string, settings?: S): OptionSpec<Given<S, number>> {
  return value(flags, description, (v) => parseSize(v), settings);
}

/** Milliseconds, from "30d", "12h", "500ms". */
export function duration<S extends Settings>(flags: string, description: string, settings?: S): OptionSpec<Given<S, number>> {
  return value(flags, description, (v) => parseDuration(v), settings);
}

/** A repeatable option: every value given, in order (absent when none is). */
export function list(flags: string, description: string): OptionSpec<string[] | undefined> {
  return option(flags, description, undefined, textsOf, { repeatable: true });
}

/** A repeatable option whose values `parse` turns into one value (given every value, in order, even none). */
export function values<T>(flags: string, description: string, parse: (texts: string[], flag: string) => T): OptionSpec<T> {
  const flag = longFlag(flags);
  return { flags, description, repeatable: true, convert: (raw) => parse(textsOf(raw) ?? [], flag) };
}

/** Repeated `key=value` flags; a key given twice keeps its last value. */
export function keyValues(texts: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of texts) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ModelctlError('USAGE', `${flag} takes key=value, got "${item}"`, { hint: `e.g. ${flag} team=ml` });
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** Declared once: main.ts gives them to the program and to every command, so that they work on either side of its name. */
export const GLOBAL_OPTIONS: OptionSpecs<GlobalFlags> = {
  home: text('--home <dir>', 'registry home (default: $MODELCTL_HOME, else the user data directory)'),
  verbose: flag('-v, --verbose', 'show details, timings and stack traces'),
  color: flag('--no-color', 'no colour (also NO_COLOR=1, or when output is not a terminal)'),
};
