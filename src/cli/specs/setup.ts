import type { Command } from 'commander';
import { pending, type SpecTools } from './tools.js';

/** Declares `modelctl setup`. */
export function declare(program: Command, tools: SpecTools): void {
  pending(program, tools, 'setup', 'set up the Python converter environment', '[what]', ['modelctl setup python --with sklearn']);
}
