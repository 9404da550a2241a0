import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DIRECT_ALIGN, DirectFile } from '../../src/hub/download/direct-io.js';
import { WORKER_MIN_BYTES } from '../../src/hub/download/hasher.js';
import { newPartial } from '../../src/hub/download/partial-files.js';
import { HashingSink } from '../../src/hub/download/hashing-sink.js';
import { tempDir } from '../helpers.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
// Large enough for the hashing worker and direct I/O, with a tail that is not a whole block.
const content = randomBytes(WORKER_MIN_BYTES + 5 * 1024 * 1024 + 1234);

/** Feeds `data` from `from` on through the sink in pieces of `step` bytes, as a socket would. */
async function feed(sink: HashingSink, data: Buffer, step: number, from = 0): Promise<void> {
  for (let off = from; off < data.length; off += step) await sink.write(data.subarray(off, Math.min(off + step, data.length)));
}

afterEach(() => {
  delete process.env.MODELCTL_NO_DIRECT_IO;
  vi.restoreAllMocks();
});

/** Whether this machine's temp folder takes direct I/O (ext4 here; tmpfs before Linux 6.6 does not). */
function directIoHere(dir: string): boolean {
  const probe = join(dir, 'probe');
  writeFileSync(probe, '');
  const d = DirectFile.open(probe, dir);
  const ok = d !== undefined && d.alignedSlot(DIRECT_ALIGN) !== undefined;
  void d?.close();
  if (!ok) console.warn(`NOTE: ${dir} does not take direct I/O: only the buffered path is checked here`);
  return ok;
}

const whole = content.length - (content.length % DIRECT_ALIGN);

/** The partial-file record of a resumable download of `content` (the test's whole file). */
function partialOfContent(dir: string) {
  return newPartial(dir, {
    kind: 'sha256',
    digest: sha(content),
    size: content.length,
    repo: 'acme/x',
    commit: 'c'.repeat(40),
    path: 'model.bin',
  });
}

describe('HashingSink: what reaches the disk is what was hashed', () => {
  it('a large file goes to disk by direct I/O where the filesystem allows it; the bytes on disk are the content', async () => {
    const dir = tempDir();
    const sink = await HashingSink.create(dir, { size: content.length });
    await feed(sink, content, 65_537); // odd chunks: slots fill across chunk edges
    const r = await sink.finish();
    expect(r.sha256).toBe(sha(content));
    expect(r.size).toBe(content.length);
    const onDisk = readFileSync(r.tmpPath);
    expect(onDisk.equals(content)).toBe(true);
    // Where the filesystem takes O_DIRECT (this machine's ext4), every whole block went direct, the tail buffered.
    if (directIoHere(dir)) expect(sink.directBytes).toBe(whole);
    // The scratch file the slots were probed with is gone.
    expect(readdirSync(dir).filter((f) => f.includes('direct-probe'))).toEqual([]);
  });

  it('starting over (a server that ignored a Range request) empties the file and the hash; TLS-sized chunks', async () => {
    const dir = tempDir();
    const sink = await HashingSink.create(dir, { size: content.length });
    await feed(sink, content.subarray(0, 7 * 1024 * 1024 + 99), 16_384);
    await sink.reset();
    expect(sink.size).toBe(0);
    await feed(sink, content, 16_384); // node:https hands a body over in pieces of at most 16 KiB
    const r = await sink.finish();
    expect(r.sha256).toBe(sha(content));
    expect(readFileSync(r.tmpPath).equals(content)).toBe(true);
  });

  it('a resumed file whose prefix ends mid-block continues from the block boundary, direct again', async () => {
    const dir = tempDir();
    const direct = directIoHere(dir);
    const prefix = 3 * 1024 * 1024 + 777;
    const partial = partialOfContent(dir);
    writeFileSync(partial.dataPath, content.subarray(0, prefix));
    const sink = await HashingSink.create(dir, { size: content.length, partial: { ...partial, bytes: prefix } });
    // The download resumes where the sink says: the 777 bytes past the boundary are fetched again.
    expect(sink.size).toBe(direct ? prefix - 777 : prefix);
    await feed(sink, content, 1 << 20, sink.size);
    const r = await sink.finish();
    expect(r.sha256).toBe(sha(content));
    expect(readFileSync(r.tmpPath).equals(content)).toBe(true);
    if (direct) expect(sink.directBytes).toBe(whole - (prefix - 777));
  });

  it('checkpoints of a resumable download cut slots at block boundaries, so later slots still go direct', async () => {
    const dir = tempDir();
    const direct = directIoHere(dir);
    let now = Date.now();
    vi.spyOn(Date, 'now').mockImplementation(() => (now += 400)); // a checkpoint every few chunks
    const partial = partialOfContent(dir);
    const sink = await HashingSink.create(dir, { size: content.length, partial });
    await feed(sink, content, 66_537);
    const r = await sink.finish();
    expect(r.sha256).toBe(sha(content));
    expect(readFileSync(r.tmpPath).equals(content)).toBe(true);
    if (direct) expect(sink.directBytes).toBe(whole);
  });

  it('MODELCTL_NO_DIRECT_IO=1 writes everything through the page cache', async () => {
    process.env.MODELCTL_NO_DIRECT_IO = '1';
    const dir = tempDir();
    const sink = await HashingSink.create(dir, { size: content.length });
    await feed(sink, content, 1 << 20);
    const r = await sink.finish();
    expect(sink.directBytes).toBe(0);
    expect(readFileSync(r.tmpPath).equals(content)).toBe(true);
  });
});
