import { execa } from 'execa';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushOci } from '../../src/oci/push.js';
import { pull } from '../../src/pull/pull.js';
import { Registry } from '../../src/registry/index.js';
import { BIN, FIXTURES, cli, fileDir, tempDir } from '../helpers.js';
import { type Distribution, oras, registryAvailable, startDistribution } from './distribution.js';
import { startProxy } from './proxy.js';

/**
 * Who modelctl is to a registry (htpasswd Basic auth on the real registry, a bearer token service in a proxy) and
 * what it does when the bytes are wrong (a proxy changing a manifest or a blob): clear errors, no secret printed,
 * nothing registered.
 */

const USER = 'alice';
const PASSWORD = 's3cret-Pa55word';
let open: Distribution | undefined;
let locked: Distribution | undefined;
let source: Registry;

beforeAll(async () => {
  if (!(await registryAvailable())) return;
  [open, locked] = await Promise.all([startDistribution(), startDistribution({ user: USER, password: PASSWORD })]);
  source = new Registry({ home: fileDir() });
  await pull({ source: join(FIXTURES, 'iris-logreg', 'model.onnx'), registry: source, name: 'iris', version: '1.0.0' });
}, 600_000);

afterAll(async () => {
  await Promise.all([open?.stop(), locked?.stop()]);
});

/** What a failed pull left in the registry's tmp/ (nothing, when it cleaned up). */
function leftovers(home: string): string[] {
  const tmp = join(home, 'tmp');
  return existsSync(tmp) ? readdirSync(tmp) : [];
}

/** iris:1.0.0 pushed (with the right login) to `dist` as private/iris:1.0.0; the reference it has there. */
async function pushPrivate(dist: Distribution): Promise<string> {
  const target = `oci://${dist.host}/private/iris:1.0.0`;
  await pushOci({ registry: source, ref: 'iris:1.0.0', target, credentials: { username: USER, password: PASSWORD } });
  return target;
}

/** The CLI with a password on stdin. */
async function cliStdin(args: string[], home: string, input: string, env: Record<string, string> = {}) {
  const r = await execa('node', [BIN, ...args], { reject: false, input, env: { NO_COLOR: '1', MODELCTL_HOME: home, ...env } });
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('htpasswd (Basic) auth on the real registry', () => {
  it('pushes with --username/--password-stdin, never printing the password; oras pulls it with the same login', async () => {
    if (!locked) return;
    const target = `oci://${locked.host}/private/iris:1.0.0`;
    const r = await cliStdin(['push', 'iris:1.0.0', target, '--username', USER, '--password-stdin'], source.home, `${PASSWORD}\n`);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^Pushed iris:1\.0\.0 to /);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    const out = tempDir();
    const got = await oras(['pull', `${locked.host}/private/iris:1.0.0`, out], { ORAS_USER: USER, ORAS_PASSWORD: PASSWORD });
    expect(got.files).toEqual([join(out, 'model.onnx')]);
  });

  it('refuses a wrong password with exit 2 and one line naming the user, not the password; nothing is registered', async () => {
    if (!locked) return;
    const pushed = await pushPrivate(locked);
    const home = tempDir();
    const wrong = await cliStdin(['pull', pushed, '--username', USER, '--password-stdin'], home, 'wrong-password');
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr).toBe(
      `error: ${locked.host} refused user alice for private/iris:1.0.0 (HTTP 401) (UNAUTHORIZED: authentication required)\n` +
        'hint: check the username and password (--username/--password-stdin, MODELCTL_OCI_USERNAME/PASSWORD or the Docker config)',
    );
    const anonymous = await cli(['push', 'iris:1.0.0', `oci://${locked.host}/private/other`], { home: source.home });
    expect(anonymous.exitCode).toBe(2);
    expect(anonymous.stderr).toMatch(/^error: 127\.0\.0\.1:\d+ refused anonymous access for blob sha256:[0-9a-f]{64} \(HTTP 401\)/);
    expect((await new Registry({ home }).list()).entries).toEqual([]);
    expect(leftovers(home)).toEqual([]);
  });

  it('takes credentials from MODELCTL_OCI_USERNAME/PASSWORD and from the Docker config', async () => {
    if (!locked) return;
    const pushed = await pushPrivate(locked);
    const byEnv = tempDir();
    const r = await cli(['pull', pushed], {
      home: byEnv,
      env: { MODELCTL_OCI_USERNAME: USER, MODELCTL_OCI_PASSWORD: PASSWORD },
    });
    expect(r.stdout).toMatch(/^Pulled iris:1\.0\.0 \(onnx/);
    const docker = tempDir();
    const auth = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
    writeFileSync(join(docker, 'config.json'), JSON.stringify({ auths: { [`http://${locked.host}`]: { auth } } }));
    const byConfig = tempDir();
    const d = await cli(['pull', pushed], { home: byConfig, env: { DOCKER_CONFIG: docker } });
    expect(d.stderr).toBe('');
    expect(d.stdout).toMatch(/^Pulled iris:1\.0\.0 \(onnx/);
  });
});

describe('bearer tokens (a token service in front of the real registry)', () => {
  it('fetches a token with Basic credentials for the pull,push scope and sends only the token to the registry', async () => {
    if (!open) return;
    const proxy = await startProxy({ upstream: open.host, bearer: { user: USER, password: PASSWORD, token: 'tok-123' } });
    try {
      const credentials = { username: USER, password: PASSWORD };
      const pushed = await pushOci({ registry: source, ref: 'iris:1.0.0', target: `oci://${proxy.host}/team/iris:1.0.0`, credentials });
      expect(pushed.blobs.map((b) => b.outcome)).toEqual(['uploaded']);
      expect(proxy.scopes).toContain('repository:team/iris:pull,push');
      expect(new Set(proxy.authorizations)).toEqual(new Set(['Bearer tok-123']));
      const home = tempDir();
      const back = await pull({ source: `oci://${proxy.host}/team/iris:1.0.0`, registry: new Registry({ home }), credentials });
      expect(back.manifest.files).toEqual((await source.resolve('iris:1.0.0')).files);
      const r = await cliStdin(['pull', `oci://${proxy.host}/team/iris:1.0.0`, '--username', USER, '--password-stdin'], tempDir(), 'nope');
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toBe(
        `error: the token service of ${proxy.host} refused user alice (HTTP 401)\nhint: check the username and password`,
      );
    } finally {
      await proxy.close();
    }
  });
});

describe('a cut connection', () => {
  it('resumes a blob with a Range request and registers the whole file', async () => {
    if (!open) return;
    await pushOci({ registry: source, ref: 'iris:1.0.0', target: `oci://${open.host}/resumed/iris:1.0.0` });
    const proxy = await startProxy({ upstream: open.host, cut: true });
    try {
      const home = tempDir();
      const r = await pull({ source: `oci://${proxy.host}/resumed/iris:1.0.0`, registry: new Registry({ home }), backoff: () => 10 });
      expect(r.resumedRequests).toBe(1);
      expect(proxy.ranges).toHaveLength(1);
      expect(proxy.ranges[0]).toMatch(/^bytes=\d+-$/);
      expect(r.manifest.files).toEqual((await source.resolve('iris:1.0.0')).files);
    } finally {
      await proxy.close();
    }
  });
});

describe('a failing registry', () => {
  it("answers HTTP 500 on the manifest with exit 7 and the registry's words; nothing registered", async () => {
    if (!open) return;
    const proxy = await startProxy({ upstream: open.host, manifestStatus: 500 });
    try {
      const home = tempDir();
      const r = await cli(['pull', `oci://${proxy.host}/checked/iris:1.0.0`], { home });
      expect(r.exitCode).toBe(7);
      expect(r.stderr).toBe(
        `error: ${proxy.host} answered HTTP 500 for checked/iris:1.0.0 (UNKNOWN: storage backend unavailable)\nhint: the registry failed; try again later`,
      );
      expect((await new Registry({ home }).list()).entries).toEqual([]);
    } finally {
      await proxy.close();
    }
  });
});

describe('bytes that do not match their digest', () => {
  for (const corrupt of ['manifest', 'blob'] as const) {
    it(`a ${corrupt} changed on the way: exit 4, nothing registered, nothing left in tmp/`, async () => {
      if (!open) return;
      await pushOci({ registry: source, ref: 'iris:1.0.0', target: `oci://${open.host}/checked/iris:1.0.0` });
      const proxy = await startProxy({ upstream: open.host, corrupt });
      try {
        const home = tempDir();
        const r = await cli(['pull', `oci://${proxy.host}/checked/iris:1.0.0`], { home });
        expect(r.exitCode).toBe(4);
        expect(r.stderr).toMatch(
          corrupt === 'manifest'
            ? /^error: the manifest of checked\/iris:1\.0\.0 does not match its digest \(expected sha256:[0-9a-f]{64}, got sha256:[0-9a-f]{64}\)\n/
            : /^error: model\.onnx from oci:\/\/127\.0\.0\.1:\d+\/checked\/iris:1\.0\.0 does not match its digest \(expected sha256:[0-9a-f]{64}, got sha256:[0-9a-f]{64}\)\n/,
        );
        expect(r.stderr).toMatch(/\nhint: the registry or something between sent other bytes; nothing was registered$/);
        expect((await new Registry({ home }).list()).entries).toEqual([]);
        expect(leftovers(home)).toEqual([]);
      } finally {
        await proxy.close();
      }
    });
  }
});
