import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeHfCache } from '../../src/hub/hf-cache-write.js';
import { tempDir } from '../helpers.js';
import { sha256 } from './server.js';

/**
 * The HF cache write-through leaves nothing behind when a write is killed: its temporary blob
 * (ETAG.modelctl.PID.HEX.tmp.incomplete) is removed by the next write once it is an hour old and its process is
 * gone, or a day old;
 * huggingface_hub's own `.incomplete` files (ETAG.incomplete, which it resumes) and a live write's are left alone.
 */
describe('HF cache write-through: temporary blobs of killed writes', () => {
  it('are swept by the next write; huggingface_hub’s own and a running write’s are kept', async () => {
    const repo = join(tempDir(), 'models--acme--tiny');
    const blobs = join(repo, 'blobs');
    mkdirSync(blobs, { recursive: true });
    const content = Buffer.from('{"hello": "world"}\n');
    const source = join(tempDir(), 'config.json');
    writeFileSync(source, content);
    const etag = sha256(content);
    // A dead process's (pid 2^22 + 1 is above Linux's pid_max), a live one's that is fresh, a live one's a day old,
    // and huggingface_hub's resumable download.
    const dead = `${etag}.modelctl.4194305.0123456789ab.tmp.incomplete`;
    const live = `${etag}.modelctl.${process.pid}.0123456789ab.tmp.incomplete`;
    const stale = `${etag}.modelctl.${process.pid}.ba9876543210.tmp.incomplete`;
    // A pid this host does not know may be another container's writer, at work right now: kept while under an hour.
    const fresh = `${etag}.modelctl.4194306.00000000abcd.tmp.incomplete`;
    const theirs = `${'a'.repeat(64)}.incomplete`;
    for (const name of [dead, live, stale, fresh, theirs]) writeFileSync(join(blobs, name), 'partial');
    const ago = (ms: number) => new Date(Date.now() - ms);
    utimesSync(join(blobs, stale), ago(2 * 24 * 3600 * 1000), ago(2 * 24 * 3600 * 1000));
    utimesSync(join(blobs, dead), ago(2 * 3600 * 1000), ago(2 * 3600 * 1000));
    const commit = 'c'.repeat(40);
    const r = await writeHfCache(repo, commit, 'main', [{ path: 'config.json', etag, size: content.length, source }]);
    expect(r.written).toEqual(['config.json']);
    expect([dead, live, stale, fresh, theirs].map((n) => existsSync(join(blobs, n)))).toEqual([false, true, false, true, true]);
    expect(readFileSync(join(repo, 'snapshots', commit, 'config.json'))).toEqual(content);
  });
});
