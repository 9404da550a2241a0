/**
 * Vitest globalSetup: the Debian packages some tests run for real, installed once before any test when absent, so
 * a fresh clone needs nothing but `npm ci && npm test` on a Debian machine where the run is root (as CI is):
 * - docker-registry: the CNCF distribution registry the OCI tests push to and pull from (test/oci/);
 * - skopeo and umoci: the OCI tools that inspect and unpack what `deploy image` builds (test/deploy/image.test.ts);
 * - runc: the OCI runtime that runs the image built on a base (test/deploy/image-run.test.ts).
 * The tests themselves only check that the programs are there. Without root or apt: CI=true fails here; elsewhere
 * a loud warning, and each of those tests says what it could not check.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const PACKAGES: { name: string; program: string }[] = [
  { name: 'docker-registry', program: 'docker-registry' },
  { name: 'skopeo', program: 'skopeo' },
  { name: 'umoci', program: 'umoci' },
  { name: 'runc', program: 'runc' },
];

const onPath = (program: string): boolean =>
  (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && existsSync(join(dir, program)));

async function apt(args: string[]): Promise<{ exitCode?: number; stderr: string }> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Another apt (a second test run) holds dpkg's lock for a while: wait for it instead of failing.
  const r = await execa('apt-get', ['-o', 'DPkg::Lock::Timeout=300', ...args], { reject: false, env, stdin: 'ignore' });
  return { ...(r.exitCode !== undefined ? { exitCode: r.exitCode } : {}), stderr: String(r.stderr) };
}

async function install(names: string[]): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return `${names.join(', ')} missing, and installing them needs root (apt-get install ${names.join(' ')})`;
  if (!onPath('apt-get')) return `${names.join(', ')} missing, and there is no apt-get to install them`;
  const started = Date.now();
  process.stderr.write(`[debian-packages] installing ${names.join(' ')}\n`);
  let r = await apt(['install', '-y', '--no-install-recommends', ...names]);
  if (r.exitCode !== 0) {
    await apt(['update']); // a new machine's package lists may be missing or stale
    r = await apt(['install', '-y', '--no-install-recommends', ...names]);
  }
  if (r.exitCode !== 0) return `apt-get install ${names.join(' ')} failed: ${r.stderr.slice(-500)}`;
  if (names.includes('docker-registry')) {
    // The package starts a system service on its default port; the tests run their own registries.
    await execa('sh', ['-c', 'service docker-registry stop || systemctl stop docker-registry || true'], { reject: false, stdin: 'ignore' });
  }
  process.stderr.write(`[debian-packages] ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return undefined;
}

export default async function setup(): Promise<void> {
  const missing = PACKAGES.filter((p) => !onPath(p.program)).map((p) => p.name);
  if (missing.length === 0) return;
  const problem = await install(missing);
  if (!problem) return;
  if (process.env.CI === 'true') throw new Error(`[debian-packages] ${problem}`);
  process.stderr.write(`\n!!! [debian-packages] ${problem}: the OCI and deploy image tests will say what they could not check\n\n`);
}
