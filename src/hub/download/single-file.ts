import { open } from 'node:fs/promises';
import { nodeHttpOptions, type NodeHttpOptions } from '../fetch-over-node-http.js';
import { redactUrl } from '../pull-source.js';
import { getWithResume } from './get-with-resume.js';
import { HashingSink, type HashedFile } from './hashing-sink.js';
import { fetchGetter, httpGetter, type BodyResponse } from './http-get.js';

/** A part of a file: `length` bytes from `start` (a file inside a tar archive). */
export interface ByteRange {
  start: number;
  length: number;
}

/** Copies a local file, or a range of it, through a sink (hashing it on the way) into the registry's tmp folder. */
export async function copyThroughSink(
  src: string,
  sink: HashingSink,
  signal?: AbortSignal,
  onBytes?: (n: number) => void,
  range?: ByteRange,
): Promise<void> {
  const fh = await open(src, 'r');
  try {
    // The sink copies what it is given, so one buffer serves the whole file.
    const buffer = Buffer.allocUnsafe(Math.min(4 * 1024 * 1024, range ? Math.max(range.length, 1) : Infinity));
    let pos = range?.start ?? 0;
    let left = range?.length ?? Infinity;
    while (left > 0) {
      signal?.throwIfAborted();
      const { bytesRead } = await fh.read(buffer, 0, Math.min(buffer.length, left), pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      left -= bytesRead;
      const pending = sink.write(buffer.subarray(0, bytesRead));
      if (pending) await pending;
      onBytes?.(bytesRead);
    }
    if (range && left > 0) throw new Error(`${src} ended before byte ${range.start + range.length}`);
  } finally {
    await fh.close();
  }
}

export interface LocalCopyOptions {
  tmpDir: string;
  size?: number;
  /** Only these bytes of the file. */
  range?: ByteRange;
  signal?: AbortSignal;
  onBytes?: (delta: number) => void;
}

/** A local file copied into `tmpDir`, hashed on the way; nothing is left behind when it fails. */
export async function copyLocalFile(src: string, o: LocalCopyOptions): Promise<HashedFile> {
  const sink = await HashingSink.create(o.tmpDir, o.size !== undefined ? { size: o.size } : {});
  try {
    await copyThroughSink(src, sink, o.signal, o.onBytes, o.range);
    return await sink.finish();
  } catch (err) {
    await sink.discard();
    throw err;
  }
}

/** The whole file's size as a response announces it: after the slash of Content-Range, else Content-Length. */
function announcedSize(res: BodyResponse): number {
  return Number(/\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1] ?? res.headers.get('content-length') ?? 0);
}

export interface UrlDownloadOptions extends NodeHttpOptions {
  tmpDir: string;
  /** Sent to the URL's origin only, never to where it redirects (an OCI registry's blob store). */
  authorization?: string;
  /** The size expected, when known: a longer body is refused, and large files are hashed in a worker. */
  size?: number;
  /** Replaces node:http(s) (tests, library users with their own HTTP stack). */
  fetch?: typeof fetch;
  signal?: AbortSignal;
  /** The size the server announced, on each response (a resumed one too). */
  onSize?: (bytes: number) => void;
  onBytes?: (delta: number) => void;
  retries?: number;
  backoff?: (attempt: number) => number;
}

/**
 * One file from a plain http(s) URL into `tmpDir`, hashed on the way, resumed with Range requests after a cut
 * connection, checked against the length the server announced. Not resumable across processes: without a
 * checksum known in advance there is nothing to recognise a partial file by.
 */
export async function downloadUrl(url: URL, o: UrlDownloadOptions): Promise<{ file: HashedFile; received: number; resumed: number }> {
  const sink = await HashingSink.create(o.tmpDir, o.size !== undefined ? { size: o.size } : {});
  const auth = o.authorization ? { authorization: o.authorization, authOrigin: url.origin } : {};
  try {
    const stats = await getWithResume({
      url: url.href,
      headers: {},
      ...(o.size !== undefined ? { size: o.size } : {}),
      sink,
      get: o.fetch ? fetchGetter(o.fetch) : httpGetter({ ...auth, ...nodeHttpOptions(o) }),
      ctx: { what: redactUrl(url), tokenGiven: o.authorization !== undefined },
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.onSize ? { onResponse: (res) => o.onSize?.(announcedSize(res)) } : {}),
      ...(o.onBytes ? { onBytes: o.onBytes } : {}),
      ...(o.retries !== undefined ? { retries: o.retries } : {}),
      ...(o.backoff ? { backoff: o.backoff } : {}),
    });
    return { file: await sink.finish(), received: stats.received, resumed: stats.resumed };
  } catch (err) {
    await sink.discard();
    throw err;
  }
}
