import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspectModel } from '../../src/formats/index.js';
import { BufferSource } from '../../src/onnx/wire.js';
import { ZipError, listZip, readZipEntry } from '../../src/formats/zip.js';
import { expectModelctlError, makeZip, tempDir, type ZipEntrySpec as Entry } from './helpers.js';

const ENTRIES: Entry[] = [
  { name: 'a/version', data: Buffer.from('3\n') },
  { name: 'a/notes.txt', data: Buffer.from('hello '.repeat(200)), deflate: true },
];

describe('zip reader', () => {
  for (const zip64 of [false, true]) {
    it(`lists entries and reads stored and deflated ones${zip64 ? ' through Zip64 records' : ''}`, () => {
      const source = new BufferSource(makeZip(ENTRIES, zip64));
      const entries = listZip(source);
      expect(entries.map((e) => [e.name, e.size])).toEqual([
        ['a/version', 2],
        ['a/notes.txt', 1200],
      ]);
      expect(Buffer.from(readZipEntry(source, entries[0]!)).toString()).toBe('3\n');
      expect(Buffer.from(readZipEntry(source, entries[1]!)).toString()).toBe('hello '.repeat(200));
    });
  }

  it('refuses to inflate an entry larger than asked', () => {
    const source = new BufferSource(makeZip(ENTRIES));
    expect(() => readZipEntry(source, listZip(source)[1]!, 100)).toThrow(/1200 bytes, more than the 100 read for metadata/);
  });

  it('reports a truncated archive as ZipError, and inspectModel as a damaged zip', async () => {
    const whole = makeZip(ENTRIES);
    const cut = whole.subarray(0, whole.length - 30);
    expect(() => listZip(new BufferSource(cut))).toThrow(ZipError);
    const t = await tempDir();
    try {
      await writeFile(join(t.dir, 'archive.zip'), cut);
      await expectModelctlError(
        inspectModel(join(t.dir, 'archive.zip')),
        'CORRUPT_MODEL',
        /damaged zip archive: no end-of-central-directory record/,
      );
    } finally {
      await t.cleanup();
    }
  });

  it('names a truncated torch archive from its first local header', async () => {
    const whole = makeZip([{ name: 'm/data.pkl', data: Buffer.from([0x80, 2, 0x7d, 0x2e]) }, ...ENTRIES]);
    const t = await tempDir();
    try {
      await writeFile(join(t.dir, 'weights.bin'), whole.subarray(0, 60));
      await expectModelctlError(inspectModel(join(t.dir, 'weights.bin')), 'CORRUPT_MODEL', /damaged PyTorch archive/);
    } finally {
      await t.cleanup();
    }
  });

  it('an intact zip that is not a model: corrupt when named .pt, unknown otherwise', async () => {
    const t = await tempDir();
    try {
      await writeFile(join(t.dir, 'model.pt'), makeZip(ENTRIES));
      await writeFile(join(t.dir, 'data.zip'), makeZip(ENTRIES));
      await expectModelctlError(inspectModel(join(t.dir, 'model.pt')), 'CORRUPT_MODEL', /not a PyTorch one/);
      await expectModelctlError(
        inspectModel(join(t.dir, 'data.zip')),
        'UNKNOWN_FORMAT',
        /zip archive that holds no model \(a\/version, a\/notes\.txt\)/,
      );
    } finally {
      await t.cleanup();
    }
  });
});
