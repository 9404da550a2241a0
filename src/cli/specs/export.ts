import type { Command } from 'commander';
import { pending, type SpecTools } from './tools.js';

/** Declares `modelctl export`. */
export function declare(program: Command, tools: SpecTools): void {
  pending(program, tools, 'export', 'convert a model to ONNX with the real Python converters, validate and register it', '<ref>', ['modelctl export org/bert --task text-classification']);
}
