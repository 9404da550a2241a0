import { execa } from 'execa';
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Registry } from '../../src/index.js';
import { writerPid } from '../../src/registry/sweep.js';
import { FIXTURES, tempDir } from '../helpers.js';

async function deadPid(): Promise<number> {
  return Number((await execa('node', ['-e', 'console.log(process.pid)'])).stdout);
}

const HOUR = 3_600_000;

function age(path: string, ms: number): void {
  const t = new Date(Date.now() - ms);
  utimesSync(path, t, t);
}

async function twoVersions(): Promise<{ registry: Registry; home: string }> {
  const home = tempDir();
  const registry = new Registry({ home });
  await registry.register({ path: join(FIXTURES, 'iris-logreg'), name: 'iris', aliases: ['production'] });
  await registry.register({ path: join(FIXTURES, 'onnx-external'), name: 'ext' });
  return { registry, home };
}

describe('leftovers of killed processes', () => {
  it('validate counts each kind (strict fails on them), gc removes them all, and strict is clean after one gc', async () => {
    const { registry, home } = await twoVersions();
    const ext = await registry.resolve('ext');
    const dead = await deadPid();
    const tmp = join(home, 'tmp');
    mkdirSync(tmp, { recursive: true });
    // A killed pull's staging folder, holding a hard link to a stored blob (which must survive).
    const stage = join(tmp, `pull-stage.${dead}.0123456789ab.tmp`);
    mkdirSync(stage);
    linkSync(registry.store.layout.blob(ext.files[0]!.sha256), join(stage, 'model.onnx'));
    // A view being built by a killed predict, an upload cut short by a killed serve.
    mkdirSync(join(tmp, `view.${dead}.0123456789ac.tmp`, 'onnx'), { recursive: true });
    mkdirSync(join(tmp, `upload.${dead}.0123456789ad.tmp`));
    writeFileSync(join(tmp, `upload.${dead}.0123456789ad.tmp`, 'model.onnx'), 'twelve bytes');
    for (const n of readdirSync(tmp)) age(join(tmp, n), 2 * HOUR);
    age(join(tmp, `view.${dead}.0123456789ac.tmp`, 'onnx'), 2 * HOUR);
    age(join(tmp, `upload.${dead}.0123456789ad.tmp`, 'model.onnx'), 2 * HOUR);
    // A view, a usage record and a baseline of a version an interrupted rm removed.
    mkdirSync(join(home, 'views', 'a'.repeat(32)), { recursive: true });
    mkdirSync(join(home, 'usage', 'ext'), { recursive: true });
    writeFileSync(join(home, 'usage', 'ext', '0.1.0'), '');
    mkdirSync(join(home, 'bench', 'iris', '0.1.0'), { recursive: true });
    writeFileSync(join(home, 'bench', 'iris', '0.1.0', 'cpu.json'), '{}');
    // A model folder a kill left without versions.
    mkdirSync(join(home, 'models', 'gone', 'versions'), { recursive: true });
    writeFileSync(join(home, 'models', 'gone', 'index.json'), '{"versions":{}}');

    const before = await registry.validate({ strict: true });
    expect(before.problems).toEqual([]);
    expect(before.garbage).toMatchObject({ staleTmpFiles: 3, staleTmpBytes: 12, staleViews: 1, staleRecords: 2, emptyModels: ['gone'] });
    expect(before.ok).toBe(false);
    expect((await registry.validate()).ok).toBe(true); // garbage, not damage

    const dry = await registry.gc({ dryRun: true });
    expect(dry).toMatchObject({ tmpRemoved: 3, viewsRemoved: 1, recordsRemoved: 2, emptyModelsRemoved: ['gone'] });
    expect(existsSync(stage)).toBe(true);

    const gc = await registry.gc();
    expect(gc).toMatchObject({
      tmpRemoved: 3,
      tmpBytes: 12,
      viewsRemoved: 1,
      recordsRemoved: 2,
      emptyModelsRemoved: ['gone'],
      evicted: [],
    });
    expect(readdirSync(tmp)).toEqual([]);
    expect(readdirSync(join(home, 'models')).sort()).toEqual(['ext', 'iris']);
    expect(existsSync(join(home, 'usage', 'ext'))).toBe(false);
    expect(existsSync(join(home, 'bench', 'iris'))).toBe(false);
    expect(await registry.validate({ strict: true })).toMatchObject({ ok: true, versions: 2, problems: [] });
  });

  it('keeps what a live process is writing or using, whatever the grace, and young entries within it', async () => {
    const { registry, home } = await twoVersions();
    const ext = await registry.resolve('ext');
    const view = await registry.materialize(ext); // a live version's view
    const tmp = join(home, 'tmp');
    const mine = join(tmp, `view.${process.pid}.0123456789ae.tmp`); // a view this (live) process is building
    mkdirSync(mine);
    age(mine, 5 * HOUR);
    const young = join(tmp, `upload.${await deadPid()}.0123456789af.tmp`);
    mkdirSync(young);
    const unnamed = join(tmp, 'stray-file');
    writeFileSync(unnamed, 'x');
    age(unnamed, 2 * HOUR);

    expect((await registry.validate()).garbage).toMatchObject({ staleTmpFiles: 1, activeTmpFiles: 2, staleViews: 0 });
    expect((await registry.gc()).tmpRemoved).toBe(1);
    expect([existsSync(mine), existsSync(young), existsSync(unnamed), existsSync(view)]).toEqual([true, true, false, true]);
    // With no grace at all, only the live writer's entry stays.
    expect((await registry.gc({ graceMs: 0 })).tmpRemoved).toBe(1);
    expect(readdirSync(tmp)).toEqual([`view.${process.pid}.0123456789ae.tmp`]);
    expect(existsSync(join(view, 'weights.bin'))).toBe(true);
  });

  it('reads the writer pid from every kind of temporary name', () => {
    expect(writerPid('blob.1234.0123456789ab.tmp')).toBe(1234);
    expect(writerPid('.aliases.json.77.0123456789ab.tmp')).toBe(77);
    expect(writerPid('.embed.12.abcdef012345.tmp.12.0123456789ab.tmp')).toBe(12);
    expect(writerPid(`pull-sha256-${'c'.repeat(64)}.4321.0123456789ab.part`)).toBe(4321);
    expect(writerPid(`lock.${'f'.repeat(24)}.tmp`)).toBeUndefined();
    expect(writerPid('stray-file')).toBeUndefined();
  });

  it('an empty model folder no longer blocks a name differing only in case', async () => {
    const { registry, home } = await twoVersions();
    mkdirSync(join(home, 'models', 'bert', 'versions'), { recursive: true });
    const r = await registry.register({ path: join(FIXTURES, 'onnx-handbuilt'), name: 'Bert' });
    expect(r.manifest.name).toBe('Bert');
    expect(readdirSync(join(home, 'models')).sort()).toEqual(['Bert', 'ext', 'iris']);
  });

  it('gc drops aliases naming a missing version and moves a dangling latest to the newest version', async () => {
    const { registry, home } = await twoVersions();
    await registry.register({ path: join(FIXTURES, 'onnx-handbuilt'), name: 'iris' });
    // What an rm on a full disk leaves when it is killed between removing a version and rewriting the aliases.
    const aliases = join(home, 'models', 'iris', 'aliases.json');
    writeFileSync(aliases, JSON.stringify({ latest: '1.0.2', production: '1.0.0', staging: '1.0.2' }));
    expect((await registry.validate()).problems.map((p) => `${p.kind} ${p.ref}`).sort()).toEqual([
      'dangling-alias iris@latest',
      'dangling-alias iris@staging',
    ]);
    const gc = await registry.gc();
    expect(gc.aliasesFixed.sort()).toEqual(['iris@latest', 'iris@staging']);
    expect(JSON.parse(readFileSync(aliases, 'utf8'))).toEqual({ latest: '1.0.1', production: '1.0.0' });
    expect(await registry.validate({ strict: true })).toMatchObject({ ok: true, problems: [] });
  });

  it('rm rewrites the model index after freeing space; a missing index is written again', async () => {
    const { registry, home } = await twoVersions();
    await registry.register({ path: join(FIXTURES, 'onnx-handbuilt'), name: 'iris' });
    const index = join(home, 'models', 'iris', 'index.json');
    await registry.remove('iris:1.0.1');
    expect(Object.keys(JSON.parse(readFileSync(index, 'utf8')).versions)).toEqual(['1.0.0']);
    writeFileSync(index, '{"versions":{}}'); // stale: names other versions
    await registry.gc();
    expect(Object.keys(JSON.parse(readFileSync(index, 'utf8')).versions)).toEqual(['1.0.0']);
  });
});
