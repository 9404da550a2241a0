import type { Command } from 'commander';
import { pending, type SpecTools } from './tools.js';

/** Declares `modelctl bench`. */
export function declare(program: Command, tools: SpecTools): void {
  pending(program, tools, 'bench', 'measure latency, throughput and memory with ONNX Runtime', '<ref>', ['modelctl bench iris --batch-sizes 1,32']);
}
