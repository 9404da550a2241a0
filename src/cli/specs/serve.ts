import type { Command } from 'commander';
import { pending, type SpecTools } from './tools.js';

/** Declares `modelctl serve`. */
export function declare(program: Command, tools: SpecTools): void {
  pending(program, tools, 'serve', 'serve the registry over HTTP (Open Inference Protocol)', '', ['modelctl serve --port 8080']);
}
