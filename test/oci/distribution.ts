/**
 * The real CNCF distribution registry (Debian's `docker-registry`, /usr/bin/docker-registry) for the OCI tests:
 * installed by test/setup/debian-packages.ts when absent (under CI=true a missing registry fails the tests), configured by
 * a YAML file written here, storing in a temp folder, listening on a free loopback port; optionally behind
 * htpasswd (bcrypt) auth. Also the real `oras` Python client from .venv-test (test/oci/oras_client.py).
 */
import { execa, type ResultPromise } from 'execa';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ROOT, fileDir } from '../helpers.js';
import { testPython } from '../python.js';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

/** The registry binary comes from test/setup/debian-packages.ts (apt, before the tests); here it is only looked for. */
function registryMissing(): string | undefined {
  return existsSync(REGISTRY_BIN) ? undefined : `${REGISTRY_BIN} is missing (apt-get install docker-registry)`;
}

/**
 * True when the registry binary and the Python test venv are there. Otherwise: throws under CI=true, and
 * elsewhere warns loudly and returns false so the test can return early.
 */
export async function registryAvailable(): Promise<boolean> {
  // Credentials come from the tests alone, never from the user's Docker config.
  process.env.DOCKER_CONFIG = fileDir('modelctl-docker-config-');
  const problem = registryMissing() ?? (testPython() ? undefined : 'the Python test environment (.venv-test) is unavailable');
  if (!problem) return true;
  if (process.env.CI === 'true') throw new Error(problem);
  console.warn(`\n!!! NOT CHECKED: the OCI tests need the distribution registry and oras: ${problem}\n`);
  return false;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Distribution {
  /** HOST:PORT */
  host: string;
  dir: string;
  stop(): Promise<void>;
}

/** A bcrypt htpasswd line made with python's bcrypt (what the registry's htpasswd auth reads). */
async function htpasswd(user: string, password: string): Promise<string> {
  const python = testPython() as string;
  const r = await execa(
    python,
    ['-c', 'import bcrypt,sys; print(bcrypt.hashpw(sys.argv[1].encode(), bcrypt.gensalt(5)).decode())', password],
    {
      stdin: 'ignore',
    },
  );
  return `${user}:${r.stdout.trim()}\n`;
}

export async function startDistribution(auth?: { user: string; password: string }): Promise<Distribution> {
  const dir = mkdtempSync(join(tmpdir(), 'modelctl-oci-registry-'));
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'data')}`,
    'http:',
    `  addr: 127.0.0.1:${port}`,
  ];
  if (auth) {
    writeFileSync(join(dir, 'htpasswd'), await htpasswd(auth.user, auth.password));
    lines.push('auth:', '  htpasswd:', '    realm: modelctl-test', `    path: ${join(dir, 'htpasswd')}`);
  }
  writeFileSync(join(dir, 'config.yml'), `${lines.join('\n')}\n`);
  const child: ResultPromise = execa(REGISTRY_BIN, ['serve', join(dir, 'config.yml')], { reject: false, stdin: 'ignore', all: true });
  const host = `127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const up = await fetch(`http://${host}/v2/`).then(
      (r) => r.status === 200 || r.status === 401,
      () => false,
    );
    if (up) break;
    if (child.exitCode !== null || i > 200) {
      child.kill();
      const r = await child;
      throw new Error(`docker-registry did not start on ${host}: ${String(r.all).slice(-1000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host,
    dir,
    stop: async () => {
      child.kill();
      await child;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const ORAS_SCRIPT = join(ROOT, 'test', 'oci', 'oras_client.py');

/** Runs the real oras Python client (test/oci/oras_client.py); returns its JSON answer. */
export async function oras(args: string[], env: Record<string, string> = {}): Promise<Record<string, unknown>> {
  // oras' login writes $HOME/.docker/config.json: a HOME of its own keeps the user's file (and modelctl) out of it.
  const home = mkdtempSync(join(tmpdir(), 'modelctl-oras-home-'));
  const r = await execa(testPython() as string, [ORAS_SCRIPT, ...args], {
    reject: false,
    stdin: 'ignore',
    env: { PYTHONIOENCODING: 'utf-8', PYTHONDONTWRITEBYTECODE: '1', HOME: home, DOCKER_CONFIG: join(home, '.docker'), ...env },
  }).finally(() => rmSync(home, { recursive: true, force: true }));
  expect(r.exitCode, `oras_client.py ${args.join(' ')}:\n${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** Every file under a folder, by its relative path, as base64: what a pull must give back byte for byte. */
export function files(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, prefix: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name), `${prefix}${e.name}/`);
      else out[`${prefix}${e.name}`] = readFileSync(join(d, e.name)).toString('base64');
    }
  };
  walk(dir, '');
  return out;
}
