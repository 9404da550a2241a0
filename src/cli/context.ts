import { ModelctlError } from '../errors.js';
import { Registry } from '../registry/index.js';
import type { Output } from './render/output.js';

export interface GlobalOptions {
  home?: string;
  verbose?: boolean;
  color?: boolean;
  json?: boolean;
}

export interface CliContext {
  out: Output;
  options: GlobalOptions;
  signal: AbortSignal;
  env: NodeJS.ProcessEnv;
}

/** Each file in commands/ exports `run`: options in, library call, render; returns the exit code. */
export interface CommandModule {
  run(args: string[], options: Record<string, unknown>, ctx: CliContext): Promise<number>;
}

/** The registry the command works on: --home beats MODELCTL_HOME beats the user data directory. */
export function openRegistry(ctx: CliContext): Registry {
  return new Registry({ env: ctx.env, ...(ctx.options.home ? { home: ctx.options.home } : {}) });
}

/** Parses repeated `key=value` flags. */
export function keyValues(flag: string, values: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of (values as string[] | undefined) ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ModelctlError('USAGE', `${flag} takes key=value, got "${item}"`, { hint: `e.g. ${flag} team=ml` });
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** Parses a whole-number flag. */
export function integer(flag: string, value: unknown, min = 0): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new ModelctlError('USAGE', `${flag} takes a whole number of at least ${min}, got "${String(value)}"`);
  return n;
}
