import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspectModel } from '../../src/formats/index.js';
import { expectModelctlError, fixture, fixturePath, makeSafetensors, tempDir } from './helpers.js';

async function withFile<T>(name: string, bytes: Uint8Array, fn: (path: string) => Promise<T>): Promise<T> {
  const t = await tempDir();
  try {
    const path = join(t.dir, name);
    await writeFile(path, bytes);
    return await fn(path);
  } finally {
    await t.cleanup();
  }
}

function lengthPrefixed(declared: bigint, body: string): Buffer {
  const n = Buffer.alloc(8);
  n.writeBigUInt64LE(declared);
  return Buffer.concat([n, Buffer.from(body)]);
}

describe('safetensors', () => {
  it('reads tensors, dtypes and __metadata__ from the header only', async () => {
    const facts = fixture('safetensors').facts;
    const r = await inspectModel(fixturePath('safetensors', 'model.safetensors'));
    const tensors = facts.tensors as Record<string, { torch_dtype: string; shape: number[] }>;
    expect(r.metadata.tensors).toBe(Object.keys(tensors).length);
    expect([...(r.metadata.tensorNames as string[])].sort()).toEqual(Object.keys(tensors).sort());
    expect(r.metadata.metadata).toEqual(facts.metadata);
    const perDtype: Record<string, number> = {};
    for (const t of Object.values(tensors)) perDtype[t.torch_dtype] = (perDtype[t.torch_dtype] ?? 0) + t.shape.reduce((a, b) => a * b, 1);
    expect(r.dtypes).toEqual(perDtype);
  });

  it('is detected by content whatever the file is called', async () => {
    const bytes = makeSafetensors({ w: { dtype: 'F32', shape: [3, 2] }, b: { dtype: 'I64', shape: [2] } }, { note: 'x' });
    const r = await withFile('weights.bin', bytes, (p) => inspectModel(p));
    expect(r.format).toBe('safetensors');
    expect(r.parameters).toBe(8);
    expect(r.dtypes).toEqual({ float32: 6, int64: 2 });
    expect(r.metadata.metadata).toEqual({ note: 'x' });
  });

  it('rejects a header length larger than the file', async () => {
    const bytes = lengthPrefixed(1_000_000n, '{"a":1}');
    await withFile('model.safetensors', bytes, (p) =>
      expectModelctlError(inspectModel(p), 'CORRUPT_MODEL', /header length 1000000 is larger than the rest of the file \(7 bytes\)/),
    );
  });

  it('rejects a header length beyond 2^63 without overflowing', async () => {
    const bytes = lengthPrefixed(0xffffffffffffffffn, '{}');
    await withFile('model.safetensors', bytes, (p) =>
      expectModelctlError(inspectModel(p), 'CORRUPT_MODEL', /header length 18446744073709551615/),
    );
  });

  it('rejects a header that is not JSON', async () => {
    await withFile('model.safetensors', lengthPrefixed(6n, '{nope}'), (p) =>
      expectModelctlError(inspectModel(p), 'CORRUPT_MODEL', /header is not a JSON object/),
    );
  });

  it('rejects offsets that point past the data (a truncated file)', async () => {
    const full = makeSafetensors({ w: { dtype: 'F32', shape: [64] } });
    await withFile('model.safetensors', full.subarray(0, full.length - 10), (p) =>
      expectModelctlError(inspectModel(p), 'CORRUPT_MODEL', /entry "w" points outside the data/),
    );
  });

  it('rejects a byte range that does not match dtype and shape', async () => {
    const header = JSON.stringify({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 8] } });
    const bytes = Buffer.concat([lengthPrefixed(BigInt(header.length), header), Buffer.alloc(16)]);
    await withFile('model.safetensors', bytes, (p) =>
      expectModelctlError(inspectModel(p), 'CORRUPT_MODEL', /4 F32 values do not fill bytes 0\.\.8/),
    );
  });

  it('calls a bogus .safetensors file corrupt rather than unknown', async () => {
    await withFile('model.safetensors', Buffer.from('not a header at all'), (p) =>
      expectModelctlError(inspectModel(p), 'CORRUPT_MODEL', /header length \d+ is larger than the rest/),
    );
  });
});
