import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DIRECT_ALIGN } from '../../src/hub/direct-io.js';
import { WORKER_MIN_BYTES } from '../../src/hub/hasher.js';
import { newPartial } from '../../src/hub/partial.js';
import { HashingSink } from '../../src/hub/sink.js';
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
});

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
    // On Linux filesystems with O_DIRECT (this machine's ext4), whole blocks went direct, the tail buffered.
    if (process.platform === 'linux') {
      expect(sink.directBytes).toBeGreaterThan(0);
      expect(sink.directBytes % DIRECT_ALIGN).toBe(0);
      expect(sink.directBytes).toBeLessThan(content.length);
    }
    // The scratch file the slots were probed with is gone.
    expect(readdirSync(dir).filter((f) => f.includes('direct-probe'))).toEqual([]);
  });

  it('reading straight into the slots (space/commit) gives the same file', async () => {
    const dir = tempDir();
    const sink = await HashingSink.create(dir, { size: content.length });
    for (let off = 0; off < content.length;) {
      const space = sink.space();
      const n = Math.min(space.length, 100_003, content.length - off);
      content.copy(space, 0, off, off + n);
      off += n;
      if (!sink.commit(n)) await sink.ready();
    }
    const r = await sink.finish();
    expect(r.sha256).toBe(sha(content));
    expect(readFileSync(r.tmpPath).equals(content)).toBe(true);
  });

  it('a resumed file whose prefix ends mid-block is continued correctly (buffered where direct writes cannot go)', async () => {
    const dir = tempDir();
    const prefix = 3 * 1024 * 1024 + 777;
    const partial = newPartial(dir, { kind: 'sha256', digest: sha(content), size: content.length, repo: 'acme/x', commit: 'c'.repeat(40), path: 'model.bin' });
    writeFileSync(partial.dataPath, content.subarray(0, prefix));
    const sink = await HashingSink.create(dir, { size: content.length, partial: { ...partial, bytes: prefix } });
    expect(sink.size).toBe(prefix);
    await feed(sink, content, 1 << 20, prefix);
    const r = await sink.finish();
    expect(r.sha256).toBe(sha(content));
    expect(readFileSync(join(r.tmpPath)).equals(content)).toBe(true);
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
