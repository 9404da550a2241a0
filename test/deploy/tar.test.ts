import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TarWriter } from '../../src/util/tar.js';
import { tempDir } from '../helpers.js';

/** src/util/tar.ts against GNU tar: what it writes, tar extracts as given (names, bytes, modes, links, times). */

describe('tar writer', () => {
  it('writes archives GNU tar extracts exactly, long names split into prefix and name', async () => {
    const dir = tempDir();
    const source = join(dir, 'source.bin');
    const payload = Buffer.alloc(5000);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) % 251;
    writeFileSync(source, payload);
    const deep = `${'a'.repeat(60)}/${'b'.repeat(60)}/${'c'.repeat(30)}/file-${'d'.repeat(80)}.bin`;
    // No split into 155 + 100 bytes fits these: a pax header carries them.
    const longer = `${'e'.repeat(200)}/${'f'.repeat(120)}.bin`;
    const nested = `${'g'.repeat(90)}/${'h'.repeat(90)}/${'i'.repeat(90)}/${'j'.repeat(90)}/k.bin`;
    const archive = join(dir, 'out.tar');
    const tar = await TarWriter.create(archive);
    await tar.directory('top', { mtime: 1_700_000_000 });
    await tar.bytes('top/text.txt', Buffer.from('héllo\n'), { mode: 0o600, mtime: 1_700_000_000 });
    await tar.file('top/data.bin', source, payload.length, { mode: 0o755, mtime: 1_700_000_000 });
    await tar.file(deep, source, payload.length);
    await tar.bytes(longer, Buffer.from('long'));
    await tar.bytes(nested, Buffer.from('nested'));
    await tar.symlink('top/link', '/opt/elsewhere/target');
    const done = await tar.finish();
    const bytes = readFileSync(archive);
    expect(done.size).toBe(bytes.length);
    expect(done.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(bytes.length % 512).toBe(0);

    const listing = (await execa('tar', ['-tvf', archive])).stdout;
    expect(listing).toContain(deep);
    const into = join(dir, 'x');
    await execa('mkdir', [into]);
    await execa('tar', ['-xpf', archive, '-C', into]);
    expect(readFileSync(join(into, 'top', 'text.txt'), 'utf8')).toBe('héllo\n');
    expect(readFileSync(join(into, 'top', 'data.bin')).equals(payload)).toBe(true);
    expect(readFileSync(join(into, deep)).equals(payload)).toBe(true);
    expect(readFileSync(join(into, longer), 'utf8')).toBe('long');
    expect(readFileSync(join(into, nested), 'utf8')).toBe('nested');
    expect(readlinkSync(join(into, 'top', 'link'))).toBe('/opt/elsewhere/target');
    expect(lstatSync(join(into, 'top', 'data.bin')).mode & 0o777).toBe(0o755);
    expect(lstatSync(join(into, 'top', 'text.txt')).mode & 0o777).toBe(0o600);
    expect(lstatSync(join(into, 'top', 'data.bin')).mtimeMs).toBe(1_700_000_000_000);
  });

  it('refuses a file that does not hold the size given', async () => {
    const dir = tempDir();
    const tar = await TarWriter.create(join(dir, 'a.tar'));
    writeFileSync(join(dir, 'f'), 'abc');
    await expect(tar.file('f', join(dir, 'f'), 4)).rejects.toThrow(/changed while it was archived/);
    await tar.abort();
  });
});
