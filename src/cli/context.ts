import { Registry } from '../registry/index.js';
import type { GlobalFlags } from './declare.js';
import type { Output } from './render/output.js';

/** The global options, merged from before and after the command name, and whether the command prints JSON. */
export interface GlobalOptions extends GlobalFlags {
  verbose: boolean;
  json: boolean;
}

export interface CliContext {
  out: Output;
  options: GlobalOptions;
  signal: AbortSignal;
  env: NodeJS.ProcessEnv;
}

/**
 * Each file in commands/ exports `run`: options in, library call, render; returns the exit code. Its options are
 * the typed ones its spec (specs/<name>.ts) declares; main.ts checks that the two agree.
 */
export interface CommandModule<O> {
  run: (args: string[], options: O, ctx: CliContext) => Promise<number>;
}

/** The registry the command works on: --home beats MODELCTL_HOME beats the user data directory. */
export function openRegistry(ctx: CliContext): Registry {
  return new Registry({ env: ctx.env, ...(ctx.options.home ? { home: ctx.options.home } : {}) });
}
