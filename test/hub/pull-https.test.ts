import { readFileSync, readdirSync } from 'node:fs';
import { Agent } from 'node:https';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ModelctlError } from '../../src/errors.js';
import { WORKER_MIN_BYTES } from '../../src/hub/download/hasher.js';
import { pull, type PullOptions } from '../../src/pull/pull.js';
import type { Registry } from '../../src/registry/index.js';
import { cli, tempDir } from '../helpers.js';
import { BERT_DEFAULT, bertRepo, fileContent, registry, safetensors } from './fixtures.js';
import { HubServer, sha256 } from './server.js';
import { selfSignedCertificate, type TestCertificate } from './tls.js';

/*
 * The real Hub and its CDN speak HTTPS: these tests run the path every real `pull hf:` takes (the fetch over
 * node:https that @huggingface/hub lists and asks paths-info through, the HEAD that learns the commit, the 302 to
 * the CDN on another origin, the file bytes over node:https, a Range request after a cut connection) against the
 * loopback Hub serving a certificate made for the test. In this process the client trusts it through an
 * https.Agent; the spawned CLI through NODE_EXTRA_CA_CERTS, as a user behind a private authority would.
 */

let tls: TestCertificate;
let server: HubServer;
let agent: Agent;
let secret: ReturnType<typeof bertRepo>;
let hfHome: string;

beforeAll(() => {
  tls = selfSignedCertificate();
  agent = new Agent({ ca: tls.cert });
});
afterAll(() => {
  agent.destroy();
});

beforeEach(async () => {
  // Weights of 16 MiB and more take the large-file path: the hashing worker, and direct I/O where the disk allows.
  secret = bertRepo('acme/secret-bert', WORKER_MIN_BYTES + (4 << 20));
  secret.repo.private = true;
  server = await new HubServer([secret.repo], { tls }).start();
  hfHome = tempDir('modelctl-hf-home-');
  return () => server.close();
});

function opts(reg: Registry, source: string, extra: Partial<PullOptions> = {}): PullOptions {
  return {
    source,
    registry: reg,
    env: { HF_ENDPOINT: server.url, HF_HOME: hfHome, HF_TOKEN: server.token },
    httpsAgent: agent,
    backoff: () => 10,
    ...extra,
  };
}

describe('pull over HTTPS from a loopback Hub', () => {
  it('lists through @huggingface/hub, follows the CDN redirect, resumes a cut connection by Range, and verifies', async () => {
    expect(server.url).toMatch(/^https:/);
    expect(server.cdnUrl).toMatch(/^https:/);
    const weights = fileContent(secret.files, 'model.safetensors');
    const cutAt = Math.floor(weights.length * 0.6);
    server.faults.cutOnce.set(sha256(weights), cutAt);
    const reg = registry();
    const r = await pull(opts(reg, 'hf:acme/secret-bert'));
    expect(r.manifest.version).toBe(secret.commit.slice(0, 7));
    expect(r.manifest.files.map((f) => f.path).sort()).toEqual(BERT_DEFAULT);
    for (const f of r.manifest.files)
      expect(readFileSync(reg.store.layout.blob(f.sha256)).equals(fileContent(secret.files, f.path))).toBe(true);
    expect(r.resumedRequests).toBe(1);
    expect(r.downloadedBytes).toBe(BERT_DEFAULT.reduce((n, p) => n + fileContent(secret.files, p).length, 0)); // nothing twice
    const hub = server.requests.filter((q) => q.server === 'hub');
    const cdn = server.requests.filter((q) => q.server === 'cdn');
    // The client library's calls, then the HEAD that learns the commit, each with the token (the repo is private).
    expect(hub.some((q) => q.method === 'GET' && q.path.includes('/api/models/acme/secret-bert/tree/main'))).toBe(true);
    expect(hub.some((q) => q.method === 'POST' && q.path.includes(`/paths-info/${secret.commit}`))).toBe(true);
    expect(hub.some((q) => q.method === 'HEAD' && q.path.includes('/resolve/main/'))).toBe(true);
    expect(hub.every((q) => q.authorization === `Bearer ${server.token}`)).toBe(true);
    // The weights came from the CDN (another origin) after the Hub's 302, twice: whole, then the rest, never with the token.
    expect(cdn.map((q) => [q.path.split('?')[0], q.range])).toEqual([
      [`/lfs/${sha256(weights)}`, undefined],
      [`/lfs/${sha256(weights)}`, `bytes=${cutAt}-`],
    ]);
    expect(cdn.every((q) => q.authorization === undefined)).toBe(true);
    expect(readdirSync(reg.store.layout.tmpDir)).toEqual([]);
    expect((await reg.validate()).ok).toBe(true);
  });

  it('pulls an https:// file URL, resumed after a cut', async () => {
    const file = safetensors(3 << 20);
    server.files.set('weights/head.safetensors', file);
    server.faults.cutOnce.set('/files/weights/head.safetensors', 1 << 20);
    const r = await pull(opts(registry(), `${server.cdnUrl}/files/weights/head.safetensors`));
    expect(r.manifest).toMatchObject({ name: 'head', format: 'safetensors', lineage: { source: { kind: 'url', sha256: sha256(file) } } });
    expect(r.resumedRequests).toBe(1);
    expect(server.requests.map((q) => q.range)).toEqual([undefined, `bytes=${1 << 20}-`]);
  });

  it('refuses a certificate this process does not trust: a network error that says how to trust it', async () => {
    const reg = registry();
    const err = await pull(opts(reg, 'hf:acme/secret-bert', { httpsAgent: undefined })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ModelctlError);
    const e = err as ModelctlError;
    expect([e.code, e.exitCode]).toEqual(['NETWORK', 7]);
    expect(e.message).toBe(`cannot reach ${server.url}: DEPTH_ZERO_SELF_SIGNED_CERT`);
    expect(e.hint).toMatch(/NODE_EXTRA_CA_CERTS/);
    expect(server.requests).toEqual([]); // no request got through the handshake
    expect((await reg.list()).entries).toEqual([]);
  });
});

describe('modelctl pull over HTTPS (spawned binary)', () => {
  it('trusts the Hub through NODE_EXTRA_CA_CERTS, resumes a cut download, and exits 7 with a hint without it', async () => {
    const weights = fileContent(secret.files, 'model.safetensors');
    const cutAt = Math.floor(weights.length / 3);
    server.faults.cutOnce.set(sha256(weights), cutAt);
    const env = { HF_ENDPOINT: server.url, HF_HOME: hfHome, HF_TOKEN: server.token };
    const home = tempDir();
    const untrusted = await cli(['pull', 'hf:acme/secret-bert'], { home, env });
    expect(untrusted.exitCode).toBe(7);
    expect(untrusted.stderr).toContain(`cannot reach ${server.url}: DEPTH_ZERO_SELF_SIGNED_CERT`);
    expect(untrusted.stderr).toMatch(/hint: .*NODE_EXTRA_CA_CERTS/);
    const r = await cli(['pull', 'hf:acme/secret-bert', '--json'], { home, env: { ...env, NODE_EXTRA_CA_CERTS: tls.certPath } });
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      manifest: { version: string; files: Array<{ path: string; sha256: string }> };
      resumedRequests: number;
    };
    expect(out.manifest.version).toBe(secret.commit.slice(0, 7));
    expect(out.resumedRequests).toBe(1);
    expect(out.manifest.files.find((f) => f.path === 'model.safetensors')?.sha256).toBe(sha256(weights));
    expect(server.requests.filter((q) => q.server === 'cdn').map((q) => q.range)).toEqual([undefined, `bytes=${cutAt}-`]);
    expect(r.stdout).not.toContain(server.token);
  });
});
