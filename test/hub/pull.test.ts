import { mkdirSync, readFileSync, readdirSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pull } from '../../src/pull/pull.js';
import type { Registry } from '../../src/registry/index.js';
import { LOCK_HOST } from '../../src/registry/lock.js';
import { tempDir } from '../helpers.js';
import { BERT_DEFAULT, bertHub, bertRepo, fileContent, registry, safetensors, writeHfCache } from './fixtures.js';
import { sha256, type FixtureFile } from './server.js';
import { rejection as failure } from '../helpers.js';

const hub = bertHub();

function tmpLeft(reg: Registry): string[] {
  try {
    return readdirSync(reg.store.layout.tmpDir);
  } catch {
    return [];
  }
}

describe('pull from a loopback Hub', () => {
  it('takes the default selection, verifies it, and registers it under the short commit with latest', async () => {
    const reg = registry();
    const r = await pull(hub.opts(reg, 'hf:acme/tiny-bert'));
    const m = r.manifest;
    expect(m.name).toBe('acme/tiny-bert');
    expect(m.version).toBe(hub.bert.commit.slice(0, 7));
    expect(m.format).toBe('transformers');
    expect(m.files.map((f) => f.path).sort()).toEqual(BERT_DEFAULT);
    expect(r.skippedWeights).toEqual(['pytorch_model.bin']);
    expect(r.aliases).toContain('latest');
    for (const f of m.files) expect(readFileSync(reg.store.layout.blob(f.sha256)).equals(fileContent(hub.bert.files, f.path))).toBe(true);
    expect(m.lineage).toMatchObject({
      operation: 'pull',
      source: { kind: 'hub', repo: 'acme/tiny-bert', revision: 'main', commit: hub.bert.commit, endpoint: hub.server.url },
    });
    // every download names the resolved commit, never the moving branch
    const resolves = hub.server.requests.filter((q) => q.server === 'hub' && q.method === 'GET' && q.path.includes('/resolve/'));
    expect(resolves.length).toBe(BERT_DEFAULT.length);
    expect(resolves.every((q) => q.path.includes(`/resolve/${hub.bert.commit}/`))).toBe(true);
    expect(hub.server.requests.some((q) => q.path.includes('/tree/main'))).toBe(true);
    expect(hub.server.requests.some((q) => q.method === 'POST' && q.path.includes(`/paths-info/${hub.bert.commit}`))).toBe(true);
    expect(tmpLeft(reg)).toEqual([]);
    expect((await reg.validate()).ok).toBe(true);
  });

  it('is up to date on a second pull: no file is downloaded again', async () => {
    const reg = registry();
    await pull(hub.opts(reg, 'acme/tiny-bert'));
    const before = hub.server.requests.length;
    const again = await pull(hub.opts(reg, 'acme/tiny-bert'));
    expect(again.upToDate).toBe(true);
    expect(hub.server.requests.slice(before).filter((q) => q.path.includes('/resolve/') && q.method === 'GET')).toEqual([]);
    expect((await reg.list()).entries.length).toBe(1);
  });

  it('resumes a cut connection with a Range request and re-downloads little', async () => {
    const reg = registry();
    const weights = fileContent(hub.bert.files, 'model.safetensors');
    const cutAt = Math.floor(weights.length * 0.6);
    hub.server.faults.cutOnce.set(sha256(weights), cutAt);
    const r = await pull(hub.opts(reg, 'hf:acme/tiny-bert'));
    expect(r.resumedRequests).toBe(1);
    const cdn = hub.server.requests.filter((q) => q.server === 'cdn');
    expect(cdn.map((q) => q.range)).toEqual([undefined, `bytes=${cutAt}-`]);
    const total = BERT_DEFAULT.reduce((n, p) => n + fileContent(hub.bert.files, p).length, 0);
    expect(r.downloadedBytes).toBe(total); // nothing fetched twice
    const blob = r.manifest.files.find((f) => f.path === 'model.safetensors');
    expect(blob?.sha256).toBe(sha256(weights));
  });

  it('keeps a partial file after an interrupt, resumes it once its writer is gone, and gc removes stale ones', async () => {
    const reg = registry();
    const tmp = reg.store.layout.tmpDir;
    const weights = fileContent(hub.bert.files, 'model.safetensors');
    const sha = sha256(weights);
    hub.server.faults.slow.set(sha, 1 << 20);
    const controller = new AbortController();
    const running = pull(hub.opts(reg, 'hf:acme/tiny-bert', { signal: controller.signal })).then(
      () => undefined,
      (e: unknown) => e,
    );
    const sidecar = (): string | undefined => tmpLeft(reg).find((n) => n.startsWith(`pull-sha256-${sha}.`) && n.endsWith('.json'));
    for (let waited = 0; !sidecar() && waited < 20_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    controller.abort();
    const stopped = await running;
    expect(stopped).toBeDefined();
    expect((await reg.list()).entries).toEqual([]);
    // The interrupted pull kept what it had, with its length; this process wrote it, so pretend it died.
    const side = sidecar() as string;
    const meta = JSON.parse(readFileSync(join(tmp, side), 'utf8')) as { pid: number; bytes: number };
    expect(meta.pid).toBe(process.pid);
    expect(meta.bytes).toBeGreaterThan(0);
    expect(meta.bytes).toBeLessThan(weights.length);
    const dead = 2 ** 22 + 1; // above Linux's largest pid_max: never a live process
    const part = side.replace(/\.json$/, '.part');
    renameSync(join(tmp, part), join(tmp, part.replace(`.${process.pid}.`, `.${dead}.`)));
    writeFileSync(join(tmp, side.replace(`.${process.pid}.`, `.${dead}.`)), JSON.stringify({ ...meta, pid: dead }));
    renameSync(join(tmp, side), join(tmp, `${side}.old`));

    hub.server.faults.slow.delete(sha);
    const before = hub.server.requests.length;
    const r = await pull(hub.opts(reg, 'hf:acme/tiny-bert'));
    expect(r.resumedRequests).toBe(1);
    expect(
      hub.server.requests
        .slice(before)
        .filter((q) => q.server === 'cdn')
        .map((q) => q.range),
    ).toEqual([`bytes=${meta.bytes}-`]);
    expect(r.manifest.files.find((f) => f.path === 'model.safetensors')?.sha256).toBe(sha);
    expect(tmpLeft(reg)).toEqual([`${side}.old`]);
    // gc treats partial files like any temporary file: kept within the grace period, removed after it.
    const old = new Date(Date.now() - 2 * 3600_000);
    utimesSync(join(tmp, `${side}.old`), old, old);
    writeFileSync(join(tmp, `pull-sha256-${'0'.repeat(64)}.${dead}.abcdef012345.part`), 'fresh');
    const gc = await reg.gc();
    expect(gc.tmpRemoved).toBe(1);
    expect(tmpLeft(reg)).toEqual([`pull-sha256-${'0'.repeat(64)}.${dead}.abcdef012345.part`]);
    expect((await reg.validate()).ok).toBe(true);
  });

  it('a taken-over partial file whose bytes are wrong fails verification, is dropped, and the next pull succeeds', async () => {
    const reg = registry();
    const tmp = reg.store.layout.tmpDir;
    const weights = fileContent(hub.bert.files, 'model.safetensors');
    const sha = sha256(weights);
    const dead = 2 ** 22 + 1;
    const stem = join(tmp, `pull-sha256-${sha}.${dead}.0123456789ab`);
    mkdirSync(tmp, { recursive: true });
    writeFileSync(`${stem}.part`, Buffer.alloc(1000, 7));
    writeFileSync(
      `${stem}.json`,
      JSON.stringify({
        version: 1,
        host: LOCK_HOST,
        pid: dead,
        kind: 'sha256',
        digest: sha,
        size: weights.length,
        bytes: 1000,
        repo: 'acme/tiny-bert',
        commit: hub.bert.commit,
        path: 'model.safetensors',
      }),
    );
    const err = await failure(pull(hub.opts(reg, 'hf:acme/tiny-bert')));
    expect(err.code).toBe('INTEGRITY');
    expect(err.message).toContain('model.safetensors');
    expect(hub.server.requests.filter((q) => q.server === 'cdn').map((q) => q.range)).toEqual(['bytes=1000-']);
    expect(tmpLeft(reg)).toEqual([]);
    const r = await pull(hub.opts(reg, 'hf:acme/tiny-bert'));
    expect(r.resumedRequests).toBe(0);
    expect(r.manifest.files.find((f) => f.path === 'model.safetensors')?.sha256).toBe(sha);
  });

  it('rejects corrupted content, names the file, and registers nothing', async () => {
    const reg = registry();
    hub.server.faults.corrupt.add(sha256(fileContent(hub.bert.files, 'model.safetensors')));
    const err = await failure(pull(hub.opts(reg, 'hf:acme/tiny-bert')));
    expect(err.code).toBe('INTEGRITY');
    expect(err.exitCode).toBe(4);
    expect(err.message).toContain('model.safetensors');
    expect((await reg.list()).entries).toEqual([]);
    expect(tmpLeft(reg)).toEqual([]);
  });

  it('rejects a small (git) file whose blob id does not match', async () => {
    const reg = registry();
    hub.server.faults.corrupt.add('tokenizer.json');
    const err = await failure(pull(hub.opts(reg, 'hf:acme/tiny-bert')));
    expect(err.code).toBe('INTEGRITY');
    expect(err.message).toMatch(/tokenizer\.json .*git blob id/);
    expect((await reg.list()).entries).toEqual([]);
  });

  it('explains a gated repo (401) and uses a token, which goes to the Hub only', async () => {
    const gated = bertRepo('acme/gated');
    gated.repo.gated = true;
    hub.server.addRepo(gated.repo);
    const reg = registry();
    const err = await failure(pull(hub.opts(reg, 'hf:acme/gated')));
    expect(err.code).toBe('PERMISSION_DENIED');
    expect(err.message).toMatch(/hf:acme\/gated is gated/);
    expect(err.hint).toMatch(/HF_TOKEN/);
    const r = await pull(hub.opts(reg, 'hf:acme/gated', { token: hub.server.token }));
    expect(r.manifest.files.length).toBe(BERT_DEFAULT.length);
    expect(hub.server.requests.filter((q) => q.server === 'cdn').every((q) => q.authorization === undefined)).toBe(true);
    expect(hub.server.requests.filter((q) => q.server === 'hub').some((q) => q.authorization === `Bearer ${hub.server.token}`)).toBe(true);
    expect(JSON.stringify(r.manifest)).not.toContain(hub.server.token);
  });

  it('treats a private repo without a token as not found or private (401)', async () => {
    const priv = bertRepo('acme/private');
    priv.repo.private = true;
    hub.server.addRepo(priv.repo);
    const err = await failure(pull(hub.opts(registry(), 'hf:acme/private')));
    expect(err.code).toBe('PERMISSION_DENIED');
    expect(err.message).toMatch(/not found .*or it is private and needs a token/);
    const ok = await pull(
      hub.opts(registry(), 'hf:acme/private', { env: { HF_ENDPOINT: hub.server.url, HF_HOME: hub.hfHome, HF_TOKEN: hub.server.token } }),
    );
    expect(ok.manifest.name).toBe('acme/private');
  });

  it('reports a missing repo, revision and file as not found (404)', async () => {
    const reg = registry();
    const repo = await failure(pull(hub.opts(reg, 'hf:acme/nope', { token: hub.server.token })));
    expect([repo.code, repo.exitCode]).toEqual(['NOT_FOUND', 3]);
    expect(repo.message).toMatch(/hf:acme\/nope not found/);
    const rev = await failure(pull(hub.opts(reg, 'hf:acme/tiny-bert@v9')));
    expect([rev.code, rev.message]).toEqual(['NOT_FOUND', expect.stringMatching(/revision v9 of hf:acme\/tiny-bert not found/)]);
    const none = await failure(pull(hub.opts(reg, 'hf:acme/tiny-bert', { include: ['*.gguf'] })));
    expect(none.code).toBe('NOT_FOUND');
    expect(none.message).toMatch(/no file .* matches --include \*\.gguf/);
  });

  it('reuses files from the HF cache without downloading them, and verifies them', async () => {
    const cache = join(hub.hfHome, 'hub');
    writeHfCache(
      cache,
      'acme/tiny-bert',
      hub.bert.commit,
      hub.bert.files.filter((f) => f.path === 'model.safetensors'),
    );
    const r = await pull(hub.opts(registry(), 'hf:acme/tiny-bert'));
    expect(r.files.find((f) => f.path === 'model.safetensors')?.from).toBe('hf-cache');
    expect(hub.server.requests.filter((q) => q.server === 'cdn')).toEqual([]);
    expect(r.files.filter((f) => f.from === 'network').length).toBe(BERT_DEFAULT.length - 1);
  });

  it('downloads a damaged HF cache copy again when online, and refuses it offline naming `hf cache rm` (issue 18)', async () => {
    const cache = join(hub.hfHome, 'hub');
    const root = writeHfCache(
      cache,
      'acme/tiny-bert',
      hub.bert.commit,
      hub.bert.files.filter((f) => f.path === 'config.json'),
    );
    const blob = join(root, 'blobs', readdirSync(join(root, 'blobs'))[0] as string);
    writeFileSync(blob, readFileSync(blob, 'utf8').replace('bert', 'BERT'));
    const offline = { HF_ENDPOINT: hub.server.url, HF_HOME: hub.hfHome, HF_HUB_OFFLINE: '1' };
    writeHfCache(
      cache,
      'acme/tiny-bert',
      hub.bert.commit,
      hub.bert.files.filter((f) => f.path !== 'config.json'),
    );
    const err = await failure(pull(hub.opts(registry(), 'hf:acme/tiny-bert', { env: offline })));
    expect([err.code, err.message]).toEqual(['INTEGRITY', expect.stringMatching(/config\.json from the HF cache failed verification/)]);
    expect(err.hint).toMatch(/hf cache rm/);
    expect(err.hint).not.toMatch(/hf cache delete/);
    const r = await pull(hub.opts(registry(), 'hf:acme/tiny-bert'));
    expect(r.files.find((f) => f.path === 'config.json')?.from).toBe('network');
    expect(r.warnings).toEqual(['config.json: the HF cache copy was damaged; downloaded it again']);
    expect(hub.server.requests.some((q) => q.method === 'GET' && q.path.endsWith('/config.json'))).toBe(true);
  });

  it('offline: resolves from the HF cache, then from the registry; otherwise a clear error', async () => {
    const cache = join(hub.hfHome, 'hub');
    writeHfCache(cache, 'acme/tiny-bert', hub.bert.commit, hub.bert.files);
    const reg = registry();
    const env = { HF_ENDPOINT: hub.server.url, HF_HOME: hub.hfHome, HF_HUB_OFFLINE: '1' };
    const r = await pull(hub.opts(reg, 'hf:acme/tiny-bert', { env }));
    expect(r.manifest.version).toBe(hub.bert.commit.slice(0, 7));
    expect(r.manifest.files.map((f) => f.path).sort()).toEqual(BERT_DEFAULT);
    expect(r.files.every((f) => f.from === 'hf-cache')).toBe(true);
    expect(hub.server.requests).toEqual([]);
    const again = await pull(hub.opts(reg, 'hf:acme/tiny-bert', { env: { ...env, HF_HOME: tempDir() } }));
    expect(again.upToDate).toBe(true);
    const err = await failure(pull(hub.opts(registry(), 'hf:acme/other', { env })));
    expect([err.code, err.exitCode]).toEqual(['NETWORK', 7]);
    expect(err.message).toMatch(/offline .* neither in the registry nor in the HF cache/);
    expect(hub.server.requests).toEqual([]);
  });

  it('reuses LFS blobs the registry already stores (another repo with the same weights)', async () => {
    const reg = registry();
    await pull(hub.opts(reg, 'hf:acme/tiny-bert'));
    const twin = bertRepo('acme/twin');
    const weights = hub.bert.files.find((f) => f.path === 'model.safetensors') as FixtureFile;
    twin.repo.commits[twin.commit] = twin.files.map((f) => (f.path === 'model.safetensors' ? weights : f));
    hub.server.addRepo(twin.repo);
    const before = hub.server.requests.filter((q) => q.server === 'cdn').length;
    const r = await pull(hub.opts(reg, 'hf:acme/twin'));
    expect(r.files.find((f) => f.path === 'model.safetensors')?.from).toBe('store');
    expect(hub.server.requests.filter((q) => q.server === 'cdn').length).toBe(before);
  });

  it('honours --include, --exclude, --revision, --name and --version', async () => {
    const second = { path: 'model.safetensors', content: safetensors(1 << 16), lfs: true };
    const v2 = 'b'.repeat(40);
    hub.bert.repo.commits[v2] = [...hub.bert.files.filter((f) => f.path !== 'model.safetensors'), second];
    hub.bert.repo.refs.v2 = v2;
    const reg = registry();
    const r = await pull(
      hub.opts(reg, 'hf:acme/tiny-bert', {
        revision: 'v2',
        include: ['*.json', '*.safetensors', '*.bin'],
        exclude: ['tokenizer*'],
        name: 'bert',
        version: '2.0.0',
      }),
    );
    expect(r.manifest.files.map((f) => f.path).sort()).toEqual(['config.json', 'model.safetensors', 'pytorch_model.bin']);
    expect(r.manifest).toMatchObject({ name: 'bert', version: '2.0.0', lineage: { source: { revision: 'v2', commit: v2 } } });
    expect(r.manifest.files.find((f) => f.path === 'model.safetensors')?.sha256).toBe(sha256(second.content));
  });

  it('pulls a plain URL and a local folder', async () => {
    const reg = registry();
    const file = safetensors(1 << 18);
    hub.server.files.set('weights/classifier.safetensors', file);
    const u = await pull(hub.opts(reg, `${hub.server.cdnUrl}/files/weights/classifier.safetensors?sig=secret`));
    expect(u.manifest).toMatchObject({ name: 'classifier', version: '1.0.0', format: 'safetensors' });
    expect(u.manifest.lineage.source).toMatchObject({
      kind: 'url',
      url: `${hub.server.cdnUrl}/files/weights/classifier.safetensors?…`,
      sha256: sha256(file),
    });
    expect(JSON.stringify(u.manifest)).not.toContain('secret');
    const dir = tempDir();
    for (const f of hub.bert.files) if (BERT_DEFAULT.includes(f.path)) writeFileSync(join(dir, f.path), f.content);
    const folder = await pull(hub.opts(reg, dir, { name: 'local-bert' }));
    expect(folder.manifest).toMatchObject({
      name: 'local-bert',
      format: 'transformers',
      lineage: { operation: 'pull', source: { kind: 'path' } },
    });
    const err = await failure(pull(hub.opts(reg, `${hub.server.cdnUrl}/files/missing.onnx`)));
    expect([err.code, err.exitCode]).toEqual(['NOT_FOUND', 3]);
  });

  it('pulls the same URL or folder again as "up to date", not a new identical version (issue 18)', async () => {
    const reg = registry();
    const file = safetensors(1 << 16);
    hub.server.files.set('weights/classifier.safetensors', file);
    const url = `${hub.server.cdnUrl}/files/weights/classifier.safetensors`;
    const first = await pull(hub.opts(reg, url));
    const again = await pull(hub.opts(reg, url));
    expect([first.upToDate, again.upToDate]).toEqual([false, true]);
    expect(again.manifest.digest).toBe(first.manifest.digest);
    expect(again.files).toEqual([{ path: 'classifier.safetensors', size: file.length, from: 'store' }]);
    const dir = tempDir();
    for (const f of hub.bert.files) if (BERT_DEFAULT.includes(f.path)) writeFileSync(join(dir, f.path), f.content);
    const folder = await pull(hub.opts(reg, dir, { name: 'local-bert' }));
    const folderAgain = await pull(hub.opts(reg, dir, { name: 'local-bert' }));
    expect([folder.upToDate, folderAgain.upToDate, folderAgain.manifest.version]).toEqual([false, true, '1.0.0']);
    // Changed content is a new version; going back to the first content answers with the version that holds it,
    // and latest stays on the highest version.
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), extra: 1 }));
    expect((await pull(hub.opts(reg, dir, { name: 'local-bert' }))).manifest.version).toBe('1.0.1');
    for (const f of hub.bert.files) if (f.path === 'config.json') writeFileSync(join(dir, f.path), f.content);
    const back = await pull(hub.opts(reg, dir, { name: 'local-bert' }));
    expect([back.upToDate, back.manifest.version, back.aliases]).toEqual([true, '1.0.0', []]);
    expect((await reg.resolve('local-bert')).version).toBe('1.0.1');
    expect((await reg.list()).entries.map((e) => `${e.name}:${e.version}`)).toEqual([
      'classifier:1.0.0',
      'local-bert:1.0.0',
      'local-bert:1.0.1',
    ]);
    expect(tmpLeft(reg)).toEqual([]);
  });
});
