import { execa } from 'execa';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelctlError } from '../../src/errors.js';
import { extractTar } from '../../src/util/tar-read.js';
import { TarWriter } from '../../src/util/tar.js';
import { tempDir } from '../helpers.js';

/** src/util/tar-read.ts: reads what GNU tar and modelctl's writer make (long names both ways), refuses escapes. */

describe('tar reader', () => {
  it("extracts GNU tar's archives (GNU long names) and modelctl's (pax paths) byte for byte", async () => {
    const dir = tempDir();
    const src = join(dir, 'src');
    const long = `${'a'.repeat(120)}/${'b'.repeat(150)}.bin`;
    mkdirSync(join(src, 'blobs', 'sha256'), { recursive: true });
    mkdirSync(join(src, 'a'.repeat(120)));
    const payload = Buffer.alloc(70_000);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) % 256;
    writeFileSync(join(src, 'blobs', 'sha256', 'x'), payload);
    writeFileSync(join(src, long), 'long');
    writeFileSync(join(src, 'empty'), '');
    const gnu = join(dir, 'gnu.tar');
    await execa('tar', ['--format=gnu', '-cf', gnu, '-C', src, '.']);
    const ours = join(dir, 'ours.tar');
    const w = await TarWriter.create(ours);
    await w.directory('blobs');
    await w.bytes('blobs/sha256/x', payload);
    await w.bytes(long, Buffer.from('long'));
    await w.bytes('empty', Buffer.alloc(0));
    await w.finish();
    for (const archive of [gnu, ours]) {
      const out = join(dir, `out-${archive === gnu ? 'gnu' : 'ours'}`);
      mkdirSync(out);
      const files = await extractTar(archive, out);
      expect(files.sort()).toEqual(['blobs/sha256/x', 'empty', long].sort());
      expect(readFileSync(join(out, 'blobs', 'sha256', 'x')).equals(payload)).toBe(true);
      expect(readFileSync(join(out, long), 'utf8')).toBe('long');
      expect(readFileSync(join(out, 'empty')).length).toBe(0);
    }
  });

  it('refuses entries that leave the folder, links, and archives cut short; writes nothing outside', async () => {
    const dir = tempDir();
    const cases: Array<[string, (w: TarWriter) => Promise<void>, RegExp]> = [
      ['escape', (w) => w.bytes('../outside', Buffer.from('x')), /the entry "\.\.\/outside" points outside it/],
      ['absolute', (w) => w.bytes('/etc/x', Buffer.from('x')), /points outside it/],
      ['link', (w) => w.symlink('l', '/etc/passwd'), /"l" is a link \(links are refused\)/],
    ];
    for (const [name, add, message] of cases) {
      const archive = join(dir, `${name}.tar`);
      const w = await TarWriter.create(archive);
      await add(w);
      await w.finish();
      const out = join(dir, `out-${name}`);
      mkdirSync(out);
      const err = await extractTar(archive, out).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelctlError);
      expect((err as ModelctlError).message).toMatch(message);
      expect((err as ModelctlError).exitCode).toBe(2);
      expect(readdirSync(out)).toEqual([]);
    }
    expect(readdirSync(dir).filter((f) => f === 'outside')).toEqual([]);
    const cut = join(dir, 'cut.tar');
    const w = await TarWriter.create(cut);
    await w.bytes('big', Buffer.alloc(4096, 1));
    await w.finish();
    writeFileSync(cut, readFileSync(cut).subarray(0, 1536));
    mkdirSync(join(dir, 'out-cut'));
    await expect(extractTar(cut, join(dir, 'out-cut'))).rejects.toThrow(/ends in the middle of an entry/);
    // A header whose size field is damaged (negative, not octal) is refused, not read as an empty file.
    for (const [label, sizeField] of [
      ['negative', '-0000000001'],
      ['letters', 'zzzzzzzzzz '],
    ] as const) {
      const good = join(dir, `${label}.tar`);
      const gw = await TarWriter.create(good);
      await gw.bytes('a.txt', Buffer.from('hello'));
      await gw.finish();
      const tar = readFileSync(good);
      tar.write(sizeField.padEnd(12, '\0'), 124, 'ascii');
      // The header checksum is not read by modelctl: the size alone is what is damaged.
      writeFileSync(good, tar);
      mkdirSync(join(dir, `out-${label}`));
      const err = await extractTar(good, join(dir, `out-${label}`)).catch((e: unknown) => e);
      expect(err, label).toBeInstanceOf(ModelctlError);
      expect((err as ModelctlError).message, label).toMatch(/an entry's header has an invalid size/);
      expect(readdirSync(join(dir, `out-${label}`)), label).toEqual([]);
    }
  });
});
