import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../../src/registry/index.js';
import { FIXTURES, cli, fileDir, startServe, tempDir } from '../helpers.js';

/**
 * deploy image, inspected by the real OCI tools: skopeo reads the archive (manifest, config, layers), umoci unpacks
 * it into a root filesystem, and the registry home inside it is checked by modelctl itself (validate --strict, predict).
 * skopeo and umoci are Debian packages (`apt-get install skopeo umoci`); without them the test fails under CI=true
 * and warns elsewhere.
 */

function toolsAvailable(): boolean {
  const missing = ['skopeo', 'umoci'].filter((t) => !onPath(t));
  if (missing.length === 0) return true;
  const message = `${missing.join(' and ')} not found: install them (Debian: apt-get install skopeo umoci)`;
  if (process.env.CI === 'true') throw new Error(message);
  console.warn(`\n!!! NOT CHECKED: deploy image needs ${message}\n`);
  return false;
}

/** An OCI image layout of one empty layer whose config has this Env (a base image as skopeo would write it). */
function layoutWithEnv(env: string[]): string {
  const dir = tempDir();
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (bytes: Buffer): { digest: string; size: number } => {
    const hex = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(join(dir, 'blobs', 'sha256', hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };
  const layer = put(Buffer.alloc(1024));
  const config = put(
    Buffer.from(
      JSON.stringify({ os: 'linux', architecture: 'amd64', config: { Env: env }, rootfs: { type: 'layers', diff_ids: [layer.digest] } }),
    ),
  );
  const manifest = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
      }),
    ),
  );
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest }] }),
  );
  return dir;
}

const onPath = (tool: string): boolean => (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && existsSync(join(dir, tool)));

let home: string;
let registry: Registry;

beforeAll(async () => {
  home = fileDir('modelctl-image-');
  registry = new Registry({ home });
  await registry.register({ path: join(FIXTURES, 'iris-logreg'), name: 'iris' });
  await registry.register({ path: join(FIXTURES, 'onnx-external'), name: 'org/ext' });
  await registry.register({ path: join(FIXTURES, 'sklearn-joblib'), name: 'joblib' });
});

interface Result {
  ref: string;
  tag: string;
  digest: string;
  layers: Array<{ digest: string; size: number; what: string }>;
  outcome: string;
}

async function build(ref: string, out: string, ...extra: string[]): Promise<Result> {
  const r = await cli(['deploy', 'image', ref, '--out', out, '--json', ...extra], { home });
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Result;
}

async function unpack(archive: string, tag: string): Promise<string> {
  const dir = tempDir();
  await execa('tar', ['-xf', archive, '-C', dir]);
  const bundle = join(dir, 'bundle');
  await execa('umoci', ['unpack', '--rootless', '--image', `${dir}:${tag}`, bundle]);
  return join(bundle, 'rootfs');
}

describe('deploy image', () => {
  it('builds an OCI archive skopeo reads: the manifest, the config running modelctl serve, three layers', async () => {
    if (!toolsAvailable()) return;
    const out = join(tempDir(), 'iris.tar');
    const result = await build('iris', out);
    expect([result.ref, result.tag, result.outcome]).toEqual(['iris:1.0.0', '1.0.0', 'created']);
    const inspect = JSON.parse((await execa('skopeo', ['inspect', `oci-archive:${out}`])).stdout) as Record<string, unknown>;
    const manifest = await registry.resolve('iris');
    expect(inspect.Digest).toBe(result.digest);
    expect(inspect.Layers).toEqual(result.layers.map((l) => l.digest));
    expect(inspect.Os).toBe('linux');
    expect(inspect.Labels).toEqual({ 'modelctl.dev/model': 'iris:1.0.0', 'modelctl.dev/manifest-digest': manifest.digest });
    const config = JSON.parse((await execa('skopeo', ['inspect', '--config', `oci-archive:${out}`])).stdout) as {
      config: { Entrypoint: string[]; Env: string[]; ExposedPorts: Record<string, unknown> };
      rootfs: { type: string; diff_ids: string[] };
    };
    expect(config.config.Entrypoint).toEqual(['modelctl', 'serve', '--host', '0.0.0.0', '--port', '8080']);
    expect(config.config.Env).toContain('MODELCTL_HOME=/var/lib/modelctl');
    expect(config.config.ExposedPorts).toEqual({ '8080/tcp': {} });
    // Uncompressed layers: each layer's digest is its diff id.
    expect(config.rootfs).toEqual({ type: 'layers', diff_ids: result.layers.map((l) => l.digest) });
    const raw = JSON.parse((await execa('skopeo', ['inspect', '--raw', `oci-archive:${out}`])).stdout) as {
      mediaType: string;
      layers: Array<{ mediaType: string; size: number }>;
    };
    expect(raw.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(raw.layers.map((l) => [l.mediaType, l.size])).toEqual(
      result.layers.map((l) => ['application/vnd.oci.image.layer.v1.tar', l.size]),
    );
  });

  it('umoci unpacks a root filesystem whose registry modelctl validates and predicts from, and modelctl on PATH', async () => {
    if (!toolsAvailable()) return;
    const out = join(tempDir(), 'ext.tar');
    const result = await build('org/ext', out, '--tag', 'v1');
    const rootfs = await unpack(out, 'v1');
    const imageHome = join(rootfs, 'var', 'lib', 'modelctl');
    const info = await registry.info('org/ext');
    const inside = new Registry({ home: imageHome });
    for (const f of info.manifest.files) {
      const copy = inside.store.layout.blob(f.sha256);
      expect(readFileSync(copy).equals(readFileSync(info.blobPaths[f.path] as string)), f.path).toBe(true);
    }
    const manifestFile = (r: Registry) => r.store.layout.manifest('org/ext', info.manifest.version);
    expect(readFileSync(manifestFile(inside)).equals(readFileSync(manifestFile(registry)))).toBe(true);
    const validate = await cli(['validate', '--strict'], { home: imageHome });
    expect(validate.exitCode, validate.stdout + validate.stderr).toBe(0);
    const predicted = await cli(['predict', 'org/ext', '--input', JSON.stringify({ x: [Array(16).fill(0.5)] }), '--json'], {
      home: imageHome,
    });
    const expected = await cli(['predict', 'org/ext', '--input', JSON.stringify({ x: [Array(16).fill(0.5)] }), '--json'], { home });
    expect(expected.exitCode, expected.stderr).toBe(0);
    expect(predicted.exitCode, predicted.stderr).toBe(0);
    const answer = (stdout: string) => {
      const { timings: _timings, ...rest } = JSON.parse(stdout) as Record<string, unknown>;
      return rest;
    };
    expect(answer(predicted.stdout)).toEqual(answer(expected.stdout));
    expect(readlinkSync(join(rootfs, 'usr', 'local', 'bin', 'modelctl'))).toBe('/opt/modelctl/bin/modelctl.cjs');
    const launcher = join(rootfs, 'opt', 'modelctl', 'bin', 'modelctl.cjs');
    expect(lstatSync(launcher).mode & 0o111).not.toBe(0);
    expect(readFileSync(join(rootfs, 'opt', 'modelctl', 'dist', 'bundle', 'main.js')).length).toBeGreaterThan(0);
    expect(result.layers.map((l) => l.what)).toEqual(['model', 'modelctl', 'dependencies']);
    // The npm packages modelctl runs with, onnxruntime-node's binding for this platform only.
    const ortBin = join(rootfs, 'opt', 'modelctl', 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux');
    expect(readdirSync(ortBin)).toEqual([process.arch]);
    expect(existsSync(join(rootfs, 'opt', 'modelctl', 'node_modules', 'vitest'))).toBe(false);
  });

  it("the image's modelctl serves its model over the v2 protocol with the npm dependencies the image holds (and this Node)", async () => {
    if (!toolsAvailable()) return;
    const out = join(tempDir(), 'iris.tar');
    await build('iris', out);
    const rootfs = await unpack(out, '1.0.0');
    // No base here: this machine's node runs the image's modelctl, which loads only the image's node_modules.
    const launcher = join(rootfs, 'opt', 'modelctl', 'bin', 'modelctl.cjs');
    const { child, url: pending } = startServe(join(rootfs, 'var', 'lib', 'modelctl'), [], launcher);
    try {
      const url = await pending;
      const meta = (await (await fetch(`${url}/v2/models/iris`)).json()) as { versions: string[]; platform: string };
      expect([meta.versions, meta.platform]).toEqual([['1.0.0'], 'onnxruntime_onnx']);
      const infer = await fetch(`${url}/v2/models/iris/infer`, {
        method: 'POST',
        body: JSON.stringify({ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }] }),
      });
      expect(infer.status).toBe(200);
      const answer = (await infer.json()) as { model_version: string; outputs: Array<{ name: string; data: number[] }> };
      expect(answer.model_version).toBe('1.0.0');
      expect(answer.outputs.find((o) => o.name === 'label')?.data).toEqual([0]);
    } finally {
      child.kill('SIGTERM');
      await child;
    }
  });

  it('the same version gives the same image: left alone; another is refused without --force', async () => {
    const out = join(tempDir(), 'iris.tar');
    const first = await build('iris', out);
    const again = await build('iris', out);
    expect(again.outcome).toBe('unchanged');
    expect(again.digest).toBe(first.digest);
    const bytes = readFileSync(out);
    const other = await cli(['deploy', 'image', 'iris', '--out', out, '--tag', 'prod'], { home });
    expect(other.exitCode).toBe(8);
    expect(other.stderr).toMatch(/already exists with different content/);
    expect(readFileSync(out).equals(bytes)).toBe(true);
    const forced = await build('iris', out, '--tag', 'prod', '--force');
    expect([forced.outcome, forced.tag]).toEqual(['replaced', 'prod']);
    // Built beside the output and renamed into place: nothing else is left in the folder.
    expect(readdirSync(dirname(out))).toEqual(['iris.tar']);
  });

  it('refuses bad input with a one-line error and the documented exit code', async () => {
    const out = join(tempDir(), 'x.tar');
    const oldNode = layoutWithEnv(['PATH=/usr/local/bin:/usr/bin:/bin', 'NODE_VERSION=18.20.4']);
    const cases: Array<[string[], number, RegExp]> = [
      [['joblib', '--out', out], 2, /joblib:1\.0\.0 is a joblib model; the image serves ONNX/],
      [['iris'], 2, /deploy image needs --out FILE/],
      [['iris', 'org/ext', '--out', out], 2, /deploy image takes one model reference, got 2/],
      [['iris', '--out', out, '--tag', 'a b'], 2, /"a b" is not an image tag/],
      [['iris', '--out', out, '--image', 'x'], 2, /--image is for deploy kserve, not deploy image/],
      [['iris', '--out', out, '--base', 'docker://node:20'], 2, /--base takes oci:DIR\[:TAG\] or oci-archive:FILE\[:TAG\]/],
      [['iris', '--out', out, '--base', `oci:${join(home, 'nothere')}`], 2, /the base image oci:.* is not there \(no such folder\)/],
      [['iris', '--out', out, '--base', `oci-archive:${join(home, 'no.tar')}:x`], 2, /is not there \(no such archive\)/],
      [['iris', '--out', out, '--base', `oci:${home}`], 2, /is not an OCI image layout \(no readable index.json\)/],
      [['iris', '--out', out, '--base', `oci:${oldNode}`], 2, /has Node\.js 18\.20\.4; modelctl needs 20 or newer/],
      [['nosuch', '--out', out], 3, /nosuch/],
    ];
    for (const [args, code, message] of cases) {
      const r = await cli(['deploy', 'image', ...args], { home });
      expect(r.exitCode, args.join(' ')).toBe(code);
      expect(r.stderr).toMatch(message);
      expect(() => statSync(out)).toThrow();
    }
    // Nothing is left in the registry's tmp/ by a build, refused or not.
    const validate = await cli(['validate', '--strict'], { home });
    expect(validate.exitCode, validate.stdout + validate.stderr).toBe(0);
  });
});
