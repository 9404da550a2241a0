import type { Command } from 'commander';

/**
 * What a command declaration needs from main.ts. Commands with many options declare
 * themselves in their own file under specs/ (options, help, examples), so that main.ts stays a table of contents.
 */
export interface SpecTools {
  /** The commander action that lazy-loads commands/<name>.js and runs it. */
  action(name: string): (...args: unknown[]) => Promise<void>;
  /** Adds the global options and an "Examples:" help section. */
  example(cmd: Command, ...lines: string[]): Command;
  /** For repeatable options: collects values into an array. */
  collect(value: string, previous?: string[]): string[];
}
