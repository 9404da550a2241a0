import { execa } from 'execa';
import { copyFileSync, cpSync, existsSync, rmSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../../src/registry/index.js';
import { TarWriter } from '../../src/util/tar.js';
import { FIXTURES, ROOT, cli, fileDir, listeningUrl, tempDir } from '../helpers.js';

/**
 * deploy image --base, run for real: the test makes a tiny base image from this machine's Node (the node binary,
 * /usr/bin/env, and the shared libraries ldd lists for them and for the native bindings modelctl loads), packed as
 * an OCI layout with modelctl's own tar writer, and archived by skopeo. The built image is inspected with skopeo,
 * unpacked by umoci into an OCI runtime bundle, and run by runc (the OCI runtime; the bundle's own config.json, only
 * its command changed and the host's network kept so the test reaches the server), with chroot and the config's Env
 * as the fallback where runc is missing: nothing from the host but the kernel. Needs skopeo, umoci and runc (Debian
 * packages, installed by test/setup/debian-packages.ts) and root; without them the test fails under CI=true and warns
 * elsewhere.
 */

const onPath = (tool: string): boolean => (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && existsSync(join(dir, tool)));

function canRun(): boolean {
  const missing = ['skopeo', 'umoci', 'chroot', 'ldd'].filter((t) => !onPath(t));
  const problems = [
    ...(missing.length > 0 ? [`${missing.join(', ')} not found`] : []),
    ...(process.getuid?.() !== 0 ? ['not root (chroot)'] : []),
  ];
  if (problems.length === 0) return true;
  if (process.env.CI === 'true') throw new Error(`deploy image --base cannot be run: ${problems.join('; ')}`);
  console.warn(`\n!!! NOT CHECKED: running the built image: ${problems.join('; ')}\n`);
  return false;
}

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** The shared libraries `ldd` lists for each file (absolute paths, the loader included). */
async function libraries(files: string[]): Promise<string[]> {
  const found = new Set<string>();
  for (const f of files) {
    const { stdout } = await execa('ldd', [f]);
    for (const m of stdout.matchAll(/(\/[^\s)]+)\s+\(0x/g)) found.add(m[1] as string);
  }
  return [...found].sort();
}

function nativeBindings(): string[] {
  const arch = process.arch;
  const ort = join(ROOT, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', arch);
  const sharp = join(ROOT, 'node_modules', '@img', `sharp-linux-${arch}`, 'lib');
  const pick = (dir: string) =>
    existsSync(dir)
      ? readdirSync(dir)
          .filter((f) => /\.(node|so[.\d]*)$/.test(f))
          .map((f) => join(dir, f))
      : [];
  return [...pick(ort), ...pick(sharp)];
}

/** A one-layer OCI image layout at `dir` (tag `base`) holding node, env and their libraries. */
async function makeBase(dir: string): Promise<{ layerDigest: string; env: string[] }> {
  const node = process.execPath;
  const env = '/usr/bin/env';
  const files = [...new Set([node, '/usr/bin/node', env, ...(await libraries([node, env, ...nativeBindings()]))])].filter(existsSync);
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const layerPath = join(dir, 'layer.tar');
  const tar = await TarWriter.create(layerPath);
  const dirs = new Set<string>(['tmp']);
  for (const f of files) for (let d = dirname(f).slice(1); d !== ''; d = dirname(d) === '.' ? '' : dirname(d)) dirs.add(d);
  for (const d of [...dirs].sort()) await tar.directory(d, { mode: d === 'tmp' ? 0o1777 : 0o755 });
  for (const f of files.sort()) {
    const bytes = readFileSync(f);
    await tar.bytes(f.slice(1), bytes, { mode: 0o755 });
  }
  await tar.bytes('etc/passwd', Buffer.from('root:x:0:0:root:/root:/bin/sh\n'), { mode: 0o644 });
  const layer = await tar.finish();
  const layerDigest = `sha256:${layer.sha256}`;
  copyFileSync(layerPath, join(blobs, layer.sha256));
  const envList = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'NODE_VERSION=test'];
  const put = (value: unknown): { digest: string; size: number } => {
    const bytes = Buffer.from(JSON.stringify(value));
    const digest = sha256(bytes);
    writeFileSync(join(blobs, digest.slice(7)), bytes);
    return { digest, size: bytes.length };
  };
  const config = put({
    architecture: process.arch === 'arm64' ? 'arm64' : 'amd64',
    os: 'linux',
    config: { Env: envList, Cmd: ['node'], WorkingDir: '/work', User: '0:0' },
    rootfs: { type: 'layers', diff_ids: [layerDigest] },
    history: [{ created_by: 'image-run.test.ts: node from the host' }],
  });
  const manifest = put({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.size }],
  });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: { 'org.opencontainers.image.ref.name': 'base' },
        },
      ],
    }),
  );
  return { layerDigest, env: envList };
}

interface RuntimeSpec {
  process: { args: string[]; env: string[]; terminal?: boolean };
  linux: { namespaces: Array<{ type: string }> };
}

let containers = 0;

/**
 * Runs `args` in the unpacked image: with runc, in a container made from the bundle's config.json (the command
 * replaced, no terminal, the host's network namespace so the test reaches a server); else under chroot with only the
 * image's Env. Answers the running process, with `cleanup` removing the container.
 */
function runInImage(bundle: string, spec: RuntimeSpec, env: string[], args: string[]) {
  if (!onPath('runc')) {
    const child = execa('chroot', [join(bundle, 'rootfs'), '/usr/bin/env', '-i', ...env, ...args], { reject: false, stdin: 'ignore' });
    return Object.assign(child, { cleanup: async () => {} });
  }
  const id = `modelctl-test-${process.pid}-${++containers}`;
  const run = {
    ...spec,
    process: { ...spec.process, args, terminal: false },
    linux: { ...spec.linux, namespaces: spec.linux.namespaces.filter((n) => n.type !== 'network') },
  };
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(run));
  const child = execa('runc', ['run', '--bundle', bundle, id], { reject: false, stdin: 'ignore' });
  return Object.assign(child, { cleanup: () => execa('runc', ['delete', '--force', id], { reject: false }).then(() => {}) });
}

let home: string;
let baseDir: string;
let base: { layerDigest: string; env: string[] };

beforeAll(async () => {
  home = fileDir('modelctl-image-run-');
  await new Registry({ home }).register({ path: join(FIXTURES, 'iris-logreg'), name: 'iris' });
  baseDir = join(fileDir('modelctl-base-'), 'layout');
  mkdirSync(baseDir);
  if (onPath('ldd')) base = await makeBase(baseDir);
}, 120_000);

interface Config {
  os: string;
  architecture: string;
  config: { Entrypoint: string[]; Env: string[]; WorkingDir?: string; User?: string; Cmd?: string[] };
  rootfs: { diff_ids: string[] };
  history: unknown[];
}

describe('deploy image --base', () => {
  it('builds an image runc runs (chroot without runc): predict and the serve entrypoint answer as on the host', async () => {
    if (!canRun()) return;
    const dir = tempDir();
    // The base archived by skopeo (oci-archive:FILE:TAG), as a user would make it from docker://node:20-slim.
    const archive = join(dir, 'base.tar');
    await execa('skopeo', ['copy', `oci:${baseDir}:base`, `oci-archive:${archive}:base`]);
    const out = join(dir, 'img.tar');
    const built = await cli(['deploy', 'image', 'iris', '--base', `oci-archive:${archive}:base`, '--out', out, '--json'], { home });
    expect(built.exitCode, built.stderr).toBe(0);
    const result = JSON.parse(built.stdout) as { layers: Array<{ digest: string; what: string }>; platform: string };
    expect(result.layers.map((l) => l.what)).toEqual(['base', 'model', 'modelctl', 'dependencies']);
    expect(result.platform).toBe(`linux/${process.arch === 'arm64' ? 'arm64' : 'amd64'}`);
    const inspect = JSON.parse((await execa('skopeo', ['inspect', `oci-archive:${out}`])).stdout) as { Layers: string[] };
    const baseLayers = JSON.parse((await execa('skopeo', ['inspect', `oci-archive:${archive}:base`])).stdout) as { Layers: string[] };
    expect(inspect.Layers.slice(0, baseLayers.Layers.length)).toEqual(baseLayers.Layers);
    expect(inspect.Layers).toEqual(result.layers.map((l) => l.digest));
    const config = JSON.parse((await execa('skopeo', ['inspect', '--config', `oci-archive:${out}`])).stdout) as Config;
    expect(config.config.Entrypoint).toEqual(['modelctl', 'serve', '--host', '0.0.0.0', '--port', '8080']);
    expect(config.config.Cmd).toBeUndefined();
    expect(config.config.Env).toEqual([...base.env, 'MODELCTL_HOME=/var/lib/modelctl']);
    expect([config.config.WorkingDir, config.config.User]).toEqual(['/work', '0:0']);
    expect(config.rootfs.diff_ids[0]).toBe(base.layerDigest);
    expect(config.rootfs.diff_ids).toHaveLength(4);
    expect(config.history).toHaveLength(4);

    const layout = join(dir, 'layout');
    mkdirSync(layout);
    await execa('tar', ['-xf', out, '-C', layout]);
    const bundle = join(dir, 'bundle');
    await execa('umoci', ['unpack', '--image', `${layout}:1.0.0`, bundle]);
    const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as RuntimeSpec;
    // umoci's runtime config runs the image's entrypoint with the image's Env.
    expect(spec.process.args).toEqual(config.config.Entrypoint);
    expect(spec.process.env).toEqual(expect.arrayContaining(config.config.Env));
    const inImage = (args: string[]) => runInImage(bundle, spec, config.config.Env, args);
    const input = JSON.stringify({
      input: [
        [5.1, 3.5, 1.4, 0.2],
        [6.7, 3.0, 5.2, 2.3],
      ],
    });
    const running = inImage(['modelctl', 'predict', 'iris', '--input', input, '--json']);
    const inside = await running;
    await running.cleanup();
    expect(inside.exitCode, String(inside.stderr)).toBe(0);
    const host = await cli(['predict', 'iris', '--input', input, '--json'], { home });
    expect(host.exitCode, host.stderr).toBe(0);
    const answer = (stdout: string) => {
      const { timings: _t, ...rest } = JSON.parse(stdout) as Record<string, unknown>;
      return rest;
    };
    expect(answer(String(inside.stdout))).toEqual(answer(host.stdout));

    // The entrypoint itself, on a free port instead of 8080 (the last --port wins).
    const child = inImage([...config.config.Entrypoint, '--port', '0', '--json']);
    try {
      const url = await listeningUrl(child);
      const port = new URL(url).port;
      const infer = await fetch(`http://127.0.0.1:${port}/v2/models/iris/infer`, {
        method: 'POST',
        body: JSON.stringify({ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }] }),
      });
      expect(infer.status).toBe(200);
      const body = (await infer.json()) as { model_version: string; outputs: Array<{ name: string; data: number[] }> };
      expect(body.model_version).toBe('1.0.0');
      expect(body.outputs.find((o) => o.name === 'label')?.data).toEqual([0]);
    } finally {
      child.kill('SIGTERM');
      await child;
      await child.cleanup();
    }
  }, 300_000);
  it('refuses a broken base with a one-line error (exit 2) and writes nothing', async () => {
    if (!canRun()) return;
    const dir = tempDir();
    const out = join(dir, 'img.tar');
    const copy = (name: string, change: (layout: string, index: { manifests: Array<Record<string, unknown>> }) => void) => {
      const layout = join(dir, name);
      cpSync(baseDir, layout, { recursive: true });
      const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Array<Record<string, unknown>> };
      change(layout, index);
      writeFileSync(join(layout, 'index.json'), JSON.stringify(index));
      return layout;
    };
    const manifestOf = (layout: string, index: { manifests: Array<Record<string, unknown>> }) =>
      join(layout, 'blobs', 'sha256', String(index.manifests[0]?.digest).slice(7));
    const tampered = copy('tampered', (layout, index) => writeFileSync(manifestOf(layout, index), '{}'));
    const noLayer = copy('nolayer', (layout) => rmSync(join(layout, 'blobs', 'sha256', base.layerDigest.slice(7))));
    const two = copy('two', (_layout, index) => {
      index.manifests.push({ ...index.manifests[0], annotations: { 'org.opencontainers.image.ref.name': 'other' } });
    });
    const cases: Array<[string, RegExp]> = [
      [`oci:${tampered}:base`, /has a blob that does not match its digest: sha256:/],
      [`oci:${noLayer}:base`, /lacks the layer sha256:/],
      [`oci:${baseDir}:nosuch`, /has no image tagged nosuch \(tags: base\)/],
      [`oci:${two}`, /holds 2 images: name one with :TAG/],
    ];
    for (const [ref, message] of cases) {
      const r = await cli(['deploy', 'image', 'iris', '--base', ref, '--out', out], { home });
      expect(r.exitCode, ref).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')[0]).toMatch(/^error: the base image oci:/);
      expect(existsSync(out)).toBe(false);
    }
    // Both tags of a layout holding two images are usable by name.
    const ok = await cli(['deploy', 'image', 'iris', '--base', `oci:${two}:other`, '--out', out, '--json'], { home });
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect((JSON.parse(ok.stdout) as { layers: Array<{ digest: string }> }).layers[0]?.digest).toBe(base.layerDigest);
  });
});
