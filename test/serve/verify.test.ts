import { createHash } from 'node:crypto';
import { chmodSync, closeSync, openSync, statSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Registry } from '../../src/registry/index.js';
import type { Manifest } from '../../src/registry/manifest.js';
import { flipByte, tempDir, writeSafetensors } from '../helpers.js';
import { IRIS_ROWS, fixtureRegistry, getJson, irisInfer, postJson, serve } from './helpers.js';

/** A byte inside the first LinearClassifier coefficient of the iris fixture (test/registry/verify.test.ts checks it). */
const IRIS_COEFFICIENT_BYTE = 273;

async function irisBlob(registry: Registry): Promise<{ manifest: Manifest; blob: string }> {
  const manifest = await registry.resolve('iris');
  return { manifest, blob: registry.store.layout.blob(manifest.files[0]?.sha256 as string) };
}

/** A whole second, long enough ago that a fingerprint with it is not racy; utimes sets it exactly, so a file can be put back to it. */
const PINNED = Math.floor(Date.now() / 1000) - 100;

function pinMtime(path: string, when = PINNED): void {
  utimesSync(path, when, when);
}

describe('serve: verify-on-use', () => {
  it('infer and /v1 predict answer an error status for a tampered blob, before and after the model is loaded', async () => {
    const s = await serve();
    const { blob } = await irisBlob(s.registry);
    const infer = () => postJson(`${s.url}/v2/models/iris/infer`, irisInfer(IRIS_ROWS));
    expect((await infer()).status).toBe(200);
    // Changed on disk after the session was opened: the next request re-checks it instead of reopening the file.
    flipByte(blob, IRIS_COEFFICIENT_BYTE);
    const after = await infer();
    expect(after.status).toBe(500);
    expect(after.body).toMatchObject({ code: 'INTEGRITY' });
    expect(after.body.error).toMatch(
      /^blob [0-9a-f]{12} of iris:1\.0\.0 model\.onnx has changed since it was stored .*run `modelctl validate`$/,
    );
    const v1 = await postJson(`${s.url}/v1/models/iris/predict`, { rows: IRIS_ROWS });
    expect(v1.status).toBe(500);
    expect(v1.body.code).toBe('INTEGRITY');
    // A server started on the damaged registry refuses it from the first request.
    const fresh = await serve({ registry: s.registry });
    expect((await postJson(`${fresh.url}/v2/models/iris/infer`, irisInfer(IRIS_ROWS))).body.code).toBe('INTEGRITY');
  });

  it('a deleted blob is an error status that says so', async () => {
    const s = await serve();
    const { blob } = await irisBlob(s.registry);
    unlinkSync(blob);
    const r = await postJson(`${s.url}/v2/models/iris/infer`, irisInfer(IRIS_ROWS));
    expect(r.status).toBe(500);
    expect(r.body.error).toMatch(/^blob [0-9a-f]{12} of iris:1\.0\.0 model\.onnx is missing from the store; run `modelctl validate`$/);
    const down = await getJson(`${s.url}/v1/models/iris/download`);
    expect(down.status).toBe(500);
    expect(down.body.code).toBe('INTEGRITY');
  });

  it('download answers an error status, never the wrong bytes, for a tampered blob', async () => {
    const s = await serve();
    const { manifest, blob } = await irisBlob(s.registry);
    const good = await fetch(`${s.url}/v1/models/iris/download`);
    expect(
      createHash('sha256')
        .update(Buffer.from(await good.arrayBuffer()))
        .digest('hex'),
    ).toBe(manifest.files[0]?.sha256);
    flipByte(blob, IRIS_COEFFICIENT_BYTE);
    const r = await fetch(`${s.url}/v1/models/iris/download`);
    expect(r.status).toBe(500);
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(r.headers.get('x-modelctl-sha256')).toBeNull();
    expect(JSON.parse(await r.text())).toMatchObject({ code: 'INTEGRITY' });
  });

  it('download cuts the body short when the blob changes while it streams', async () => {
    const registry = new Registry({ home: tempDir('modelctl-serve-') });
    const file = join(tempDir(), 'big.safetensors');
    writeSafetensors(file, 64 * 1024 * 1024);
    const { manifest } = await registry.register({ path: file, name: 'big' });
    const s = await serve({ registry });
    const blob = registry.store.layout.blob(manifest.files[0]?.sha256 as string);
    const r = await fetch(`${s.url}/v1/models/big/download`);
    expect(r.status).toBe(200);
    expect(r.headers.get('x-modelctl-sha256')).toBe(manifest.files[0]?.sha256);
    const reader = (r.body as ReadableStream<Uint8Array>).getReader();
    let received = (await reader.read()).value?.length ?? 0;
    // The reader has stopped reading: the server has sent at most its socket buffers' worth, far from the end.
    const size = statSync(blob).size;
    chmodSync(blob, 0o644);
    const fd = openSync(blob, 'r+');
    writeSync(fd, Buffer.from([0x5a]), 0, 1, size - 10);
    closeSync(fd);
    const rest = (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return 'complete';
        received += value.length;
      }
    })();
    await expect(rest).rejects.toThrow();
    expect(received).toBeLessThan(size);
  });

  it('verify: true re-hashes on load and before a download, seeing what a fingerprint cannot', async () => {
    const registry = await fixtureRegistry();
    const { blob } = await irisBlob(registry);
    pinMtime(blob);
    await registry.verify(await registry.resolve('iris')); // records the pinned fingerprint
    flipByte(blob, IRIS_COEFFICIENT_BYTE);
    pinMtime(blob); // size, inode and mtime as recorded
    const plain = await serve({ registry });
    expect((await postJson(`${plain.url}/v2/models/iris/infer`, irisInfer(IRIS_ROWS))).status).toBe(200);
    const strict = await serve({ registry, verify: true });
    const r = await postJson(`${strict.url}/v2/models/iris/infer`, irisInfer(IRIS_ROWS));
    expect(r.status).toBe(500);
    expect(r.body.code).toBe('INTEGRITY');
    const down = await getJson(`${strict.url}/v1/models/iris/download`);
    expect(down.status).toBe(500);
    expect(down.body.code).toBe('INTEGRITY');
  });
});
