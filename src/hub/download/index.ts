/**
 * Files into the registry's tmp/ folder, hashed on the way and verified: the only door to this folder (src/pull
 * imports nothing else from it). The data path of one downloaded file, from socket to blob:
 *
 * 1. Read (main thread): node:http(s) hands the body over in chunks (http-get.ts; up to 16 KiB each over TLS).
 *    The Hub's 302 to its CDN is followed by hand, so the token goes to the Hub's origin only.
 * 2. Copy (main thread): HashingSink (hashing-sink.ts) copies each chunk once, into the slot being filled (four
 *    slots of 4 MiB per file). This is the only copy in JavaScript; with no slot free the socket waits.
 * 3. Hash and write, both at once, per full slot. Hash (hasher.ts): sha256, plus the git blob id for files the Hub
 *    tracks in git, in a worker thread that reads the shared slot in place for files of 16 MiB or more, else on
 *    the main thread. Write: whole blocks of large files by O_DIRECT where the filesystem takes it (direct-io.ts,
 *    from libuv's thread pool), the rest by 64 KiB pwrite(2) into the page cache from the main thread. A slot is
 *    refilled only once both are done with it.
 * 4. Flush: fdatasync every 128 MiB in the background; a resumable file also records its flushed length in a JSON
 *    sidecar at least every second (partial-files.ts), so only bytes known to be on disk are claimed later. At
 *    the end: fsync, close, sidecar removed, digests read.
 * 5. Verify (hub-files.ts): the size, and the LFS sha256 or the git blob id the listing gave; a mismatch drops
 *    the file and registers nothing.
 * 6. Commit (src/pull, not here): the tmp files are hard-linked into a tmp/pull-stage.* folder, inspected, and
 *    the registry renames each into blobs/SHA256.
 *
 * Resume: a cut connection is asked again with `Range: bytes=N-` from the bytes already hashed (get-with-resume.ts).
 * After a network failure or an interrupt, a Hub file is kept as tmp/pull-KIND-DIGEST.PID.RAND.part with its
 * sidecar; a later pull of the same content whose writer is dead takes it over by rename, hashes the recorded
 * prefix back from disk (cut to a block boundary under direct I/O) and asks for the rest. gc removes stale ones.
 * Before any request, a file whose sha256 the store holds is reused, and one in the HF cache is copied through
 * the same sink (hashed and verified like a download).
 */
export { warmHasherFor } from './hasher.js';
export type { HashedFile } from './hashing-sink.js';
export {
  discardFetched,
  fetchHubFiles,
  inStore,
  type FetchedFile,
  type FetchOptions,
  type FetchReport,
  type FileOrigin,
} from './hub-files.js';
export { copyLocalFile, downloadUrl, type ByteRange, type LocalCopyOptions, type UrlDownloadOptions } from './single-file.js';
