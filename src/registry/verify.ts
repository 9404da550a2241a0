import { readFileSync, statSync, type BigIntStats } from 'node:fs';
import { mkdir, open, readdir, rename, rmdir, unlink, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ModelctlError } from '../errors.js';
import { hashHandle, isEnoent, tempName } from './fsutil.js';
import type { Layout } from './layout.js';
import type { Manifest } from './manifest.js';
import type { Store } from './store.js';

/**
 * Verify-on-use. A blob is hashed when it is stored; re-hashing it on every use would cost a full read of every
 * model on every predict. Instead each blob has a fingerprint (size, mtime in nanoseconds, inode) recorded when its
 * content was last known good, in fingerprints/ (never in the sealed manifest). A reader stats the blob: the same
 * fingerprint means the same bytes (any write moves the mtime, a replacement changes the inode), so no hashing; a
 * changed one (or none: blobs stored before fingerprints existed) is re-hashed once and the record refreshed.
 *
 * Left out on purpose: ctime, which every hard link (views, pull staging) and chmod changes without touching the
 * bytes, and the device number, which remounts and reboots can change (overlay, NFS) and would re-hash every blob.
 * What a fingerprint cannot see (a write that puts the old mtime back, silent disk corruption) only a full re-hash
 * sees: `verify: true` (`--verify`) and `validate`.
 *
 * Readers take no lock. A record is only ever written with a fingerprint read from the open file both before and
 * after a hash that matched, and replaced whole by rename: concurrent readers race only over which good
 * fingerprint wins, and a record that is lost or torn (no fsync) reads as absent and costs one re-hash.
 */

export interface Fingerprint {
  size: bigint;
  mtimeNs: bigint;
  ino: bigint;
}

export interface VerifiedFile {
  path: string;
  sha256: string;
  fingerprint: Fingerprint;
}

/** What `verifyVersion` checked, with the fingerprints the blobs had then (serve re-checks them per request). */
export interface VerifiedFiles {
  ref: string;
  files: VerifiedFile[];
}

export interface VerifyOptions {
  /** Re-hash every blob, whatever its fingerprint says. */
  force?: boolean;
  /** Check only these files of the version (by path); default all. */
  paths?: readonly string[];
  signal?: AbortSignal;
}

const RECORD_SCHEMA = 1;
/**
 * Coarse file timestamps (FAT: 2 s, HFS+: 1 s; a kernel tick elsewhere) let a second write inside the same tick keep
 * the mtime. A fingerprint taken that close to the mtime is not recorded, as git treats "racily clean" entries.
 */
const RACY_NS = 3_000_000_000n;
/** Placing a blob sets its mtime this far in the past, so that its first fingerprint is never racy. */
const PLACED_AGE_MS = 10_000;

function fingerprintOf(s: BigIntStats): Fingerprint {
  return { size: s.size, mtimeNs: s.mtimeNs, ino: s.ino };
}

function same(a: Fingerprint, b: Fingerprint): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ino === b.ino;
}

function racy(f: Fingerprint): boolean {
  const gap = BigInt(Date.now()) * 1_000_000n - f.mtimeNs;
  return gap < RACY_NS && gap > -RACY_NS;
}

/** The recorded fingerprint of a blob; undefined when there is none or it cannot be read whole. */
function readRecord(layout: Layout, sha256: string): Fingerprint | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(layout.fingerprint(sha256), 'utf8'));
  } catch {
    return undefined;
  }
  const r = parsed as Record<string, unknown> | null;
  if (r?.schema !== RECORD_SCHEMA || r.sha256 !== sha256) return undefined;
  if (typeof r.size !== 'string' || typeof r.mtimeNs !== 'string' || typeof r.ino !== 'string') return undefined;
  try {
    // Not checked further: a record only ever vouches for a blob whose stat equals it exactly.
    return { size: BigInt(r.size), mtimeNs: BigInt(r.mtimeNs), ino: BigInt(r.ino) };
  } catch {
    return undefined;
  }
}

/**
 * Records a blob's fingerprint (callers have just seen its content hash right). Never throws: on a read-only home
 * or a full disk the blob is simply hashed again next time.
 */
async function writeRecord(layout: Layout, sha256: string, f: Fingerprint): Promise<void> {
  if (racy(f)) return;
  const text = `${JSON.stringify({ schema: RECORD_SCHEMA, sha256, size: String(f.size), mtimeNs: String(f.mtimeNs), ino: String(f.ino) })}\n`;
  const target = layout.fingerprint(sha256);
  const tmp = join(layout.tmpDir, tempName('fingerprint'));
  try {
    await mkdir(dirname(target), { recursive: true });
    await mkdir(layout.tmpDir, { recursive: true });
    await writeFile(tmp, text, { flag: 'wx' });
    await rename(tmp, target);
  } catch {
    await unlink(tmp).catch(() => {});
  }
}

/** sha256 of a file, with its fingerprint read from the open file before and after (the same inode throughout). */
async function hashWithFingerprints(
  path: string,
  signal?: AbortSignal,
): Promise<{ sha256: string; size: number; before: Fingerprint; after: Fingerprint }> {
  const fh = await open(path, 'r');
  try {
    const before = fingerprintOf(await fh.stat({ bigint: true }));
    const { sha256, size } = await hashHandle(fh, signal);
    const after = fingerprintOf(await fh.stat({ bigint: true }));
    return { sha256, size, before, after };
  } finally {
    await fh.close();
  }
}

/**
 * Hashes a blob and, when it hashes to its name and did not change meanwhile, refreshes its fingerprint. For
 * validate, which re-hashes everything anyway. Throws the file system's error (ENOENT) as it comes.
 */
export async function hashBlob(layout: Layout, sha256: string, signal?: AbortSignal): Promise<{ sha256: string; size: number }> {
  const hashed = await hashWithFingerprints(layout.blob(sha256), signal);
  if (hashed.sha256 === sha256 && same(hashed.before, hashed.after)) await writeRecord(layout, sha256, hashed.after);
  return { sha256: hashed.sha256, size: hashed.size };
}

/**
 * For placeBlob, before the rename (the content was hashed as it was copied in): moves the mtime into the past, so
 * that any later write, which the kernel stamps with the current time, changes it even on coarse timestamps.
 */
export async function backdate(tmpPath: string): Promise<void> {
  const now = Date.now();
  await utimes(tmpPath, now / 1000, (now - PLACED_AGE_MS) / 1000);
}

/** For placeBlob, after the rename: the blob's first fingerprint. */
export async function recordPlaced(layout: Layout, sha256: string): Promise<void> {
  const st = statSync(layout.blob(sha256), { bigint: true, throwIfNoEntry: false });
  if (st) await writeRecord(layout, sha256, fingerprintOf(st));
}

type ManifestFile = Manifest['files'][number];

type BlobState = { state: 'good'; fingerprint: Fingerprint } | { state: 'missing' } | { state: 'damaged'; why: string };

/** Whether a blob holds what its name says: by its fingerprint when that is unchanged (and not `force`), else by hashing. */
async function checkBlob(layout: Layout, sha256: string, size: number, force: boolean, signal?: AbortSignal): Promise<BlobState> {
  const path = layout.blob(sha256);
  const st = statSync(path, { bigint: true, throwIfNoEntry: false });
  if (!st) return { state: 'missing' };
  if (!st.isFile()) return { state: 'damaged', why: 'is not a file' };
  if (st.size !== BigInt(size)) return { state: 'damaged', why: `has ${st.size} bytes where ${size} were stored` };
  const now = fingerprintOf(st);
  if (!force) {
    const known = readRecord(layout, sha256);
    if (known && same(known, now)) return { state: 'good', fingerprint: now };
  }
  let hashed: Awaited<ReturnType<typeof hashWithFingerprints>>;
  try {
    hashed = await hashWithFingerprints(path, signal);
  } catch (err) {
    if (isEnoent(err)) return { state: 'missing' };
    throw err;
  }
  if (hashed.sha256 !== sha256)
    return { state: 'damaged', why: `has changed since it was stored (its content hashes to ${hashed.sha256.slice(0, 12)})` };
  if (same(hashed.before, hashed.after)) await writeRecord(layout, sha256, hashed.after);
  return { state: 'good', fingerprint: hashed.after };
}

/**
 * For placeBlob, when the blob is already there: is it intact? If not, the fresh copy replaces it, so registering
 * the same file again repairs a damaged blob.
 */
export async function blobIntact(layout: Layout, sha256: string, size: number): Promise<boolean> {
  return (await checkBlob(layout, sha256, size, false)).state === 'good';
}

function damaged(ref: string, f: ManifestFile, why: string, path: string, hint = 'nothing was read from it'): ModelctlError {
  return new ModelctlError('INTEGRITY', `blob ${f.sha256.slice(0, 12)} of ${ref} ${f.path} ${why}; run \`modelctl validate\``, {
    hint: `${hint}; validate lists every damaged version, and registering the same file again repairs the blob`,
    details: { model: ref, file: f.path, blob: f.sha256, path },
  });
}

async function verifyBlob(store: Store, m: Manifest, ref: string, f: ManifestFile, options: VerifyOptions): Promise<Fingerprint> {
  const checked = await checkBlob(store.layout, f.sha256, f.size, options.force === true, options.signal);
  if (checked.state === 'good') return checked.fingerprint;
  const path = store.layout.blob(f.sha256);
  if (checked.state === 'damaged') throw damaged(ref, f, checked.why, path);
  // Not there: damage, unless the version itself was removed meanwhile (rm and gc running beside us).
  if (!statSync(store.layout.manifest(m.name, m.version), { throwIfNoEntry: false })) {
    throw new ModelctlError('NOT_FOUND', `${ref} was removed while it was being read`, { hint: 'run the command again' });
  }
  throw damaged(ref, f, 'is missing from the store', path, 'the registry lost this file (removed by hand or by a disk error)');
}

/**
 * Checks a version's blobs before anything reads them: a stat per blob against its recorded fingerprint, a re-hash
 * when it differs or with `force`. A damaged or missing blob is INTEGRITY (exit 4) naming the version, the file and
 * the blob. Every reader of registry files (predict, serve, export, embed-metadata) calls this first.
 */
export async function verifyVersion(store: Store, m: Manifest, options: VerifyOptions = {}): Promise<VerifiedFiles> {
  const ref = `${m.name}:${m.version}`;
  const wanted = options.paths ? m.files.filter((f) => options.paths?.includes(f.path)) : m.files;
  const seen = new Map<string, Fingerprint>();
  const files: VerifiedFile[] = [];
  for (const f of wanted) {
    let fingerprint = seen.get(f.sha256);
    if (!fingerprint) {
      fingerprint = await verifyBlob(store, m, ref, f, options);
      seen.set(f.sha256, fingerprint);
    }
    files.push({ path: f.path, sha256: f.sha256, fingerprint });
  }
  return { ref, files };
}

/** True while every blob still has the fingerprint it had when verified: a stat each, for per-request re-checks. */
export function stillVerified(layout: Layout, verified: VerifiedFiles): boolean {
  return verified.files.every((f) => {
    const st = statSync(layout.blob(f.sha256), { bigint: true, throwIfNoEntry: false });
    return st !== undefined && same(fingerprintOf(st), f.fingerprint);
  });
}

/** Removes the records of blobs not in `keep` (gc, under the lock; records of removed blobs are derived garbage). */
export async function sweepFingerprints(layout: Layout, keep: Set<string>): Promise<void> {
  let shards: string[];
  try {
    shards = await readdir(layout.fingerprintsDir);
  } catch (err) {
    if (isEnoent(err)) return;
    throw err;
  }
  for (const shard of shards) {
    const dir = join(layout.fingerprintsDir, shard);
    const names = await readdir(dir).catch(() => [] as string[]);
    const stale = names.filter((n) => !keep.has(n));
    for (const n of stale) await unlink(join(dir, n)).catch(() => {});
    if (stale.length === names.length) await rmdir(dir).catch(() => {});
  }
}

/** Removes one blob's record (rm, after the blob). */
export async function dropFingerprint(layout: Layout, sha256: string): Promise<void> {
  await unlink(layout.fingerprint(sha256)).catch(() => {});
}
