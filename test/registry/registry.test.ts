import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Registry } from '../../src/index.js';
import { editFile, flipByte, tempDir, writeSafetensors } from '../helpers.js';
import { rejects } from '../helpers.js';

function setup(): { registry: Registry; home: string; dir: string } {
  const home = tempDir();
  const dir = tempDir();
  return { registry: new Registry({ home }), home, dir };
}

function blobCount(home: string): number {
  const root = join(home, 'blobs', 'sha256');
  if (!existsSync(root)) return 0;
  return readdirSync(root).reduce((n, shard) => n + readdirSync(join(root, shard)).length, 0);
}

describe('register', () => {
  it('stores a file as a content-addressed, read-only blob with a sealed manifest', async () => {
    const { registry, home, dir } = setup();
    const file = join(dir, 'model.safetensors');
    writeSafetensors(file, 4096);
    const r = await registry.register({
      path: file,
      name: 'org/tiny',
      tags: { team: 'ml' },
      metrics: { acc: 0.5 },
      description: 'd',
      license: 'mit',
    });
    const m = r.manifest;
    expect(m).toMatchObject({
      name: 'org/tiny',
      version: '1.0.0',
      format: 'safetensors',
      tags: { team: 'ml' },
      metrics: { acc: 0.5 },
      license: 'mit',
    });
    expect(m.files).toHaveLength(1);
    const expected = createHash('sha256').update(readFileSync(file)).digest('hex');
    expect(m.files[0]).toEqual({ path: 'model.safetensors', sha256: expected, size: statSync(file).size });
    expect(m.metadata.parameters).toBe(1024);
    expect(r.aliases).toEqual(['latest']);
    const blob = join(home, 'blobs', 'sha256', expected.slice(0, 2), expected);
    expect(readFileSync(blob).equals(readFileSync(file))).toBe(true);
    expect(statSync(blob).mode & 0o222).toBe(0);
    expect(existsSync(join(home, 'models', 'org--tiny', 'versions', '1.0.0.json'))).toBe(true);
    expect(readdirSync(join(home, 'tmp'))).toEqual([]);
  });

  it('stores identical content once and numbers versions by the next patch', async () => {
    const { registry, home, dir } = setup();
    const file = join(dir, 'w.safetensors');
    writeSafetensors(file, 2048);
    const a = await registry.register({ path: file, name: 'm' });
    const b = await registry.register({ path: file, name: 'm', description: 'same bytes, another version' });
    const c = await registry.register({ path: file, name: 'other', version: '2.3.9' });
    const d = await registry.register({ path: file, name: 'other', description: 'same bytes, another version' });
    expect([a.manifest.version, b.manifest.version, c.manifest.version, d.manifest.version]).toEqual(['1.0.0', '1.0.1', '2.3.9', '2.3.10']);
    expect([a.newBlobs, b.newBlobs, b.reusedBlobs]).toEqual([1, 0, 1]);
    expect(blobCount(home)).toBe(1);
  });

  it('refuses an existing version, bad names and bad keys before copying anything', async () => {
    const { registry, home, dir } = setup();
    const file = join(dir, 'w.safetensors');
    writeSafetensors(file, 512);
    await registry.register({ path: file, name: 'm', version: '1.0.0' });
    // The same content at the same version is that version (up to date); other content cannot take it.
    expect((await registry.register({ path: file, name: 'm', version: '1.0.0' })).upToDate).toBe(true);
    const other = join(dir, 'other.safetensors');
    writeSafetensors(other, 512);
    await rejects(registry.register({ path: other, name: 'm', version: '1.0.0' }), 'VERSION_EXISTS');
    for (const name of ['../evil', '/abs', 'a/b/c', 'a--b', 'a..b', 'bad\u0007name', '', 'x/']) {
      await rejects(registry.register({ path: file, name }), 'INVALID_NAME');
    }
    await rejects(registry.register({ path: file, name: 'm', version: '../1' }), 'INVALID_NAME');
    await rejects(registry.register({ path: file, name: 'm', tags: { 'a b': 'x' } }), 'USAGE');
    await rejects(registry.register({ path: join(dir, 'missing.onnx'), name: 'm' }), 'PATH_NOT_FOUND');
    expect((await registry.list()).entries.map((e) => e.version)).toEqual(['1.0.0']);
    expect(readdirSync(join(home, 'tmp'))).toEqual([]);
  });

  it('rejects an empty file and random bytes named .onnx, keeping earlier versions', async () => {
    const { registry, dir } = setup();
    const good = join(dir, 'w.safetensors');
    writeSafetensors(good, 512);
    await registry.register({ path: good, name: 'm' });
    writeFileSync(join(dir, 'empty.onnx'), '');
    await rejects(registry.register({ path: join(dir, 'empty.onnx'), name: 'm' }), 'INVALID_INPUT');
    writeFileSync(join(dir, 'random.onnx'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251)));
    const err = await rejects(registry.register({ path: join(dir, 'random.onnx'), name: 'm' }), 'CORRUPT_MODEL');
    expect(err.message).not.toContain('\n');
    expect((await registry.validate()).ok).toBe(true);
    expect((await registry.list()).entries).toHaveLength(1);
  });
});

describe('hardening', () => {
  it('refuses versions and names that differ from existing ones only in case', async () => {
    const { registry, dir } = setup();
    const f = join(dir, 'w.safetensors');
    writeSafetensors(f, 256);
    await registry.register({ path: f, name: 'Iris', version: '1.0.0-rc1' });
    await rejects(registry.register({ path: f, name: 'Iris', version: '1.0.0-RC1' }), 'VERSION_EXISTS');
    await rejects(registry.register({ path: f, name: 'iris' }), 'INVALID_NAME');
    expect((await registry.validate()).ok).toBe(true);
  });

  it('treats the aliases file as data: no prototype keys, no unchecked versions', async () => {
    const { registry, home, dir } = setup();
    const f = join(dir, 'w.safetensors');
    writeSafetensors(f, 256);
    await registry.register({ path: f, name: 'm', tags: { team: 'ml' } });
    for (const alias of ['constructor', 'toString', 'hasOwnProperty']) await rejects(registry.resolve(`m@${alias}`), 'NOT_FOUND');
    await rejects(registry.untag('m', 'toString'), 'NOT_FOUND');
    expect((await registry.list({ tags: ['constructor'] })).entries).toEqual([]);
    writeFileSync(join(home, 'models', 'm', 'aliases.json'), JSON.stringify({ latest: '../../../etc/passwd' }));
    await rejects(registry.resolve('m'), 'CORRUPT_MANIFEST');
    writeFileSync(join(home, 'models', 'm', 'aliases.json'), 'null');
    await rejects(registry.resolve('m@latest'), 'CORRUPT_MANIFEST');
    // A register that cannot read the aliases fails before it commits anything.
    await rejects(registry.register({ path: f, name: 'm' }), 'CORRUPT_MANIFEST');
    expect(readdirSync(join(home, 'models', 'm', 'versions'))).toEqual(['1.0.0.json']);
  });

  it('refuses file names a manifest cannot hold, and tasks that are not task names', async () => {
    const { registry, dir } = setup();
    const { mkdirSync } = await import('node:fs');
    const folder = join(dir, 'model');
    mkdirSync(folder);
    writeSafetensors(join(folder, 'model.safetensors'), 256);
    writeFileSync(join(folder, 'notes\\x.txt'), 'a backslash in a file name');
    await rejects(registry.register({ path: folder, name: 'm' }), 'INVALID_INPUT');
    await rejects(registry.register({ path: join(folder, 'model.safetensors'), name: 'm', task: 'Text Classification' }), 'USAGE');
  });

  // issue 14: a model name is a folder and a version a file name; Windows cannot create these device names.
  it('refuses names and versions Windows reserves, in any case, with any extension, in any segment', async () => {
    const { registry, home, dir } = setup();
    const f = join(dir, 'w.safetensors');
    writeSafetensors(f, 256);
    const reserved = [
      'CON',
      'prn',
      'Aux',
      'nul',
      'aux.txt',
      'NUL.tar.gz',
      'com1',
      'COM9',
      'lpt1',
      'Lpt9.onnx',
      'com0',
      'org/con',
      'aux/model',
      'org/LPT3.v2',
    ];
    for (const name of reserved) {
      const err = await rejects(registry.register({ path: f, name }), 'INVALID_NAME');
      expect(err.message).toMatch(
        /^model name ".+" is reserved on Windows \((CON|PRN|AUX|NUL|COM\d|LPT\d) is a device name there, with any extension\)$/,
      );
      expect(err.exitCode).toBe(2);
    }
    for (const version of ['con', 'NUL.1', 'com1']) {
      const err = await rejects(registry.register({ path: f, name: 'm', version }), 'INVALID_NAME');
      expect(err.message).toMatch(/^version ".+" is reserved on Windows/);
    }
    expect(existsSync(join(home, 'models'))).toBe(false);
    // Only the device names themselves: longer names that begin with them are fine.
    for (const name of ['console', 'auxiliary', 'com10', 'lpt', 'nul-model', 'org/con-model', 'connect.v2', 'com1x']) {
      expect((await registry.register({ path: f, name })).manifest.name).toBe(name);
    }
    // References are read, not created: an old registry's model of such a name stays reachable (here: absent).
    await rejects(registry.resolve('aux'), 'NOT_FOUND');
    expect((await registry.validate()).ok).toBe(true);
  });

  it('removes nothing when the reference moved after the confirmation was asked', async () => {
    const { registry, dir } = setup();
    const f = join(dir, 'w.safetensors');
    writeSafetensors(f, 256);
    await registry.register({ path: f, name: 'm', aliases: ['production'] });
    const plan = await registry.planRemove('m@production');
    await registry.register({ path: f, name: 'm', tags: { another: 'version' } });
    await registry.tag('m:1.0.1', 'production');
    await rejects(registry.remove('m@production', { expect: plan.map((p) => p.version) }), 'CONFLICT');
    expect((await registry.list()).entries.map((e) => e.version)).toEqual(['1.0.0', '1.0.1']);
  });
});

describe('references, aliases and removal', () => {
  async function three(): Promise<{ registry: Registry; home: string; dir: string }> {
    const s = setup();
    for (let i = 0; i < 3; i++) {
      const f = join(s.dir, `w${i}.safetensors`);
      writeSafetensors(f, 1024, i);
      await s.registry.register({ path: f, name: 'm', ...(i === 0 ? { aliases: ['production'] } : {}) });
    }
    return s;
  }

  it('resolves name, name:version, name@alias and latest', async () => {
    const { registry } = await three();
    expect((await registry.resolve('m')).version).toBe('1.0.2');
    expect((await registry.resolve('m@latest')).version).toBe('1.0.2');
    expect((await registry.resolve('m:1.0.1')).version).toBe('1.0.1');
    expect((await registry.resolve('m@production')).version).toBe('1.0.0');
    await rejects(registry.resolve('m:9.9.9'), 'NOT_FOUND');
    await rejects(registry.resolve('m@staging'), 'NOT_FOUND');
    await rejects(registry.resolve('nope'), 'NOT_FOUND');
    await rejects(registry.resolve('./file.onnx'), 'INVALID_REFERENCE');
  });

  it('moves and removes aliases; latest cannot be removed', async () => {
    const { registry } = await three();
    expect(await registry.tag('m:1.0.1', 'production')).toEqual({ name: 'm', version: '1.0.1', alias: 'production', previous: '1.0.0' });
    expect((await registry.info('m:1.0.1')).aliases).toEqual(['production']);
    expect(await registry.untag('m', 'production')).toEqual({ name: 'm', alias: 'production', version: '1.0.1' });
    await rejects(registry.untag('m', 'production'), 'NOT_FOUND');
    await rejects(registry.untag('m', 'latest'), 'USAGE');
    await rejects(registry.tag('m:1.0.1', 'Bad Alias'), 'INVALID_NAME');
  });

  it('removes one version, moves latest back, frees only unshared blobs', async () => {
    const { registry, home } = await three();
    await rejects(registry.remove('m'), 'USAGE');
    const r = await registry.remove('m:1.0.2');
    expect(r.removed.map((x) => x.version)).toEqual(['1.0.2']);
    expect(r.aliasesRemoved).toEqual(['latest']);
    expect(r.blobsRemoved).toBe(1);
    expect((await registry.resolve('m')).version).toBe('1.0.1');
    const all = await registry.remove('m', { allVersions: true });
    expect(all.removed.map((x) => x.version).sort()).toEqual(['1.0.0', '1.0.1']);
    expect(blobCount(home)).toBe(0);
    expect(existsSync(join(home, 'models', 'm'))).toBe(false);
    expect((await registry.validate({ strict: true })).ok).toBe(true);
  });

  it('lists with filters and last-use times', async () => {
    const { registry, dir } = await three();
    const f = join(dir, 'x.safetensors');
    writeSafetensors(f, 256);
    await registry.register({ path: f, name: 'org/a', tags: { team: 'ml' } });
    await registry.register({ path: f, name: 'org/b', tags: { team: 'cv' } });
    await registry.touch('m:1.0.1');
    const list = async (filter: Parameters<Registry['list']>[0]): Promise<string[]> =>
      (await registry.list(filter)).entries.map((e) => `${e.name}:${e.version}`);
    expect(await list({})).toEqual(['m:1.0.0', 'm:1.0.1', 'm:1.0.2', 'org/a:1.0.0', 'org/b:1.0.0']);
    expect(await list({ name: 'org/*' })).toEqual(['org/a:1.0.0', 'org/b:1.0.0']);
    expect(await list({ tags: ['team=ml'] })).toEqual(['org/a:1.0.0']);
    expect(await list({ tags: ['team'] })).toEqual(['org/a:1.0.0', 'org/b:1.0.0']);
    expect(await list({ format: 'onnx' })).toEqual([]);
    const entries = (await registry.list({ name: 'm' })).entries;
    expect(entries.map((e) => e.lastUsed !== null)).toEqual([false, true, false]);
    expect(entries.map((e) => e.aliases)).toEqual([['production'], [], ['latest']]);
  });
});

describe('validate', () => {
  it('finds a flipped byte, a hand-edited manifest, a missing blob and a dangling alias', async () => {
    const { registry, home, dir } = setup();
    const digests: string[] = [];
    for (const name of ['a', 'b', 'c']) {
      const f = join(dir, `${name}.safetensors`);
      writeSafetensors(f, 2048);
      digests.push((await registry.register({ path: f, name })).manifest.files[0]!.sha256);
    }
    expect((await registry.validate()).ok).toBe(true);
    const blobA = join(home, 'blobs', 'sha256', digests[0]!.slice(0, 2), digests[0]!);
    flipByte(blobA, 100);
    editFile(join(home, 'models', 'b', 'versions', '1.0.0.json'), '"task": null', '"task": "text-classification"');
    const { unlinkSync } = await import('node:fs');
    unlinkSync(join(home, 'blobs', 'sha256', digests[2]!.slice(0, 2), digests[2]!));
    writeFileSync(join(home, 'models', 'c', 'aliases.json'), JSON.stringify({ latest: '1.0.0', production: '7.0.0' }));
    const r = await registry.validate();
    expect(r.ok).toBe(false);
    expect(r.problems.map((p) => `${p.kind} ${p.ref}`)).toEqual([
      'corrupt-blob a:1.0.0',
      'corrupt-manifest b:1.0.0',
      'missing-blob c:1.0.0',
      'dangling-alias c@production',
    ]);
    expect(r.problems.find((p) => p.kind === 'corrupt-manifest')?.message).toContain('modified after it was written');
    // Reading a broken manifest is a clear error, never a crash. list reads the per-model index (derived data
    // written under the lock), so it still shows b as registered; validate and info are what read the manifest.
    await rejects(registry.resolve('b'), 'CORRUPT_MANIFEST');
    expect((await registry.list()).entries.map((e) => e.name)).toEqual(['a', 'b', 'c']);
  });

  it('lists from the manifests when a model index is missing or disagrees with its versions', async () => {
    const { registry, home, dir } = setup();
    const f = join(dir, 'a.safetensors');
    writeSafetensors(f, 1024);
    await registry.register({ path: f, name: 'a' });
    await registry.register({ path: f, name: 'a', description: 'same bytes, another version' });
    const index = join(home, 'models', 'a', 'index.json');
    const full = readFileSync(index, 'utf8');
    // As a crash between the manifest and the index would leave it: the index lacks the newest version.
    const { versions } = JSON.parse(full) as { versions: Record<string, unknown> };
    delete versions['1.0.1'];
    writeFileSync(index, JSON.stringify({ versions }));
    expect((await registry.list()).entries.map((e) => e.version)).toEqual(['1.0.0', '1.0.1']);
    writeFileSync(index, 'not json');
    expect((await registry.list()).entries.map((e) => e.version)).toEqual(['1.0.0', '1.0.1']);
    // A broken manifest behind a missing index is reported, and the rest still lists.
    const { unlinkSync } = await import('node:fs');
    unlinkSync(index);
    editFile(join(home, 'models', 'a', 'versions', '1.0.0.json'), '"tags": {}', '"tags": {"x": "y"}');
    const listed = await registry.list();
    expect(listed.entries.map((e) => e.version)).toEqual(['1.0.1']);
    expect(listed.failures.map((x) => `${x.name}:${x.version}`)).toEqual(['a:1.0.0']);
  });

  it('reports orphan blobs and stale temporary files as garbage, not damage', async () => {
    const { registry, home, dir } = setup();
    const f = join(dir, 'a.safetensors');
    writeSafetensors(f, 1024);
    await registry.register({ path: f, name: 'a' });
    const orphan = createHash('sha256').update('orphan').digest('hex');
    const { mkdirSync, utimesSync } = await import('node:fs');
    mkdirSync(join(home, 'blobs', 'sha256', orphan.slice(0, 2)), { recursive: true });
    writeFileSync(join(home, 'blobs', 'sha256', orphan.slice(0, 2), orphan), 'orphan');
    writeFileSync(join(home, 'tmp', 'blob.1.abc.tmp'), 'partial');
    const old = new Date(Date.now() - 2 * 3600_000);
    utimesSync(join(home, 'tmp', 'blob.1.abc.tmp'), old, old);
    const r = await registry.validate();
    expect(r.ok).toBe(true);
    expect(r.garbage).toMatchObject({ orphanBlobs: 1, orphanBytes: 6, staleTmpFiles: 1, staleTmpBytes: 7 });
    expect((await registry.validate({ strict: true })).ok).toBe(false);
    const gc = await registry.gc();
    expect([gc.blobsRemoved, gc.tmpRemoved, gc.bytesFreed]).toEqual([1, 1, 13]);
    expect((await registry.validate({ strict: true })).ok).toBe(true);
  });
});
