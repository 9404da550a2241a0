import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, cli, normalize, tempDir } from '../helpers.js';
import { BERT_DEFAULT, bertRepo } from '../hub/fixtures.js';
import { HubServer, sha256, type FixtureFile } from '../hub/server.js';

/** The bytes a partial download's sidecar in `tmpDir` says are on disk (0 while there is none). */
function recordedBytes(tmpDir: string): number {
  try {
    const side = readdirSync(tmpDir).find((n) => n.startsWith('pull-') && n.endsWith('.json'));
    return side ? (JSON.parse(readFileSync(join(tmpDir, side), 'utf8')) as { bytes: number }).bytes : 0;
  } catch {
    return 0; // not there yet, or caught between write and rename
  }
}

let server: HubServer;
let bert: ReturnType<typeof bertRepo>;
let env: Record<string, string>;

beforeEach(async () => {
  bert = bertRepo('acme/tiny-bert', 8 << 20);
  const gated = bertRepo('acme/gated');
  gated.repo.gated = true;
  server = await new HubServer([bert.repo, gated.repo]).start();
  env = { HF_ENDPOINT: server.url, HF_HOME: tempDir('modelctl-hf-home-'), HF_TOKEN: '' };
});
afterEach(async () => {
  await server.close();
});

describe('modelctl pull (spawned binary)', () => {
  it('pulls a Hub repo: one result line on stdout, nothing on a non-TTY stderr', async () => {
    const home = tempDir();
    const r = await cli(['pull', 'hf:acme/tiny-bert'], { home, env });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const short = bert.commit.slice(0, 7);
    expect(normalize(r.stdout)).toBe(
      `Pulled acme/tiny-bert:${short} (transformers, text-classification, 5 files, 8.00 MiB; 5 downloaded (8.00 MiB))\naliases: latest\nleft out 1 file(s) of other weight formats (take them with --include)`,
    );
    const again = await cli(['pull', 'acme/tiny-bert', '--json'], { home, env });
    expect(again.exitCode).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ upToDate: true, manifest: { version: short } });
    const list = await cli(['list', '--json'], { home });
    expect(JSON.parse(list.stdout).models.map((e: { version: string; aliases: string[] }) => [e.version, e.aliases])).toEqual([
      [short, ['latest']],
    ]);
  });

  it('a pull that plans a large file but downloads nothing (up to date, or its blobs already stored) still exits', async () => {
    // A file of at least 16 MiB starts the hashing worker at planning time; an idle worker must not keep the
    // process alive. Killed after 60 s, a hang fails the test instead of the run.
    const big = bertRepo('acme/big-bert', 20 << 20);
    const hub = await new HubServer([big.repo]).start();
    try {
      const home = tempDir();
      const bigEnv = { ...env, HF_ENDPOINT: hub.url };
      const run = (args: string[]) =>
        execa('node', [BIN, ...args], {
          reject: false,
          timeout: 60_000,
          killSignal: 'SIGKILL',
          env: { NO_COLOR: '1', MODELCTL_HOME: home, ...bigEnv },
          stdin: 'ignore',
        });
      const first = await run(['pull', 'hf:acme/big-bert']);
      expect(first.exitCode, first.stderr).toBe(0);
      const again = await run(['pull', 'hf:acme/big-bert', '--json']);
      expect(again.timedOut).toBe(false);
      expect(again.exitCode, again.stderr).toBe(0);
      expect(JSON.parse(again.stdout)).toMatchObject({ upToDate: true });
      const other = await run(['pull', 'hf:acme/big-bert', '--name', 'other-bert']); // every blob already stored
      expect(other.timedOut).toBe(false);
      expect(other.exitCode, other.stderr).toBe(0);
    } finally {
      await hub.close();
    }
  });

  it('--progress prints progress lines on a non-TTY stderr', async () => {
    const r = await cli(['pull', 'hf:acme/tiny-bert', '--progress'], { home: tempDir(), env });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^Resolving hf:acme\/tiny-bert@main$/m);
    expect(r.stderr).toMatch(/ {2}100% {2}8.00 MiB \/ 8.00 MiB {2}.*\/s {2}ETA/);
  });

  it('401 on a gated repo: one line, exit 2, and the token never shows', async () => {
    const home = tempDir();
    const r = await cli(['pull', 'hf:acme/gated', '--json'], { home, env });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.split('\n')[0]).toMatch(/^error: hf:acme\/gated is gated/);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'PERMISSION_DENIED', details: { status: 401, errorCode: 'GatedRepo' } });
    const withToken = await cli(['pull', 'hf:acme/gated', '--json', '--verbose'], { home, env: { ...env, HF_TOKEN: server.token } });
    expect(withToken.exitCode, withToken.stderr).toBe(0);
    const info = await cli(['info', 'acme/gated', '--json'], { home });
    for (const text of [withToken.stdout, withToken.stderr, info.stdout]) expect(text).not.toContain(server.token);
  });

  it('404 and offline are one-line errors with their exit codes', async () => {
    const home = tempDir();
    const missing = await cli(['pull', 'hf:acme/tiny-bert', '--revision', 'nope'], { home, env });
    expect(missing.exitCode).toBe(3);
    expect(missing.stderr).toMatch(/^error: revision nope of hf:acme\/tiny-bert not found/);
    const offline = await cli(['pull', 'hf:acme/tiny-bert'], { home, env: { ...env, HF_HUB_OFFLINE: '1' } });
    expect(offline.exitCode).toBe(7);
    expect(offline.stderr).toMatch(/^error: offline \(HF_HUB_OFFLINE is set\)/);
    expect(offline.stderr).toMatch(/\nhint: unset HF_HUB_OFFLINE/);
    const bad = await cli(['pull', 'bert'], { home, env });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/neither a Hub repo/);
    // A URL is never fetched offline, and a malformed one is a usage error, not a crash.
    const url = await cli(['pull', 'http://127.0.0.1:9/model.onnx', '--offline'], { home, env });
    expect(url.exitCode).toBe(7);
    // Only the flag was given: the message names the flag, not HF_HUB_OFFLINE (issue 18).
    expect(url.stderr).toMatch(/^error: offline \(--offline was given\): http:\/\/ URLs need the network/);
    expect(url.stderr).not.toMatch(/HF_HUB_OFFLINE/);
    const flagOnly = await cli(['pull', 'hf:acme/tiny-bert', '--offline'], { home, env });
    expect(flagOnly.exitCode).toBe(7);
    expect(flagOnly.stderr).toMatch(/^error: offline \(--offline was given\)/);
    expect(flagOnly.stderr).toMatch(/\nhint: drop --offline/);
    expect(flagOnly.stderr).not.toMatch(/HF_HUB_OFFLINE is set/);
    const badEscape = await cli(['pull', 'http://127.0.0.1:9/%zz.onnx'], { home, env });
    expect(badEscape.exitCode).toBe(2);
    expect(badEscape.stderr).toMatch(/malformed %-escape/);
    const token = await cli(['pull', 'http://127.0.0.1:9/model.onnx', '--token', 'hf_secret'], { home, env });
    expect(token.exitCode).toBe(2);
    expect(token.stderr).not.toContain('hf_secret');
  });

  it('two pulls of the same repo at once: both succeed, one version, a valid registry', async () => {
    const home = tempDir();
    const run = () =>
      execa('node', [BIN, 'pull', 'hf:acme/tiny-bert', '--json'], {
        reject: false,
        env: { NO_COLOR: '1', MODELCTL_HOME: home, ...env },
        stdin: 'ignore',
      });
    const [a, b] = await Promise.all([run(), run()]);
    expect([a.exitCode, b.exitCode], `${a.stderr}\n${b.stderr}`).toEqual([0, 0]);
    const results = [JSON.parse(a.stdout), JSON.parse(b.stdout)];
    expect(results.map((r) => r.manifest.version)).toEqual([bert.commit.slice(0, 7), bert.commit.slice(0, 7)]);
    expect(results.map((r) => r.manifest.files.length)).toEqual([BERT_DEFAULT.length, BERT_DEFAULT.length]);
    const validate = await cli(['validate', '--strict', '--json'], { home });
    expect(JSON.parse(validate.stdout)).toMatchObject({ ok: true, versions: 1, problems: [] });
  });

  it('a pull killed mid-file (SIGKILL) is resumed by the next one with a Range request, and verifies', async () => {
    const home = tempDir();
    const big = bertRepo('acme/big-bert', 24 << 20);
    server.addRepo(big.repo);
    const weights = (big.files.find((f) => f.path === 'model.safetensors') as FixtureFile).content;
    const sha = sha256(weights);
    server.faults.slow.set(sha, 4 << 20);
    const first = execa('node', [BIN, 'pull', 'hf:acme/big-bert'], {
      reject: false,
      env: { NO_COLOR: '1', MODELCTL_HOME: home, ...env },
      stdin: 'ignore',
    });
    const tmpDir = join(home, 'tmp');
    let recorded = 0;
    for (let waited = 0; recorded === 0 && waited < 30_000; waited += 50) {
      await new Promise((r) => setTimeout(r, 50));
      recorded = recordedBytes(tmpDir);
    }
    expect(recorded).toBeGreaterThan(0);
    first.kill('SIGKILL');
    const killed = await first;
    expect(killed.signal).toBe('SIGKILL');
    expect(readdirSync(tmpDir).some((n) => n.endsWith('.part'))).toBe(true);

    server.faults.slow.delete(sha);
    const before = server.requests.length;
    const again = await cli(['pull', 'hf:acme/big-bert', '--json'], { home, env });
    expect(again.exitCode, again.stderr).toBe(0);
    const ranges = server.requests
      .slice(before)
      .filter((q) => q.server === 'cdn' && q.path.startsWith(`/lfs/${sha}`))
      .map((q) => q.range);
    expect(ranges.length).toBe(1);
    const from = Number(/^bytes=(\d+)-$/.exec(ranges[0] ?? '')?.[1] ?? 0);
    expect(from).toBeGreaterThanOrEqual(recorded);
    expect(from).toBeLessThan(weights.length);
    const result = JSON.parse(again.stdout);
    expect(result.resumedRequests).toBe(1);
    expect(result.manifest.files.find((f: { path: string }) => f.path === 'model.safetensors')).toMatchObject({
      sha256: sha,
      size: weights.length,
    });
    // The partial weights were taken over and stored; what is left is the killed pull's finished small files,
    // plain temporary files for gc (kept while younger than its grace period, removed after it).
    const left = readdirSync(tmpDir);
    expect(left.filter((n) => n.startsWith(`pull-sha256-${sha}`) || n.endsWith('.json'))).toEqual([]);
    expect((await cli(['gc'], { home })).exitCode).toBe(0);
    expect(readdirSync(tmpDir)).toEqual(left);
    const strict = await cli(['validate', '--strict', '--json'], { home });
    expect(JSON.parse(strict.stdout)).toMatchObject({ ok: true, problems: [] });
    expect((await cli(['gc', '--grace', '0s'], { home })).exitCode).toBe(0);
    expect(readdirSync(tmpDir)).toEqual([]);
    const validate = await cli(['validate', '--strict', '--json'], { home });
    expect(JSON.parse(validate.stdout)).toMatchObject({ ok: true, problems: [] });
  });
});

describe('modelctl pull / checkout: writing out and hf download habits (issue 18)', () => {
  it('file names as arguments, --dry-run, --local-dir with its conflict exit code, checkout, bad values', async () => {
    const home = tempDir();
    const short = bert.commit.slice(0, 7);
    const dry = await cli(['pull', 'acme/tiny-bert', 'config.json', 'model.safetensors', '--dry-run'], { home, env });
    expect(dry.exitCode, dry.stderr).toBe(0);
    const lines = normalize(dry.stdout).split('\n');
    expect(lines[0]).toBe(`Dry run hf:acme/tiny-bert@main (${short}) -> acme/tiny-bert:${short}`);
    expect(lines.slice(1, 4).map((l) => l.split(/\s{2,}/))).toEqual([
      ['FILE', 'SIZE', 'SOURCE'],
      ['config.json', expect.any(String), 'download'],
      ['model.safetensors', '8.00 MiB', 'download'],
    ]);
    expect(lines.at(-1)).toMatch(/^2 file\(s\), .* to download; nothing was downloaded or registered$/);
    expect(server.requests.some((q) => q.method === 'GET' && q.path.includes('/resolve/'))).toBe(false);
    expect((await cli(['list', '--json'], { home })).stdout).not.toContain('tiny-bert');

    const dir = tempDir();
    writeFileSync(join(dir, 'config.json'), 'mine');
    const refused = await cli(['pull', 'acme/tiny-bert', 'config.json', 'model.safetensors', '--local-dir', dir], { home, env });
    expect(refused.exitCode).toBe(8);
    expect(refused.stderr).toMatch(
      /^error: .* already holds other content at config\.json\nhint: nothing was written or registered; pass --force/,
    );
    const forced = await cli(['pull', 'acme/tiny-bert', 'config.json', 'model.safetensors', '--local-dir', dir, '--force'], { home, env });
    expect(forced.exitCode, forced.stderr).toBe(0);
    expect(normalize(forced.stdout)).toContain(`local dir: ${dir} (2 written, 0 already there)`);
    expect(
      readFileSync(join(dir, 'model.safetensors')).equals(bert.files.find((f) => f.path === 'model.safetensors')?.content as Buffer),
    ).toBe(true);

    const out = tempDir();
    const co = await cli(['checkout', `acme/tiny-bert:${short}`, out], { home });
    expect(co.exitCode, co.stderr).toBe(0);
    expect(normalize(co.stdout)).toBe(`Checked out acme/tiny-bert:${short} into ${out} (2 written, 0 already there)`);
    writeFileSync(join(out, 'config.json'), 'edited');
    const conflict = await cli(['checkout', `acme/tiny-bert:${short}`, out, '--json'], { home });
    expect(conflict.exitCode).toBe(8);
    expect(JSON.parse(conflict.stdout).error).toMatchObject({ code: 'CONFLICT', exitCode: 8 });

    const badType = await cli(['pull', 'acme/tiny-bert', '--repo-type', 'repo'], { home, env });
    expect(badType.exitCode).toBe(2);
    const badTimeout = await cli(['pull', 'acme/tiny-bert', '--timeout', '0'], { home, env });
    expect(badTimeout.exitCode).toBe(2);
    expect(badTimeout.stderr).toMatch(/^error: --timeout takes seconds/);
    const notHub = await cli(['pull', './fixtures', '--local-dir', dir], { home, env });
    expect(notHub.exitCode).toBe(2);
    expect(notHub.stderr).toMatch(/--local-dir applies to Hub repos only\nhint: pull it, then `modelctl checkout/);
  });
});
