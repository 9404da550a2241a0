import { readFile } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import { fsError } from '../errors.js';
import { parseJsonText, utf8Text } from '../util/text.js';
import type { Layout } from './layout.js';
import type { Manifest } from './manifest.js';

/**
 * The files that came with a model, read by name: the tokenizer, configs and processor files that predict loads
 * and that embed-metadata writes into the model. On disk they sit beside the ONNX file; in the registry they are
 * files of the same version.
 */

/** The bytes of a companion file by name, or undefined when there is none. */
export type FileReader = (name: string) => Promise<Buffer | undefined>;

export interface Companions {
  read: FileReader;
  /** Where they were looked for, for messages. */
  where: string;
}

/** A reader over a folder on disk: undefined for files that are not there. */
export function folderReader(dir: string): FileReader {
  return async (name) => {
    try {
      return await readFile(join(dir, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fsError(err, join(dir, name));
    }
  };
}

/** The path of a version's ONNX file: the manifest's primary file, else its first .onnx file. */
export function primaryPath(manifest: Manifest): string | undefined {
  return typeof manifest.metadata.primary === 'string'
    ? manifest.metadata.primary
    : manifest.files.find((f) => f.path.endsWith('.onnx'))?.path;
}

/**
 * A registry version's files, beside its ONNX file first, then at its root. `failed` turns an error reading a blob
 * into the one to throw (a version removed meanwhile is the caller's to word).
 */
export function versionReader(layout: Layout, manifest: Manifest, failed: (err: unknown, path: string) => unknown = fsError): FileReader {
  const dirs = [...new Set([posix.dirname(primaryPath(manifest) ?? ''), '.'])];
  return async (name) => {
    for (const dir of dirs) {
      const file = manifest.files.find((f) => f.path === posix.join(dir, name));
      if (file) {
        return readFile(layout.blob(file.sha256)).catch((err: unknown) => {
          throw failed(err, file.path);
        });
      }
    }
    return undefined;
  };
}

/** A model's companions: its registry version's files, or the files in the ONNX file's folder. */
export function companions(m: { path: string; manifest?: Manifest }, layout?: Layout): Companions {
  if (m.manifest && layout) return { where: `${m.manifest.name}:${m.manifest.version}`, read: versionReader(layout, m.manifest) };
  const dir = dirname(m.path);
  // Hub repos that carry an ONNX export keep it in onnx/, with the tokenizer and config at the top.
  const dirs = basename(dir) === 'onnx' ? [dir, dirname(dir)] : [dir];
  return {
    where: dirs.join(' or '),
    read: async (name) => {
      for (const d of dirs) {
        const bytes = await folderReader(d)(name);
        if (bytes !== undefined) return bytes;
      }
      return undefined;
    },
  };
}

/** A companion JSON file (config.json, tokenizer.json, ...), or undefined when there is none. */
export async function readCompanionJson(files: Companions, name: string): Promise<unknown> {
  const bytes = await files.read(name);
  if (bytes === undefined) return undefined;
  const where = `${name} of ${files.where}`;
  return parseJsonText(utf8Text(bytes, where), where);
}

/** The files of a version exported as several ONNX files (an encoder-decoder), by role: manifest metadata onnxParts. */
export function onnxPartPaths(manifest: Manifest): Record<string, string> | undefined {
  const parts = manifest.metadata.onnxParts;
  if (!parts || typeof parts !== 'object' || Array.isArray(parts)) return undefined;
  const entries = Object.entries(parts).filter((e): e is [string, string] => typeof e[1] === 'string');
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}
