import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Registry } from '../../src/index.js';
import { manifestDigest } from '../../src/registry/manifest.js';
import { rejects, tempDir, writeSafetensors } from '../helpers.js';

function setup(): { registry: Registry; dir: string } {
  return { registry: new Registry({ home: tempDir() }), dir: tempDir() };
}

/** A distinct small safetensors file per call (random content). */
function model(dir: string, name: string): string {
  const file = join(dir, `${name}.safetensors`);
  writeSafetensors(file, 256);
  return file;
}

describe('latest is the highest semver version (issue 18)', () => {
  it('stays on 1.10.0 when 1.2.0 is registered after it; pre-releases sort below their release', async () => {
    const { registry, dir } = setup();
    for (const version of ['1.9.0', '1.10.0', '1.2.0', '1.10.1-rc.1', '2.0.0-alpha', '2.0.0-alpha.1', '1.10.0-beta']) {
      await registry.register({ path: model(dir, version), name: 'm', version });
    }
    expect((await registry.resolve('m')).version).toBe('2.0.0-alpha.1');
    await registry.register({ path: model(dir, 'r'), name: 'm', version: '2.0.0' });
    await registry.register({ path: model(dir, 'rc'), name: 'm', version: '2.0.0-rc.1' });
    expect((await registry.resolve('m')).version).toBe('2.0.0');
    const { entries } = await registry.list({ name: 'm' });
    expect(entries.map((e) => e.version)).toEqual([
      '1.2.0',
      '1.9.0',
      '1.10.0-beta',
      '1.10.0',
      '1.10.1-rc.1',
      '2.0.0-alpha',
      '2.0.0-alpha.1',
      '2.0.0-rc.1',
      '2.0.0',
    ]);
    expect(entries.find((e) => e.aliases.includes('latest'))?.version).toBe('2.0.0');
    // The default version is the next patch of the highest, and it becomes latest.
    const next = await registry.register({ path: model(dir, 'n'), name: 'm' });
    expect(next.manifest.version).toBe('2.0.1');
    expect(next.aliases).toEqual(['latest']);
    // A lower version does not take latest, and says so by not listing it among the aliases it moved.
    const low = await registry.register({ path: model(dir, 'low'), name: 'm', version: '0.1.0' });
    expect(low.aliases).toEqual([]);
    // Removing latest moves it to the highest left.
    await registry.remove('m:2.0.1');
    expect((await registry.resolve('m')).version).toBe('2.0.0');
  });

  it('a registry holding versions made before the rule (v3, 7) still reads, lists and removes them', async () => {
    const { registry, dir } = setup();
    const { sealManifest } = await import('../../src/registry/manifest.js');
    const first = await registry.register({ path: model(dir, 'a'), name: 'm' });
    const { digest: _d, ...rest } = first.manifest;
    // As an older modelctl wrote them: the same files under versions that are not semver, registered later.
    for (const [version, at] of [
      ['v3', '2030-01-01T00:00:00.000Z'],
      ['7', '2030-01-02T00:00:00.000Z'],
    ] as const) {
      await registry.store.writeManifest(sealManifest({ ...rest, version, createdAt: at }));
    }
    await registry.store.writeAliases('m', { latest: '7' });
    expect((await registry.list({ name: 'm' })).entries.map((e) => e.version)).toEqual(['1.0.0', 'v3', '7']);
    expect((await registry.resolve('m')).version).toBe('7');
    expect((await registry.resolve('m:v3')).version).toBe('v3');
    expect((await registry.validate({ strict: true })).ok).toBe(true);
    // A new version defaults to the next patch of the highest semver one; an odd latest registered later keeps it.
    const next = await registry.register({ path: model(dir, 'b'), name: 'm' });
    expect([next.manifest.version, next.aliases]).toEqual(['1.0.1', []]);
    await registry.remove('m:7');
    expect((await registry.resolve('m')).version).toBe('v3');
    await registry.remove('m:v3');
    expect((await registry.resolve('m')).version).toBe('1.0.1');
  });

  it('refuses a version that is not semver (exit 2, with a hint)', async () => {
    const { registry, dir } = setup();
    const file = model(dir, 'a');
    for (const version of ['v3', '3', '1.2', 'release', '1.0.0.1']) {
      const err = await rejects(registry.register({ path: file, name: 'm', version }), 'INVALID_NAME', /not a semantic version/);
      expect(err.hint).toMatch(/MAJOR\.MINOR\.PATCH/);
      if (version === 'v3') expect(err.hint).toMatch(/e\.g\. 3\.0\.0/);
    }
    expect((await registry.list()).entries).toEqual([]);
  });
});

describe('same content, same version (issue 18)', () => {
  it('registering the same file again answers with the version that holds it', async () => {
    const { registry, dir } = setup();
    const file = model(dir, 'a');
    const first = await registry.register({ path: file, name: 'm', tags: { team: 'ml' } });
    const again = await registry.register({ path: file, name: 'm' });
    expect([first.upToDate, again.upToDate, again.manifest.digest]).toEqual([false, true, first.manifest.digest]);
    expect([again.newBlobs, again.reusedBlobs, again.aliases]).toEqual([0, 1, []]);
    // The same tags (a subset of the version's), the same explicit version: still the same version.
    expect((await registry.register({ path: file, name: 'm', tags: { team: 'ml' }, version: '1.0.0' })).upToDate).toBe(true);
    // An alias asked for moves to the version that holds the content.
    const aliased = await registry.register({ path: file, name: 'm', aliases: ['production'] });
    expect([aliased.upToDate, aliased.aliases]).toEqual([true, ['production']]);
    expect((await registry.resolve('m@production')).version).toBe('1.0.0');
    // Other metadata, or another explicit version, is a new version as asked.
    expect((await registry.register({ path: file, name: 'm', tags: { team: 'cv' } })).manifest.version).toBe('1.0.1');
    expect((await registry.register({ path: file, name: 'm', version: '2.0.0' })).manifest.version).toBe('2.0.0');
    expect((await registry.register({ path: file, name: 'm', task: 'text-classification' })).manifest.version).toBe('2.0.1');
    // Under another name it is another model.
    expect((await registry.register({ path: file, name: 'other' })).upToDate).toBe(false);
    expect((await registry.list({ name: 'm' })).entries.map((e) => e.version)).toEqual(['1.0.0', '1.0.1', '2.0.0', '2.0.1']);
  });
});

describe('editing tags, metrics and description (issue 18)', () => {
  it('writes a new sealed manifest for the same version and keeps the earlier states in its history', async () => {
    const { registry, dir } = setup();
    const file = model(dir, 'a');
    const first = await registry.register({ path: file, name: 'm', tags: { team: 'nlp', stage: 'dev' }, metrics: { f1: 0.5 } });
    const path = join(registry.home, 'models', 'm', 'versions', '1.0.0.json');
    const edited = await registry.edit('m:1.0.0', {
      tags: { team: 'ml' },
      untag: ['stage'],
      metrics: { accuracy: 0.93 },
      unmetric: ['f1'],
      description: 'logistic regression',
    });
    expect(edited.changed).toBe(true);
    expect(edited.previousDigest).toBe(first.manifest.digest);
    const m = await registry.resolve('m:1.0.0');
    expect(m).toMatchObject({ version: '1.0.0', tags: { team: 'ml' }, metrics: { accuracy: 0.93 }, description: 'logistic regression' });
    expect([m.files, m.createdAt, m.lineage]).toEqual([first.manifest.files, first.manifest.createdAt, first.manifest.lineage]);
    // Sealed: the file on disk is the new manifest, its digest is its content's, read-only; the old state is in history.
    const onDisk = JSON.parse(readFileSync(path, 'utf8'));
    expect(onDisk.digest).toBe(manifestDigest(onDisk));
    expect(onDisk.digest).not.toBe(first.manifest.digest);
    expect(statSync(path).mode & 0o222).toBe(0);
    expect(m.history).toEqual([
      { digest: first.manifest.digest, replacedAt: expect.any(String), tags: { team: 'nlp', stage: 'dev' }, metrics: { f1: 0.5 } },
    ]);
    // A second edit appends; an edit that changes nothing writes nothing.
    const cleared = await registry.edit('m', { description: null });
    expect([cleared.changed, cleared.manifest.description, cleared.manifest.history?.length]).toEqual([true, undefined, 2]);
    expect(cleared.manifest.history?.[1]).toMatchObject({ digest: m.digest, description: 'logistic regression' });
    const same = await registry.edit('m:1.0.0', { tags: { team: 'ml' } });
    expect([same.changed, same.manifest.digest]).toEqual([false, cleared.manifest.digest]);
    // list (from the index) and validate see the edit.
    expect((await registry.list({ tags: ['team=ml'] })).entries.map((e) => e.version)).toEqual(['1.0.0']);
    expect(await registry.validate({ strict: true })).toMatchObject({ ok: true, problems: [] });
    // Refusals: nothing to change, a bad key, set and removed at once, a missing version.
    await rejects(registry.edit('m:1.0.0', {}), 'USAGE', /nothing to change/);
    await rejects(registry.edit('m:1.0.0', { tags: { 'a b': 'x' } }), 'USAGE');
    await rejects(registry.edit('m:1.0.0', { metrics: { acc: Number.NaN } }), 'USAGE');
    await rejects(registry.edit('m:1.0.0', { tags: { k: 'v' }, untag: ['k'] }), 'USAGE', /both set and removed/);
    await rejects(registry.edit('m:9.9.9', { tags: { k: 'v' } }), 'NOT_FOUND');
  });

  it('a hand edit of an edited manifest is still detected', async () => {
    const { registry, dir } = setup();
    await registry.register({ path: model(dir, 'a'), name: 'm' });
    await registry.edit('m:1.0.0', { metrics: { accuracy: 0.9 } });
    const path = join(registry.home, 'models', 'm', 'versions', '1.0.0.json');
    const { chmodSync, writeFileSync } = await import('node:fs');
    chmodSync(path, 0o644);
    writeFileSync(path, readFileSync(path, 'utf8').replace('"accuracy": 0.9', '"accuracy": 0.99'));
    await rejects(registry.resolve('m:1.0.0'), 'CORRUPT_MANIFEST', /modified after it was written/);
  });
});

describe('search by metric (issue 18)', () => {
  it('list --metric: >, >=, <, <=, =, repeatable, AND with tags; metrics in every entry', async () => {
    const { registry, dir } = setup();
    const rows: Array<[string, Record<string, string>, Record<string, number>]> = [
      ['a', { team: 'nlp' }, { accuracy: 0.95, f1: 0.9 }],
      ['b', { team: 'nlp' }, { accuracy: 0.9 }],
      ['c', { team: 'nlp' }, { accuracy: 0.5 }],
      ['d', { team: 'cv' }, { accuracy: 0.99 }],
      ['e', { team: 'nlp' }, {}],
    ];
    for (const [name, tags, metrics] of rows) await registry.register({ path: model(dir, name), name, tags, metrics });
    const names = async (tags: string[], metrics: string[]): Promise<string[]> =>
      (await registry.list({ tags, metrics })).entries.map((e) => e.name);
    expect(await names(['team=nlp'], ['accuracy>=0.9'])).toEqual(['a', 'b']);
    expect(await names([], ['accuracy>0.9'])).toEqual(['a', 'd']);
    expect(await names([], ['accuracy<0.9'])).toEqual(['c']);
    expect(await names([], ['accuracy<=0.9'])).toEqual(['b', 'c']);
    expect(await names([], ['accuracy=0.9'])).toEqual(['b']);
    expect(await names([], ['accuracy >= 0.9', 'f1>0.5'])).toEqual(['a']);
    expect(await names(['team=nlp'], [])).toEqual(['a', 'b', 'c', 'e']);
    expect((await registry.list({ name: 'a' })).entries[0]).toMatchObject({ tags: { team: 'nlp' }, metrics: { accuracy: 0.95, f1: 0.9 } });
    for (const bad of ['accuracy', 'accuracy>>0.9', 'accuracy>=high', '>=0.9', 'accuracy~0.9']) {
      await rejects(registry.list({ metrics: [bad] }), 'USAGE', /metric condition/);
    }
  });

  it('an index written before summaries held metrics is read past, and rewritten by the next change', async () => {
    const { registry, dir } = setup();
    await registry.register({ path: model(dir, 'a'), name: 'a', metrics: { accuracy: 0.95 } });
    const index = join(registry.home, 'models', 'a', 'index.json');
    const { writeFileSync } = await import('node:fs');
    const old = JSON.parse(readFileSync(index, 'utf8'));
    for (const v of Object.values(old.versions) as Array<Record<string, unknown>>) delete v.metrics;
    writeFileSync(index, JSON.stringify(old));
    expect((await registry.list({ metrics: ['accuracy>0.9'] })).entries.map((e) => e.name)).toEqual(['a']);
    await registry.edit('a:1.0.0', { tags: { t: 'x' } });
    expect(Object.values(JSON.parse(readFileSync(index, 'utf8')).versions)[0]).toMatchObject({ metrics: { accuracy: 0.95 } });
  });
});

describe('gc, validate and list agree with what they report (issue 18)', () => {
  it('gc says "never" used for a version list calls never used, and gives its creation time apart', async () => {
    const { registry, dir } = setup();
    await registry.register({ path: model(dir, 'a'), name: 'unused' });
    await registry.register({ path: model(dir, 'b'), name: 'used' });
    await registry.touch('used');
    const listed = (await registry.list()).entries.map((e) => [e.name, e.lastUsed === null]);
    expect(listed).toEqual([
      ['unused', true],
      ['used', false],
    ]);
    const gc = await registry.gc({ olderThanMs: -1, keepAliased: false, dryRun: true });
    const byName = Object.fromEntries(gc.evicted.map((e) => [e.name, e]));
    expect(byName.unused?.lastUsed).toBeNull();
    expect(byName.unused?.createdAt).toBe((await registry.resolve('unused')).createdAt);
    expect(byName.used?.lastUsed).toBe((await registry.list({ name: 'used' })).entries[0]?.lastUsed);
  });
});

describe('list sizes with deduplication (issue 18)', () => {
  it('gives each version its size and the bytes only it holds, and the stored total', async () => {
    const { registry, dir } = setup();
    const { copyFileSync, mkdirSync } = await import('node:fs');
    const shared = model(dir, 'shared');
    const own = model(dir, 'own');
    const folder = join(dir, 'two');
    mkdirSync(folder);
    copyFileSync(shared, join(folder, 'model.safetensors'));
    const a = await registry.register({ path: shared, name: 'a' });
    const b = await registry.register({ path: own, name: 'b' });
    const sharedSize = a.manifest.size;
    const ownSize = b.manifest.size;
    await registry.register({ path: shared, name: 'c' }); // shares a's blob
    const { entries, storedSize } = await registry.list();
    expect(entries.map((e) => [e.name, e.size, e.uniqueSize])).toEqual([
      ['a', sharedSize, 0],
      ['b', ownSize, ownSize],
      ['c', sharedSize, 0],
    ]);
    expect(storedSize).toBe(sharedSize + ownSize);
    // A name filter still counts holders in other models.
    expect((await registry.list({ name: 'a' })).entries[0]?.uniqueSize).toBe(0);
    await registry.remove('c');
    expect((await registry.list({ name: 'a' })).entries[0]?.uniqueSize).toBe(sharedSize);
  });
});
