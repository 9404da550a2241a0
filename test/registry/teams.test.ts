import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Registry } from '../../src/index.js';
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
