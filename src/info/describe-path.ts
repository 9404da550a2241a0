import { resolve } from 'node:path';
import { ModelctlError } from '../errors.js';
import { inspectModel } from '../formats/index.js';
import type { Inspection } from '../formats/types.js';
import { decodeHfMetadata, type DecodedHfMetadata } from '../onnx/metadata.js';

export interface EmbeddedMetadata {
  embedded?: DecodedHfMetadata;
  /** Why the embedded hf_* metadata could not be read (checksum, version, JSON), as data: info still shows the rest. */
  embeddedError?: { code: string; message: string };
}

/** Decodes the hf_* metadata of ONNX metadata_props, keeping a damaged one as an error record. */
export function embeddedOf(props: unknown): EmbeddedMetadata {
  if (!props || typeof props !== 'object') return {};
  try {
    const embedded = decodeHfMetadata(props as Record<string, string>);
    return embedded ? { embedded } : {};
  } catch (err) {
    if (!(err instanceof ModelctlError)) throw err;
    return { embeddedError: { code: err.code, message: err.message } };
  }
}

export interface PathDescription extends Inspection, EmbeddedMetadata {
  path: string;
}

/** What `info PATH` shows: the format, files and metadata of a model on disk, and its embedded metadata. */
export async function describePath(path: string): Promise<PathDescription> {
  const inspection = await inspectModel(path);
  return { path: resolve(path), ...inspection, ...embeddedOf(inspection.metadata.metadataProps) };
}
