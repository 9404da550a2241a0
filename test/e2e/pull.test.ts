import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, cli, normalize, tempDir } from '../helpers.js';
import { BERT_DEFAULT, bertRepo } from '../hub/fixtures.js';
import { HubServer } from '../hub/server.js';

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
    expect(JSON.parse(list.stdout).models.map((e: { version: string; aliases: string[] }) => [e.version, e.aliases])).toEqual([[short, ['latest']]]);
  });

  it('--progress prints progress lines on a non-TTY stderr', async () => {
    const r = await cli(['pull', 'hf:acme/tiny-bert', '--progress'], { home: tempDir(), env });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^Resolving hf:acme\/tiny-bert@main$/m);
    expect(r.stderr).toMatch(/  100%  8.00 MiB \/ 8.00 MiB  .*\/s  ETA/);
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
  });

  it('two pulls of the same repo at once: both succeed, one version, a valid registry', async () => {
    const home = tempDir();
    const run = () => execa('node', [BIN, 'pull', 'hf:acme/tiny-bert', '--json'], { reject: false, env: { NO_COLOR: '1', MODELCTL_HOME: home, ...env }, stdin: 'ignore' });
    const [a, b] = await Promise.all([run(), run()]);
    expect([a.exitCode, b.exitCode], `${a.stderr}\n${b.stderr}`).toEqual([0, 0]);
    const results = [JSON.parse(a.stdout), JSON.parse(b.stdout)];
    expect(results.map((r) => r.manifest.version)).toEqual([bert.commit.slice(0, 7), bert.commit.slice(0, 7)]);
    expect(results.map((r) => r.manifest.files.length)).toEqual([BERT_DEFAULT.length, BERT_DEFAULT.length]);
    const validate = await cli(['validate', '--strict', '--json'], { home });
    expect(JSON.parse(validate.stdout)).toMatchObject({ ok: true, versions: 1, problems: [] });
  });
});
