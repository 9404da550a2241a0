import { inflateRawSync } from 'node:zlib';
import type { ByteSource } from '../onnx/wire.js';
import { MB, decodeUtf8, readAt } from './io.js';

/**
 * The little of the zip format that model archives need: find the central directory (Zip64 included, since
 * torch.save writes Zip64 records for large checkpoints), list the entries, and read one small entry, stored or
 * deflated. Entries are never extracted to disk; large ones (weights) are only listed.
 */

export class ZipError extends Error {}

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
const MAX_ENTRIES = 200_000;
const MAX_CENTRAL_DIRECTORY = 64 * MB;

function u16(b: Uint8Array, at: number): number {
  return (b[at] as number) | ((b[at + 1] as number) << 8);
}

function u32(b: Uint8Array, at: number): number {
  return u16(b, at) + u16(b, at + 2) * 0x10000;
}

function u64(b: Uint8Array, at: number): number {
  const hi = u32(b, at + 4);
  if (hi >= 2 ** 21) throw new ZipError('a 64-bit size or offset beyond 2^53');
  return hi * 2 ** 32 + u32(b, at);
}

export function looksLikeZip(head: Uint8Array): boolean {
  return head.length >= 4 && u32(head, 0) === LOCAL_SIG;
}

interface Directory {
  entries: number;
  size: number;
  offset: number;
}

function findDirectory(source: ByteSource): Directory {
  const tailLength = Math.min(source.size, EOCD_SIZE + MAX_COMMENT);
  const tailStart = source.size - tailLength;
  const tail = readAt(source, tailStart, tailLength);
  let at = -1;
  for (let i = tail.length - EOCD_SIZE; i >= 0; i--) {
    if (u32(tail, i) === EOCD_SIG && i + EOCD_SIZE + u16(tail, i + 20) <= tail.length) {
      at = i;
      break;
    }
  }
  if (at < 0) throw new ZipError('no end-of-central-directory record (the archive is truncated or not a zip)');
  const dir: Directory = { entries: u16(tail, at + 10), size: u32(tail, at + 12), offset: u32(tail, at + 16) };
  const needs64 = dir.entries === 0xffff || dir.size === 0xffffffff || dir.offset === 0xffffffff;
  const locatorAt = tailStart + at - 20;
  const locator = locatorAt >= 0 ? readAt(source, locatorAt, 20) : new Uint8Array(0);
  if (locator.length === 20 && u32(locator, 0) === ZIP64_LOCATOR_SIG) {
    const recordAt = u64(locator, 8);
    const record = readAt(source, recordAt, 56);
    if (record.length < 56 || u32(record, 0) !== ZIP64_EOCD_SIG) throw new ZipError('broken Zip64 end-of-central-directory record');
    return { entries: u64(record, 32), size: u64(record, 40), offset: u64(record, 48) };
  }
  if (needs64) throw new ZipError('Zip64 archive without its Zip64 locator');
  return dir;
}

/** Zip64 extended information: the 64-bit values present are exactly those whose 32-bit field is saturated. */
function applyZip64(extra: Uint8Array, entry: ZipEntry): void {
  let at = 0;
  while (at + 4 <= extra.length) {
    const id = u16(extra, at);
    const len = u16(extra, at + 2);
    const body = at + 4;
    if (id === 0x0001) {
      let p = body;
      const take = (): number => {
        if (p + 8 > body + len) throw new ZipError(`Zip64 extra field too short for ${entry.name}`);
        const v = u64(extra, p);
        p += 8;
        return v;
      };
      if (entry.size === 0xffffffff) entry.size = take();
      if (entry.compressedSize === 0xffffffff) entry.compressedSize = take();
      if (entry.localHeaderOffset === 0xffffffff) entry.localHeaderOffset = take();
      return;
    }
    at = body + len;
  }
}

/** Lists the archive's entries from its central directory. Throws ZipError on damage. */
export function listZip(source: ByteSource): ZipEntry[] {
  const dir = findDirectory(source);
  if (dir.entries > MAX_ENTRIES) throw new ZipError(`${dir.entries} entries is more than the ${MAX_ENTRIES} supported`);
  if (dir.size > MAX_CENTRAL_DIRECTORY) throw new ZipError(`central directory of ${dir.size} bytes is too large`);
  if (dir.offset + dir.size > source.size) throw new ZipError('central directory lies past the end of the file (truncated?)');
  const cd = readAt(source, dir.offset, dir.size);
  const entries: ZipEntry[] = [];
  let at = 0;
  for (let i = 0; i < dir.entries; i++) {
    if (at + 46 > cd.length || u32(cd, at) !== CENTRAL_SIG) throw new ZipError(`central directory entry ${i} is damaged`);
    const nameLength = u16(cd, at + 28);
    const extraLength = u16(cd, at + 30);
    const commentLength = u16(cd, at + 32);
    const next = at + 46 + nameLength + extraLength + commentLength;
    if (next > cd.length) throw new ZipError(`central directory entry ${i} runs past the directory`);
    const entry: ZipEntry = {
      name: decodeUtf8(cd.subarray(at + 46, at + 46 + nameLength)),
      flags: u16(cd, at + 8),
      method: u16(cd, at + 10),
      compressedSize: u32(cd, at + 20),
      size: u32(cd, at + 24),
      localHeaderOffset: u32(cd, at + 42),
    };
    applyZip64(cd.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength), entry);
    entries.push(entry);
    at = next;
  }
  return entries;
}

/** Where an entry's data starts: after its local header, whose name and extra lengths may differ from the central copy. */
export function entryDataOffset(source: ByteSource, entry: ZipEntry): number {
  const local = readAt(source, entry.localHeaderOffset, 30);
  if (local.length < 30 || u32(local, 0) !== LOCAL_SIG) throw new ZipError(`local header of ${entry.name} is damaged`);
  const start = entry.localHeaderOffset + 30 + u16(local, 26) + u16(local, 28);
  if (start + entry.compressedSize > source.size) throw new ZipError(`${entry.name} runs past the end of the archive (truncated?)`);
  return start;
}

/** Reads one entry into memory; `maxSize` keeps a hostile or huge entry from being inflated. */
export function readZipEntry(source: ByteSource, entry: ZipEntry, maxSize = 64 * MB): Uint8Array {
  if ((entry.flags & 1) !== 0) throw new ZipError(`${entry.name} is encrypted`);
  if (entry.size > maxSize || entry.compressedSize > maxSize) {
    throw new ZipError(`${entry.name} is ${entry.size} bytes, more than the ${maxSize} read for metadata`);
  }
  const start = entryDataOffset(source, entry);
  const raw = readAt(source, start, entry.compressedSize);
  if (entry.method === 0) return raw;
  if (entry.method !== 8) throw new ZipError(`${entry.name} uses compression method ${entry.method} (only stored and deflate are read)`);
  try {
    return inflateRawSync(raw, { maxOutputLength: Math.max(entry.size, 1) });
  } catch (err) {
    throw new ZipError(`${entry.name} does not inflate: ${(err as Error).message}`);
  }
}

/** The name of the first entry from the first local header, for telling what a truncated archive was meant to be. */
export function firstLocalName(head: Uint8Array): string | undefined {
  if (!looksLikeZip(head) || head.length < 30) return undefined;
  const length = u16(head, 26);
  if (30 + length > head.length) return undefined;
  return decodeUtf8(head.subarray(30, 30 + length));
}
