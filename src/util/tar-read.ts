import { createWriteStream } from 'node:fs';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ModelctlError } from '../errors.js';

/**
 * Reads a tar archive's folders and regular files into a folder: enough for an OCI image layout archived as one tar
 * (what `skopeo copy ... oci-archive:` writes). ustar, GNU long names and pax `path` and `size` records are understood; links
 * and devices are refused (a layout has none, nor has a model), and so is any path that would land outside the folder.
 * Also the reader of OCI layers packed as tar (ModelPack `.tar` layers, ORAS folders: src/oci/packed-layer.ts).
 */

const BLOCK = 512;

function field(h: Buffer, start: number, length: number): string {
  const raw = h.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? raw.length : end).toString('utf8');
}

function size(h: Buffer): number {
  if ((h[124] ?? 0) & 0x80) return Number(h.readBigUInt64BE(128));
  return Number.parseInt(field(h, 124, 12).trim() || '0', 8);
}

/** The pax records modelctl reads: `path`, and `size` (which tar writers use for files of 8 GiB and more). */
function paxRecords(body: Buffer): { path?: string; size?: number } {
  const found: { path?: string; size?: number } = {};
  let off = 0;
  while (off < body.length) {
    const space = body.indexOf(0x20, off);
    if (space === -1) break;
    const len = Number.parseInt(body.subarray(off, space).toString('ascii'), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    const record = body.subarray(space + 1, off + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    const key = record.slice(0, eq);
    if (key === 'path') found.path = record.slice(eq + 1);
    if (key === 'size') found.size = /^\d+$/.test(record.slice(eq + 1)) ? Number(record.slice(eq + 1)) : Number.NaN;
    off += len;
  }
  return found;
}

/** A regular file of an archive: its relative path, and where its bytes lie in the archive. */
export interface TarFileEntry {
  path: string;
  start: number;
  length: number;
}

export interface TarWalkOptions {
  signal?: AbortSignal;
  /** What messages call the archive (default: its path). */
  display?: string;
  /** Called for each folder entry (its relative path, never "."). */
  onFolder?: (path: string) => Promise<void>;
}

/**
 * Walks `archive`'s entries, checking each (no links, devices or paths outside it) and calling `onFile` for each
 * regular file in archive order; answers the files' relative paths. One reader for every caller: extracting into
 * a folder (extractTar), or copying each file's range elsewhere (an OCI layer's files into the registry's tmp/).
 */
export async function walkTar(archive: string, onFile: (entry: TarFileEntry) => Promise<void>, o: TarWalkOptions = {}): Promise<string[]> {
  const bad = (why: string) => new ModelctlError('INVALID_INPUT', `${o.display ?? archive} is not a tar archive modelctl can read: ${why}`);
  const handle = await open(archive, 'r');
  const files: string[] = [];
  try {
    const { size: total } = await handle.stat();
    let pos = 0;
    let longName: string | undefined;
    let paxSize: number | undefined;
    const read = async (length: number): Promise<Buffer> => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buf, 0, length, pos);
      if (bytesRead !== length) throw bad('it ends in the middle of an entry');
      pos += length;
      return buf;
    };
    while (pos + BLOCK <= total) {
      o.signal?.throwIfAborted();
      const h = await read(BLOCK);
      if (h.every((b) => b === 0)) break;
      const type = field(h, 156, 1) || '0';
      const length = type === 'x' || type === 'L' || type === 'g' ? size(h) : (paxSize ?? size(h));
      // A size that is not a whole number of bytes (negative, or not octal) is a damaged header, not an empty file.
      if (!Number.isSafeInteger(length) || length < 0) throw bad(`an entry's header has an invalid size (${field(h, 124, 12).trim()})`);
      const padded = Math.ceil(length / BLOCK) * BLOCK;
      if (type === 'x') {
        const pax = paxRecords((await read(padded)).subarray(0, length));
        longName = pax.path ?? longName;
        paxSize = pax.size ?? paxSize;
        continue;
      }
      if (type === 'L') {
        longName = field(await read(padded), 0, length);
        continue;
      }
      if (type === 'g') {
        pos += padded;
        continue;
      }
      const prefix = field(h, 345, 155);
      const name = longName ?? (prefix ? `${prefix}/${field(h, 0, 100)}` : field(h, 0, 100));
      longName = undefined;
      paxSize = undefined;
      const rel = posix.normalize(name).replace(/\/$/, '');
      if (rel.startsWith('/') || rel === '..' || rel.startsWith('../')) throw bad(`the entry "${name}" points outside it`);
      if (type === '5') {
        if (rel !== '.') await o.onFolder?.(rel);
        continue;
      }
      if (type === '1' || type === '2') throw bad(`"${name}" is a link (links are refused)`);
      if (type !== '0' && type !== '7') throw bad(`"${name}" is neither a file nor a folder`);
      if (pos + length > total) throw bad('it ends in the middle of an entry');
      await onFile({ path: rel, start: pos, length });
      pos += padded;
      files.push(rel);
    }
    return files;
  } finally {
    await handle.close();
  }
}

/** Extracts `archive` into `dest` (which must exist); answers the relative paths of the files written. */
export async function extractTar(archive: string, dest: string, signal?: AbortSignal): Promise<string[]> {
  const handle = await open(archive, 'r');
  try {
    return await walkTar(
      archive,
      async ({ path, start, length }) => {
        await mkdir(dirname(join(dest, path)), { recursive: true });
        if (length === 0) await writeFile(join(dest, path), '');
        else
          await pipeline(
            handle.createReadStream({ start, end: start + length - 1, autoClose: false }),
            createWriteStream(join(dest, path)),
          );
      },
      { ...(signal ? { signal } : {}), onFolder: (path) => mkdir(join(dest, path), { recursive: true }).then(() => {}) },
    );
  } finally {
    await handle.close();
  }
}
