import type { Command } from 'commander';
import { pending, type SpecTools } from './tools.js';

/** Declares `modelctl pull`. */
export function declare(program: Command, tools: SpecTools): void {
  pending(program, tools, 'pull', 'download a model from the Hugging Face Hub, a URL or a folder into the registry', '<source>', ['modelctl pull hf:org/model --revision main']);
}
