/**
 * Issue 18, writing out and `hf download` habits, against the loopback Hub: --local-dir and checkout, the HF
 * cache write-through read back by the real huggingface_hub (offline), --repo-type, file names as arguments,
 * --dry-run, --force-download, the stall timeout, the User-Agent, and the error texts.
 */
import { execa } from 'execa';
import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { planPull, pull } from '../../src/pull/pull.js';
import { checkout } from '../../src/pull/write-out.js';
import { VERSION } from '../../src/version.js';
import { rejection as failure, tempDir } from '../helpers.js';
import { parityPython } from '../parity/reference.js';
import { BERT_DEFAULT, CONFIG, bertHub, bertRepo, fileContent, registry, writeHfCache } from './fixtures.js';
import { gitBlobId, newCommitId, sha256, type FixtureFile } from './server.js';

const READ_CACHE = join(resolve(dirname(fileURLToPath(import.meta.url))), 'py', 'read_hf_cache.py');

const hub = bertHub();

const fileGets = () => hub.server.requests.filter((q) => q.method === 'GET' && (q.server === 'cdn' || q.path.includes('/resolve/')));

describe('writing a version out (--local-dir, checkout)', () => {
  it('pull --local-dir writes byte-identical copies at the exact paths, never links into the store', async () => {
    const reg = registry();
    const dir = join(tempDir(), 'out', 'tiny');
    const r = await pull(hub.opts(reg, 'hf:acme/tiny-bert', { localDir: dir }));
    expect(r.localDir?.written.sort()).toEqual(BERT_DEFAULT);
    for (const f of r.manifest.files) {
      const out = join(dir, f.path);
      expect(readFileSync(out).equals(fileContent(hub.bert.files, f.path))).toBe(true);
      const st = statSync(out);
      expect(st.nlink).toBe(1);
      expect(st.ino).not.toBe(statSync(reg.store.layout.blob(f.sha256)).ino);
    }
    // Again: everything is there with the same content; nothing is written or downloaded.
    const before = fileGets().length;
    const again = await pull(hub.opts(reg, 'hf:acme/tiny-bert', { localDir: dir }));
    expect(again.upToDate).toBe(true);
    expect(again.localDir).toMatchObject({ written: [], same: expect.arrayContaining(BERT_DEFAULT) });
    expect(fileGets().length).toBe(before);
    expect((await reg.validate()).ok).toBe(true);
  });

  it('refuses a folder holding other content (CONFLICT, exit 8) before downloading or registering; --force overwrites', async () => {
    const reg = registry();
    const dir = tempDir();
    writeFileSync(join(dir, 'config.json'), '{"mine": true}');
    const err = await failure(pull(hub.opts(reg, 'hf:acme/tiny-bert', { localDir: dir })));
    expect([err.code, err.exitCode]).toEqual(['CONFLICT', 8]);
    expect(err.message).toMatch(/already holds other content at config\.json/);
    expect(err.hint).toMatch(/--force/);
    expect(fileGets()).toEqual([]);
    expect((await reg.list()).entries).toEqual([]);
    expect(readFileSync(join(dir, 'config.json'), 'utf8')).toBe('{"mine": true}');
    const r = await pull(hub.opts(reg, 'hf:acme/tiny-bert', { localDir: dir, force: true }));
    expect(readFileSync(join(dir, 'config.json')).equals(CONFIG)).toBe(true);
    expect(r.localDir?.written).toContain('config.json');
  });

  it('checkout writes a registered version into a folder, refuses other content unless forced', async () => {
    const reg = registry();
    const pulled = await pull(hub.opts(reg, 'hf:acme/tiny-bert'));
    const ref = `${pulled.manifest.name}:${pulled.manifest.version}`;
    const dir = tempDir();
    const first = await checkout({ registry: reg, ref, dir });
    expect(first.written.sort()).toEqual(BERT_DEFAULT);
    for (const p of BERT_DEFAULT) expect(readFileSync(join(dir, p)).equals(fileContent(hub.bert.files, p))).toBe(true);
    writeFileSync(join(dir, 'vocab.txt'), 'edited');
    const err = await failure(checkout({ registry: reg, ref, dir }));
    expect([err.code, err.exitCode]).toEqual(['CONFLICT', 8]);
    expect(readFileSync(join(dir, 'vocab.txt'), 'utf8')).toBe('edited');
    const forced = await checkout({ registry: reg, ref, dir, force: true });
    expect(forced.written).toEqual(['vocab.txt']);
    expect(readFileSync(join(dir, 'vocab.txt')).equals(fileContent(hub.bert.files, 'vocab.txt'))).toBe(true);
    // Editing the checked-out copy never touches the registry.
    expect((await reg.validate()).ok).toBe(true);
  });

  it('offline, --local-dir writes out a version the registry holds, without the HF cache or the network', async () => {
    const reg = registry();
    await pull(hub.opts(reg, 'hf:acme/tiny-bert'));
    const before = hub.server.requests.length;
    const dir = tempDir();
    const env = { HF_ENDPOINT: hub.server.url, HF_HOME: tempDir(), HF_HUB_OFFLINE: '1' };
    const r = await pull(hub.opts(reg, 'hf:acme/tiny-bert', { env, localDir: dir }));
    expect(r.upToDate).toBe(true);
    expect(r.localDir?.written.sort()).toEqual(BERT_DEFAULT);
    for (const p of BERT_DEFAULT) expect(readFileSync(join(dir, p)).equals(fileContent(hub.bert.files, p))).toBe(true);
    expect(hub.server.requests.length).toBe(before);
  });
});

describe('HF cache write-through', () => {
  it('writes the HF cache layout that the real huggingface_hub reads offline; a damaged blob is replaced', async () => {
    const python = parityPython();
    if (!python) return;
    const reg = registry();
    const cache = join(hub.hfHome, 'hub');
    const r = await pull(hub.opts(reg, 'hf:acme/tiny-bert', { hfCache: true }));
    const root = join(cache, 'models--acme--tiny-bert');
    expect(r.hfCache?.dir).toBe(root);
    expect(readFileSync(join(root, 'refs', 'main'), 'utf8')).toBe(hub.bert.commit);
    const link = join(root, 'snapshots', hub.bert.commit, 'model.safetensors');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(`../../blobs/${sha256(fileContent(hub.bert.files, 'model.safetensors'))}`);
    expect(readFileSync(join(root, 'blobs', gitBlobId(CONFIG))).equals(CONFIG)).toBe(true);
    expect(readdirSync(join(root, 'blobs')).every((n) => /^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(n))).toBe(true);

    // Damage one blob; a second write-through (the env switch this time) replaces it.
    writeFileSync(join(root, 'blobs', gitBlobId(CONFIG)), CONFIG.toString().replace('bert', 'BERT'));
    const env = { HF_ENDPOINT: hub.server.url, HF_HOME: hub.hfHome, MODELCTL_HF_CACHE_WRITE: '1' };
    const again = await pull(hub.opts(reg, 'hf:acme/tiny-bert', { env }));
    expect(again.upToDate).toBe(true);
    expect(again.hfCache?.replaced).toEqual(['config.json']);

    const read = await execa(python, [READ_CACHE], {
      input: JSON.stringify({ cache_dir: cache, repo_id: 'acme/tiny-bert', repo_type: 'model', revision: 'main', files: BERT_DEFAULT }),
      reject: false,
      env: { HF_HOME: hub.hfHome, HF_ENDPOINT: 'http://127.0.0.1:9' },
    });
    expect(read.exitCode, read.stderr).toBe(0);
    const got = JSON.parse(read.stdout) as { folder: string; snapshot: Record<string, string>; single: Record<string, string> };
    expect(got.folder).toBe(join(root, 'snapshots', hub.bert.commit));
    const want = Object.fromEntries(BERT_DEFAULT.map((p) => [p, sha256(fileContent(hub.bert.files, p))]));
    expect(got.snapshot).toEqual(want);
    expect(got.single).toEqual(want);
  });

  it('is off by default', async () => {
    await pull(hub.opts(registry(), 'hf:acme/tiny-bert'));
    expect(() => readdirSync(join(hub.hfHome, 'hub'))).toThrow();
  });
});

describe('hf download habits', () => {
  it('--repo-type dataset uses the datasets/ prefix, its own cache folder, and huggingface_hub reads it back', async () => {
    const commit = newCommitId();
    const files: FixtureFile[] = [
      { path: 'config.json', content: CONFIG },
      { path: 'data/model.safetensors', content: fileContent(hub.bert.files, 'model.safetensors'), lfs: true },
    ];
    hub.server.addRepo({ id: 'acme/tiny-bert', type: 'dataset', refs: { main: commit }, commits: { [commit]: files } });
    const reg = registry();
    const r = await pull(hub.opts(reg, 'acme/tiny-bert', { repoType: 'dataset', name: 'acme/tiny-set', hfCache: true, include: ['*'] }));
    expect(r.manifest.lineage.source).toMatchObject({ kind: 'hub', repo: 'acme/tiny-bert', repoType: 'dataset', commit });
    const hubCalls = hub.server.requests.filter((q) => q.server === 'hub');
    expect(hubCalls.some((q) => q.path.startsWith('/api/datasets/acme/tiny-bert/tree/main'))).toBe(true);
    expect(hubCalls.filter((q) => q.path.includes('/resolve/')).every((q) => q.path.startsWith('/datasets/acme/tiny-bert/resolve/'))).toBe(
      true,
    );
    expect(r.hfCache?.dir).toBe(join(hub.hfHome, 'hub', 'datasets--acme--tiny-bert'));
    const python = parityPython();
    if (!python) return;
    const read = await execa(python, [READ_CACHE], {
      input: JSON.stringify({
        cache_dir: join(hub.hfHome, 'hub'),
        repo_id: 'acme/tiny-bert',
        repo_type: 'dataset',
        revision: 'main',
        files: ['data/model.safetensors'],
      }),
      reject: false,
    });
    expect(read.exitCode, read.stderr).toBe(0);
    expect((JSON.parse(read.stdout) as { single: Record<string, string> }).single).toEqual({
      'data/model.safetensors': sha256(fileContent(hub.bert.files, 'model.safetensors')),
    });
  });

  it('takes exactly the files named after the repo; a missing one is NOT_FOUND', async () => {
    const reg = registry();
    const r = await pull(hub.opts(reg, 'acme/tiny-bert', { files: ['config.json', 'model.safetensors'] }));
    expect(r.manifest.files.map((f) => f.path).sort()).toEqual(['config.json', 'model.safetensors']);
    const err = await failure(pull(hub.opts(registry(), 'acme/tiny-bert', { files: ['config.json', 'nope.onnx'] })));
    expect([err.code, err.exitCode]).toEqual(['NOT_FOUND', 3]);
    expect(err.message).toMatch(/^nope\.onnx not found in hf:acme\/tiny-bert@main/);
  });

  it('--dry-run lists files, sizes and what is cached; downloads and registers nothing', async () => {
    const reg = registry();
    await pull(hub.opts(reg, 'acme/tiny-bert', { files: ['model.safetensors'], name: 'other/copy' }));
    writeHfCache(
      join(hub.hfHome, 'hub'),
      'acme/tiny-bert',
      hub.bert.commit,
      hub.bert.files.filter((f) => f.path === 'vocab.txt'),
    );
    const before = fileGets().length;
    const plan = await planPull(hub.opts(reg, 'acme/tiny-bert'));
    expect(fileGets().length).toBe(before);
    expect(plan.commit).toBe(hub.bert.commit);
    expect(plan.ref).toBe(`acme/tiny-bert:${hub.bert.commit.slice(0, 7)}`);
    expect(plan.registered).toBe(false);
    const where: Record<string, string> = { 'model.safetensors': 'store', 'vocab.txt': 'hf-cache' };
    expect(plan.files.map((f) => [f.path, f.size, f.have])).toEqual(
      BERT_DEFAULT.map((p) => [p, fileContent(hub.bert.files, p).length, where[p] ?? null]),
    );
    expect(plan.toDownload).toBe(BERT_DEFAULT.filter((p) => !where[p]).reduce((n, p) => n + fileContent(hub.bert.files, p).length, 0));
    expect((await reg.list({ name: 'acme/tiny-bert' })).entries).toEqual([]);
  });

  it('--force-download downloads again what the store already holds', async () => {
    const reg = registry();
    await pull(hub.opts(reg, 'acme/tiny-bert'));
    const before = fileGets().length;
    const r = await pull(hub.opts(reg, 'acme/tiny-bert', { forceDownload: true }));
    expect(r.upToDate).toBe(true);
    expect(fileGets().length - before).toBeGreaterThanOrEqual(BERT_DEFAULT.length);
    expect(r.downloadedBytes).toBe(BERT_DEFAULT.reduce((n, p) => n + fileContent(hub.bert.files, p).length, 0));
  });

  it('a stalled download fails after --timeout seconds without a byte, naming the timeout', async () => {
    hub.server.faults.slow.set(sha256(fileContent(hub.bert.files, 'model.safetensors')), 1);
    const err = await failure(pull(hub.opts(registry(), 'acme/tiny-bert', { timeout: 0.5, retries: 0 })));
    expect([err.code, err.exitCode]).toEqual(['NETWORK', 7]);
    expect(err.message).toMatch(/no data for 0\.5 s/);
    expect(err.hint).toMatch(/--timeout/);
    const bad = await failure(
      pull(
        hub.opts(registry(), 'acme/tiny-bert', {
          env: { HF_ENDPOINT: hub.server.url, HF_HOME: hub.hfHome, HF_HUB_DOWNLOAD_TIMEOUT: 'soon' },
        }),
      ),
    );
    expect([bad.code, bad.message]).toEqual(['USAGE', expect.stringMatching(/^HF_HUB_DOWNLOAD_TIMEOUT takes seconds/)]);
  });

  it('sends User-Agent modelctl/VERSION on every Hub and CDN request', async () => {
    await pull(hub.opts(registry(), 'acme/tiny-bert'));
    expect(hub.server.requests.length).toBeGreaterThan(BERT_DEFAULT.length);
    expect(new Set(hub.server.requests.map((q) => q.userAgent))).toEqual(new Set([`modelctl/${VERSION}`]));
  });
});

describe('error texts (issue 18)', () => {
  it('an unusable pull names the repo and what is missing, never the tmp/ staging folder', async () => {
    const err = await failure(pull(hub.opts(registry(), 'acme/tiny-bert', { files: ['config.json', 'vocab.txt'] })));
    expect(err.code).toBe('UNKNOWN_FORMAT');
    expect(err.message).toMatch(/^hf:acme\/tiny-bert@main: has config\.json but no weights \(model\.safetensors/);
    expect(`${err.message} ${err.hint ?? ''}`).not.toMatch(/pull-stage|\/tmp\//);
  });

  it('--offline alone is named as --offline, not HF_HUB_OFFLINE', async () => {
    const err = await failure(pull(hub.opts(registry(), 'acme/tiny-bert', { offline: true })));
    expect(err.message).toMatch(/^offline \(--offline was given\)/);
    expect(`${err.message} ${err.hint}`).not.toMatch(/HF_HUB_OFFLINE/);
  });

  it('gated and private repo hints name the configured endpoint, not huggingface.co', async () => {
    const gated = bertRepo('acme/gated');
    gated.repo.gated = true;
    hub.server.addRepo(gated.repo);
    const err = await failure(pull(hub.opts(registry(), 'hf:acme/gated')));
    expect(err.code).toBe('PERMISSION_DENIED');
    expect(err.hint).toContain(`${hub.server.url}/acme/gated`);
    expect(err.hint).toContain(`${hub.server.url}/settings/tokens`);
    expect(err.hint).not.toMatch(/huggingface\.co/);
  });
});
