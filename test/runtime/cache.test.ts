import { copyFileSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from '../helpers.js';
import { SessionCache } from '../../src/runtime/cache.js';
import type { OpenedSession } from '../../src/runtime/session.js';
import { EXTERNAL, HANDBUILT, IRIS, copyModel, expectIrisOutputs, irisFeeds, rejection } from './helpers.js';

const CPU1 = { threads: 1 };
const IRIS_BYTES = statSync(IRIS).size;

/** Three iris copies in one folder: same bytes, different paths, so different cache keys. */
function irisCopies(): [string, string, string] {
  const a = copyModel(IRIS, 'a.onnx');
  const dir = join(a, '..');
  return [a, copyModel(IRIS, 'b.onnx', dir), copyModel(IRIS, 'c.onnx', dir)];
}

async function expectReleased(opened: OpenedSession): Promise<void> {
  await expect(opened.session.run(await irisFeeds())).rejects.toThrow(/disposed/);
}

describe('SessionCache', () => {
  it('serves the same session for the same path and options, and counts hits and misses', async () => {
    const cache = new SessionCache();
    const first = await cache.get(IRIS, CPU1);
    expect(await cache.get(IRIS, { ...CPU1, graphOptimization: 'all' })).toBe(first);
    const other = await cache.get(IRIS, { threads: 1, graphOptimization: 'basic' });
    expect(other).not.toBe(first);
    expect(cache.stats()).toEqual({ sessions: 2, bytes: 2 * IRIS_BYTES, hits: 1, misses: 2, evictions: 0 });
    await expectIrisOutputs(first.session);
    await cache.clear();
  });

  it('creates a session once for concurrent gets of one key', async () => {
    const cache = new SessionCache();
    const got = await Promise.all([cache.get(IRIS, CPU1), cache.get(IRIS, CPU1), cache.get(IRIS, CPU1)]);
    expect(got[1]).toBe(got[0]);
    expect(got[2]).toBe(got[0]);
    expect(cache.stats()).toMatchObject({ sessions: 1, hits: 2, misses: 1 });
    await cache.clear();
  });

  it('evicts the least recently used session past maxSessions and releases it', async () => {
    const [a, b, c] = irisCopies();
    const cache = new SessionCache({ maxSessions: 2 });
    const sa = await cache.get(a, CPU1);
    const sb = await cache.get(b, CPU1);
    expect(await cache.get(a, CPU1)).toBe(sa); // a is now more recent than b
    const sc = await cache.get(c, CPU1);
    expect(cache.stats()).toEqual({ sessions: 2, bytes: 2 * IRIS_BYTES, hits: 1, misses: 3, evictions: 1 });
    await expectReleased(sb);
    await expectIrisOutputs(sa.session);
    await expectIrisOutputs(sc.session);
    expect(await cache.get(b, CPU1)).not.toBe(sb);
    expect(cache.stats()).toMatchObject({ sessions: 2, misses: 4, evictions: 2 });
    await expectReleased(sa);
    await cache.clear();
  });

  it('evicts by estimated bytes, counting external data, and keeps a model larger than the budget alone', async () => {
    const [a, b, c] = irisCopies();
    const cache = new SessionCache({ maxBytes: 2 * IRIS_BYTES + 1 });
    const sa = await cache.get(a, CPU1);
    await cache.get(b, CPU1);
    await cache.get(c, CPU1);
    expect(cache.stats()).toMatchObject({ sessions: 2, bytes: 2 * IRIS_BYTES, evictions: 1 });
    await expectReleased(sa);

    const external = await cache.get(EXTERNAL, CPU1); // 382 + 608 bytes: both iris copies must go
    expect(external.bytes).toBe(990);
    expect(cache.stats()).toMatchObject({ sessions: 1, bytes: 990, evictions: 3 });
    await cache.clear();
    expect(cache.stats()).toMatchObject({ sessions: 0, bytes: 0, evictions: 3 });
  });

  it('opens a new session when the file is replaced on disk', async () => {
    const path = copyModel(IRIS);
    const cache = new SessionCache();
    const before = await cache.get(path, CPU1);
    copyFileSync(HANDBUILT, path);
    const later = new Date(Date.now() + 10_000);
    utimesSync(path, later, later);
    const after = await cache.get(path, CPU1);
    expect(after).not.toBe(before);
    expect(after.inputNames).toEqual(['x', 'steps']);
    expect(cache.stats()).toMatchObject({ sessions: 1, misses: 2, hits: 0, evictions: 1, bytes: statSync(HANDBUILT).size });
    await expectReleased(before);
    await cache.clear();
  });

  it('holds a session inside use() until the callback is done, even when evicted', async () => {
    const [a, b] = irisCopies();
    const cache = new SessionCache({ maxSessions: 1 });
    let held: OpenedSession | undefined;
    await cache.use(a, CPU1, async (opened) => {
      held = opened;
      await cache.get(b, CPU1); // evicts a
      expect(cache.stats().evictions).toBe(1);
      await expectIrisOutputs(opened.session);
    });
    await new Promise((resolve) => setImmediate(resolve));
    await expectReleased(held!);
    await cache.clear();
  });

  it('does not cache a failed open', async () => {
    const cache = new SessionCache();
    const bad = join(FIXTURES, 'bad', 'random.onnx');
    expect((await rejection(cache.get(bad))).code).toBe('CORRUPT_MODEL');
    expect((await rejection(cache.get(bad))).code).toBe('CORRUPT_MODEL');
    expect(cache.stats()).toEqual({ sessions: 0, bytes: 0, hits: 0, misses: 2, evictions: 0 });
  });

  it('releases every session on clear()', async () => {
    const [a, b] = irisCopies();
    const cache = new SessionCache();
    const opened = [await cache.get(a, CPU1), await cache.get(b, CPU1)];
    await cache.clear();
    expect(cache.stats()).toMatchObject({ sessions: 0, bytes: 0, evictions: 0 });
    for (const o of opened) await expectReleased(o);
  });

  it.each([[{ maxSessions: 0 }], [{ maxSessions: 1.5 }], [{ maxBytes: 0 }], [{ maxBytes: Number.NaN }]])('rejects %j', (options) => {
    expect(() => new SessionCache(options)).toThrow(expect.objectContaining({ code: 'USAGE' }));
  });
});
