import { stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, posix, win32 } from 'node:path';
import { ModelctlError, fsError } from '../errors.js';
import { readOnnxSummary, type OnnxSummary } from '../onnx/summary.js';
import type { FileContext } from './context.js';
import { corrupt } from './io.js';
import { detectTaskFromOnnx, type DetectedTask } from './task.js';
import type { InspectedFile, Inspection } from './types.js';

/**
 * ONNX files: the wire-level summary from src/onnx, plus the external-data files the graph points at. Those
 * locations come from the file itself, so they are confined to the model's folder before anything is opened.
 */

const MAX_LISTED_IO = 256;

/** Weak sniff for a ModelProto: field 1 (ir_version, varint) first, with a plausible version. */
export function looksLikeOnnx(head: Uint8Array): boolean {
  return head[0] === 0x08 && head[1] !== undefined && head[1] >= 1 && head[1] <= 20;
}

/** A location from the model, as a POSIX path inside the model folder, or a CORRUPT_MODEL error. */
export function safeExternalPath(location: string, where: string): string {
  const normalized = posix.normalize(location.replace(/\\/g, '/'));
  const escapes = normalized === '..' || normalized.startsWith('../') || normalized.split('/').includes('..');
  if (location === '' || isAbsolute(location) || win32.isAbsolute(location) || escapes || location.includes('\0')) {
    throw corrupt(
      where,
      `external data location ${JSON.stringify(location)} points outside the model's folder`,
      'ONNX external data must be stored in files next to the model (relative paths without ..)',
    );
  }
  return normalized.replace(/^\.\//, '');
}

/** The files holding an ONNX model's external tensors, checked to exist. `relDir` is the model's folder inside the model. */
export async function externalDataFiles(summary: OnnxSummary, modelAbs: string, where: string, relDir = ''): Promise<InspectedFile[]> {
  const files: InspectedFile[] = [];
  for (const location of summary.externalData) {
    const rel = safeExternalPath(location, where);
    const abs = join(dirname(modelAbs), ...rel.split('/'));
    let size: number;
    try {
      const st = await stat(abs);
      if (!st.isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOENT' });
      size = st.size;
    } catch (err) {
      const mapped = fsError(err, abs);
      if (mapped instanceof ModelctlError && mapped.code === 'PATH_NOT_FOUND') {
        throw new ModelctlError('PATH_NOT_FOUND', `${where} stores tensors in ${rel}, which is missing: ${abs}`, {
          hint: 'copy the external data file next to the model (ONNX external data lives beside the .onnx file)',
          cause: err,
        });
      }
      throw mapped;
    }
    files.push({ path: relDir ? `${relDir}/${rel}` : rel, abs, size });
  }
  return files;
}

/** Metadata an inspection keeps: the summary without the figures that move to parameters/dtypes, with I/O capped. */
export function onnxMetadata(summary: OnnxSummary): Record<string, unknown> {
  const { parameterCount: _count, parameterDtypes: _dtypes, inputs, outputs, ...rest } = summary;
  return {
    ...rest,
    inputs: inputs.slice(0, MAX_LISTED_IO),
    outputs: outputs.slice(0, MAX_LISTED_IO),
    ...(inputs.length > MAX_LISTED_IO ? { inputCount: inputs.length } : {}),
    ...(outputs.length > MAX_LISTED_IO ? { outputCount: outputs.length } : {}),
  };
}

export interface OnnxFacts {
  summary: OnnxSummary;
  external: InspectedFile[];
  task?: DetectedTask;
}

export async function readOnnxFacts(abs: string, where: string, relDir = ''): Promise<OnnxFacts> {
  let summary: OnnxSummary;
  try {
    summary = await readOnnxSummary(abs);
  } catch (err) {
    // The summary names the absolute path; messages name the path the user gave.
    if (err instanceof ModelctlError && err.code === 'CORRUPT_MODEL') {
      throw new ModelctlError('CORRUPT_MODEL', err.message.replace(abs, where), { ...(err.hint ? { hint: err.hint } : {}), cause: err });
    }
    throw err;
  }
  const external = await externalDataFiles(summary, abs, where, relDir);
  const task = detectTaskFromOnnx(summary);
  return { summary, external, ...(task ? { task } : {}) };
}

export async function inspectOnnx(ctx: FileContext): Promise<Inspection> {
  const { summary, external, task } = await readOnnxFacts(ctx.abs, ctx.display);
  const files = [{ path: ctx.name, abs: ctx.abs, size: ctx.size }, ...external].sort((a, b) =>
    a.path < b.path ? -1 : a.path > b.path ? 1 : 0,
  );
  return {
    format: 'onnx',
    files,
    primary: ctx.name,
    metadata: onnxMetadata(summary),
    parameters: summary.parameterCount,
    ...(Object.keys(summary.parameterDtypes).length > 0 ? { dtypes: summary.parameterDtypes } : {}),
    ...(task ? { task: task.task, taskReason: task.reason } : {}),
    pickle: false,
    warnings: [],
  };
}
