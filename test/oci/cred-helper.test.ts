import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushOci } from '../../src/oci/push.js';
import { pull } from '../../src/pull/pull.js';
import { Registry } from '../../src/registry/index.js';
import { FIXTURES, cli, fileDir, tempDir } from '../helpers.js';
import { type Distribution, registryAvailable, startDistribution } from './distribution.js';

/**
 * Docker credential helpers (`credsStore`, `credHelpers` in the Docker config) against the real registry with htpasswd:
 * modelctl runs `docker-credential-NAME get` as Docker does (the registry's address on stdin, JSON on stdout) and logs
 * in with what it gives; a helper that holds nothing leaves the pull anonymous, a missing helper is a clear error, and
 * the secret is never printed. The helper here is a small shell program speaking the protocol, with its store in a file.
 */

const USER = 'bob';
const PASSWORD = 'helper-Secret-42';
let locked: Distribution | undefined;
let open: Distribution | undefined;

beforeAll(async () => {
  if (!(await registryAvailable())) return;
  [locked, open] = await Promise.all([startDistribution({ user: USER, password: PASSWORD }), startDistribution()]);
  const source = new Registry({ home: fileDir() });
  await pull({ source: join(FIXTURES, 'iris-logreg', 'model.onnx'), registry: source, name: 'iris', version: '1.0.0' });
  await pushOci({
    registry: source,
    ref: 'iris:1.0.0',
    target: `oci://${locked.host}/private/iris:1.0.0`,
    credentials: { username: USER, password: PASSWORD },
  });
  await pushOci({ registry: source, ref: 'iris:1.0.0', target: `oci://${open.host}/public/iris:1.0.0` });
}, 600_000);

afterAll(async () => {
  await Promise.all([locked?.stop(), open?.stop()]);
});

/** A folder holding docker-credential-NAME, which answers for `host` only and notes every address it was asked. */
function helper(name: string, host: string): { bin: string; asked: string } {
  const bin = tempDir();
  const asked = join(bin, 'asked.txt');
  writeFileSync(asked, '');
  const program = join(bin, `docker-credential-${name}`);
  writeFileSync(
    program,
    [
      '#!/bin/sh',
      '[ "$1" = get ] || exit 2',
      'read -r server',
      `printf '%s\\n' "$server" >> '${asked}'`,
      `if [ "$server" = '${host}' ]; then`,
      `  printf '{"ServerURL":"%s","Username":"${USER}","Secret":"${PASSWORD}"}' "$server"`,
      'else',
      '  echo "credentials not found in native keychain"; exit 1',
      'fi',
      '',
    ].join('\n'),
  );
  chmodSync(program, 0o755);
  return { bin, asked };
}

function dockerConfig(config: Record<string, unknown>): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

describe('Docker credential helpers', () => {
  it('logs in with what credsStore’s helper gives, and with a per-registry credHelpers entry', async () => {
    if (!locked) return;
    const h = helper('mcstore', locked.host);
    const env = (config: Record<string, unknown>) => ({ DOCKER_CONFIG: dockerConfig(config), PATH: `${h.bin}:${process.env.PATH}` });
    // Docker leaves an empty auths entry beside a credsStore: the helper is asked, the entry is not an error.
    const byStore = await cli(['pull', `oci://${locked.host}/private/iris:1.0.0`], {
      home: tempDir(),
      env: env({ credsStore: 'mcstore', auths: { [locked.host]: {} } }),
    });
    expect(byStore.stderr).toBe('');
    expect(byStore.stdout).toMatch(/^Pulled iris:1\.0\.0 \(onnx/);
    expect(byStore.stdout).not.toContain(PASSWORD);
    const byHost = await cli(['pull', `oci://${locked.host}/private/iris:1.0.0`, '--json'], {
      home: tempDir(),
      env: env({ credsStore: 'no-such-store', credHelpers: { [locked.host]: 'mcstore' } }),
    });
    expect(byHost.exitCode, byHost.stderr).toBe(0);
    expect(byHost.stdout + byHost.stderr).not.toContain(PASSWORD);
    // The helper was asked for the registry's address, host:port, as Docker stores it.
    expect(readFileSync(h.asked, 'utf8').trim().split('\n')).toEqual([locked.host, locked.host]);
  });

  it('a helper holding nothing leaves the pull anonymous (refused by the registry); a missing helper is named', async () => {
    if (!locked) return;
    const h = helper('mcempty', 'elsewhere.example:5000');
    const anonymous = await cli(['pull', `oci://${locked.host}/private/iris:1.0.0`], {
      home: tempDir(),
      env: { DOCKER_CONFIG: dockerConfig({ credsStore: 'mcempty' }), PATH: `${h.bin}:${process.env.PATH}` },
    });
    expect(anonymous.exitCode).toBe(2);
    expect(anonymous.stderr).toMatch(/denied|refused|401/i);
    const missing = await cli(['pull', `oci://${locked.host}/private/iris:1.0.0`], {
      home: tempDir(),
      env: { DOCKER_CONFIG: dockerConfig({ credHelpers: { [locked.host]: 'not-installed' } }) },
    });
    expect(missing.exitCode).toBe(6);
    expect(missing.stderr).toMatch(/credential helper "not-installed", but docker-credential-not-installed is not on PATH/);
  });

  it('asks no helper of a registry that asks for no login; a missing default store (credsStore) leaves access anonymous', async () => {
    if (!open || !locked) return;
    const h = helper('mcstore', open.host);
    const env = (config: Record<string, unknown>) => ({ DOCKER_CONFIG: dockerConfig(config), PATH: `${h.bin}:${process.env.PATH}` });
    const lazy = await cli(['pull', `oci://${open.host}/public/iris:1.0.0`], { home: tempDir(), env: env({ credsStore: 'mcstore' }) });
    expect(lazy.exitCode, lazy.stderr).toBe(0);
    expect(readFileSync(h.asked, 'utf8')).toBe('');
    // A Docker Desktop config copied into a container: its "desktop" store is not there.
    const desktop = await cli(['pull', `oci://${open.host}/public/iris:1.0.0`], { home: tempDir(), env: env({ credsStore: 'desktop' }) });
    expect(desktop.exitCode, desktop.stderr).toBe(0);
    const refused = await cli(['pull', `oci://${locked.host}/private/iris:1.0.0`], {
      home: tempDir(),
      env: env({ credsStore: 'desktop' }),
    });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/refused anonymous access/);
  });
});
