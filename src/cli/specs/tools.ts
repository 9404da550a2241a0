import type { Command } from 'commander';
import { ModelctlError } from '../../errors.js';
import { VERSION } from '../../version.js';

/**
 * What a command declaration needs from main.ts. Each later command declares itself in its own file under specs/
 * (options, help, examples), so that main.ts stays a table of contents.
 */
export interface SpecTools {
  /** The commander action that lazy-loads commands/<name>.js and runs it. */
  action(name: string): (...args: unknown[]) => Promise<void>;
  /** Adds the global options and an "Examples:" help section. */
  example(cmd: Command, ...lines: string[]): Command;
  /** For repeatable options: collects values into an array. */
  collect(value: string, previous?: string[]): string[];
}

/** A declared-but-not-built command: help and examples work, running it answers NOT_AVAILABLE (exit 9). */
export function pending(program: Command, tools: SpecTools, name: string, description: string, args: string, examples: string[]): void {
  const cmd = program.command(name).description(`${description} (not available yet)`).allowUnknownOption().allowExcessArguments();
  if (args) cmd.argument(args);
  tools.example(cmd, ...examples).action(async () => {
    throw new ModelctlError('NOT_AVAILABLE', `\`modelctl ${name}\` is not available yet in modelctl ${VERSION}`, {
      hint: 'it is planned; run `modelctl --help` for the commands available now',
    });
  });
}
