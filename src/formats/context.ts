import type { Inspection, ModelFormat } from './types.js';

/** What every single-file reader gets: the file, its size and its first bytes (read once by the detector). */
export interface FileContext {
  abs: string;
  /** The file name, which becomes the path inside the model. */
  name: string;
  /** How messages name the file: the path the user gave, or the path inside the folder being inspected. */
  display: string;
  size: number;
  head: Uint8Array;
  signal?: AbortSignal;
}

/** Bytes read up front for content sniffing; enough for every magic number and the start of a JSON or text header. */
export const HEAD_BYTES = 64 * 1024;

export interface FormatFacts {
  metadata: Record<string, unknown>;
  parameters?: number;
  dtypes?: Record<string, number>;
  task?: { task: string; reason: string };
  pickle?: boolean;
  warnings?: string[];
}

/** An inspection of one file that is the whole model. */
export function singleFile(ctx: FileContext, format: ModelFormat, facts: FormatFacts): Inspection {
  return {
    format,
    files: [{ path: ctx.name, abs: ctx.abs, size: ctx.size }],
    primary: ctx.name,
    metadata: facts.metadata,
    ...(facts.parameters !== undefined ? { parameters: facts.parameters } : {}),
    ...(facts.dtypes && Object.keys(facts.dtypes).length > 0 ? { dtypes: facts.dtypes } : {}),
    ...(facts.task ? { task: facts.task.task, taskReason: facts.task.reason } : {}),
    pickle: facts.pickle ?? false,
    warnings: facts.warnings ?? [],
  };
}

export function addCount(into: Record<string, number>, key: string, n: number): void {
  into[key] = (into[key] ?? 0) + n;
}
