import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OciClient, sha256Digest } from '../../src/oci/client.js';
import { zstdAvailable } from '../../src/oci/modelpack.js';
import { parseOciRef } from '../../src/oci/ref.js';
import { Registry } from '../../src/registry/index.js';
import { TarWriter } from '../../src/util/tar.js';
import { FIXTURES, cli, tempDir } from '../helpers.js';
import { type Distribution, oras, registryAvailable, startDistribution, files } from './distribution.js';
import { startProxy } from './proxy.js';

/**
 * Pulling OCI layers packed as tar (src/oci/packed-layer.ts) from the real distribution registry: a folder pushed
 * by the real oras client, and ModelPack manifests with .tar and .tar+gzip layers pushed here by raw HTTP (the
 * distribution protocol through src/oci/client.ts), as modctl lays them out.
 */

const IRIS = readFileSync(join(FIXTURES, 'iris-logreg', 'model.onnx'));
let reg: Distribution | undefined;

beforeAll(async () => {
  if (!(await registryAvailable())) return;
  reg = await startDistribution();
}, 600_000);

afterAll(async () => {
  await reg?.stop();
});

interface Layer {
  mediaType: string;
  bytes: Buffer;
  annotations?: Record<string, string>;
}

/** Pushes a manifest of these layers (blobs first, then a ModelPack config) to oci://HOST/REPO:TAG. */
async function pushManifest(target: string, layers: Layer[]): Promise<string> {
  const client = new OciClient(parseOciRef(target), {});
  const put = async (bytes: Buffer): Promise<string> => {
    const digest = sha256Digest(bytes);
    await client.putBytes(await client.startUpload(), digest, bytes);
    return digest;
  };
  const config = Buffer.from(JSON.stringify({ descriptor: { name: 'packed' }, config: { format: 'onnx' }, modelfs: { type: 'layers' } }));
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    artifactType: 'application/vnd.cncf.model.manifest.v1+json',
    config: { mediaType: 'application/vnd.cncf.model.config.v1+json', digest: await put(config), size: config.length },
    layers: [] as object[],
  };
  for (const l of layers) {
    manifest.layers.push({
      mediaType: l.mediaType,
      digest: await put(l.bytes),
      size: l.bytes.length,
      ...(l.annotations ? { annotations: l.annotations } : {}),
    });
  }
  const tag = parseOciRef(target).tag as string;
  return client.putManifest(tag, Buffer.from(JSON.stringify(manifest)), 'application/vnd.oci.image.manifest.v1+json');
}

/** A tar made by modelctl's own writer (ustar, pax for long names), with whatever entries `fill` adds. */
async function tarOf(fill: (w: TarWriter) => Promise<void>): Promise<Buffer> {
  const path = join(tempDir(), 'layer.tar');
  const w = await TarWriter.create(path);
  await fill(w);
  await w.finish();
  return readFileSync(path);
}

/**
 * A tar whose one file's size is only in a pax `size` record, its ustar size field zero: what Go's archive/tar
 * (modctl) writes for a file of 8 GiB or more, made small here. Only the fields the reader looks at are filled.
 */
function paxSizedTar(name: string, data: Buffer): Buffer {
  const header = (path: string, size: number, type: string): Buffer => {
    const h = Buffer.alloc(512);
    h.write(path, 0, 'utf8');
    h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
    h.write(type, 156, 'ascii');
    h.write('ustar\x0000', 257, 'binary');
    return h;
  };
  const record = (key: string, value: string): string => {
    const body = ` ${key}=${value}\n`;
    let len = body.length + 1;
    while (`${len}${body}`.length !== len) len = `${len}${body}`.length;
    return `${len}${body}`;
  };
  const pax = Buffer.from(record('size', String(data.length)));
  const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
  return Buffer.concat([header('PaxHeaders/x', pax.length, 'x'), pad(pax), header(name, 0, '0'), pad(data), Buffer.alloc(1024)]);
}

async function versionFiles(home: string, ref: string): Promise<Record<string, string>> {
  const registry = new Registry({ home });
  return files(await registry.materialize(await registry.resolve(ref)));
}

/** Nothing registered, nothing left in the registry's tmp/. */
async function untouched(home: string): Promise<void> {
  const registry = new Registry({ home });
  expect((await registry.list()).entries).toEqual([]);
  const tmp = registry.store.layout.tmpDir;
  expect(existsSync(tmp) ? readdirSync(tmp) : []).toEqual([]);
}

describe('pull OCI layers packed as tar', () => {
  it('pulls a folder oras pushed (one tar+gzip layer) into its files under the folder, and predict runs on it', async () => {
    if (!reg) return;
    const dir = tempDir();
    mkdirSync(join(dir, 'iris'));
    writeFileSync(join(dir, 'iris', 'model.onnx'), IRIS);
    writeFileSync(join(dir, 'iris', 'config.json'), '{"labels": ["setosa", "versicolor", "virginica"]}\n');
    await oras(['push', `${reg.host}/oras-dir/iris:v1`, dir, 'iris']);
    const manifest = await oras(['manifest', `${reg.host}/oras-dir/iris:v1`]);
    expect((manifest.layers as Array<{ mediaType: string }>).map((l) => l.mediaType)).toEqual([
      'application/vnd.oci.image.layer.v1.tar+gzip',
    ]);

    const home = tempDir();
    const r = await cli(['pull', `oci://${reg.host}/oras-dir/iris:v1`, '--name', 'iris', '--json'], { home });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(await versionFiles(home, 'iris:1.0.0')).toEqual(files(dir));
    const m = await new Registry({ home }).resolve('iris:1.0.0');
    expect(m.format).toBe('onnx');
    expect(m.lineage.source).toMatchObject({ kind: 'oci', repository: 'oras-dir/iris', tag: 'v1' });
    expect(readdirSync(new Registry({ home }).store.layout.tmpDir)).toEqual([]);

    const input = JSON.stringify({ input: [[5.1, 3.5, 1.4, 0.2]] });
    const p = await cli(['predict', 'iris', '--input', input, '--json'], { home });
    expect(p.stderr).toBe('');
    expect(p.exitCode).toBe(0);
    const fromFile = await cli(['predict', join(FIXTURES, 'iris-logreg', 'model.onnx'), '--input', input, '--json'], { home: tempDir() });
    const answer = (stdout: string) => {
      const { timings: _t, model: _m, taskReason: _r, ...rest } = JSON.parse(stdout) as Record<string, unknown>;
      return rest;
    };
    // The same answers as the fixture's file gives (the task comes from the registry here, from the file there).
    expect(answer(p.stdout)).toEqual(answer(fromFile.stdout));
  });

  it('pulls a ModelPack manifest with a .tar layer and a .tar+gzip layer byte-identical', async () => {
    if (!reg) return;
    const config = Buffer.from('{"model_type": "logreg"}\n');
    const labels = Buffer.from('setosa\nversicolor\nvirginica\n');
    const weight = await tarOf((w) => w.bytes('model.onnx', IRIS));
    const folder = await tarOf(async (w) => {
      await w.bytes('config.json', config);
      await w.directory('extra');
      await w.bytes('extra/labels.txt', labels);
    });
    await pushManifest(`oci://${reg.host}/modelpack/iris:1.2.0`, [
      { mediaType: 'application/vnd.cncf.model.weight.v1.tar', bytes: weight, annotations: { 'org.cncf.model.filepath': 'model.onnx' } },
      { mediaType: 'application/vnd.cncf.model.weight.config.v1.tar+gzip', bytes: gzipSync(folder) },
    ]);
    const home = tempDir();
    const r = await cli(['pull', `oci://${reg.host}/modelpack/iris:1.2.0`], { home });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^Pulled modelpack\/iris:1\.2\.0 \(onnx, tabular-classification, 3 files, /);
    expect(await versionFiles(home, 'modelpack/iris:1.2.0')).toEqual({
      'model.onnx': IRIS.toString('base64'),
      'config.json': config.toString('base64'),
      'extra/labels.txt': labels.toString('base64'),
    });
    expect(readdirSync(new Registry({ home }).store.layout.tmpDir)).toEqual([]);

    // A file whose size is in a pax record only (Go's archive/tar past 8 GiB) comes back whole.
    await pushManifest(`oci://${reg.host}/modelpack/pax:1.0.0`, [
      { mediaType: 'application/vnd.cncf.model.weight.v1.tar', bytes: paxSizedTar('weights/model.onnx', IRIS) },
    ]);
    const pax = await cli(['pull', `oci://${reg.host}/modelpack/pax:1.0.0`], { home });
    expect(pax.stderr).toBe('');
    expect(await versionFiles(home, 'modelpack/pax:1.0.0')).toEqual({ 'weights/model.onnx': IRIS.toString('base64') });
  });

  it('a tar+gzip layer named as one file (not a folder of that name) is pulled as that file, as the Go oras client pushed it', async () => {
    if (!reg) return;
    const archive = gzipSync(await tarOf((w) => w.bytes('model.onnx', IRIS)));
    const notGzip = Buffer.from('plain bytes under a tar+gzip media type\n');
    const title = (name: string) => ({ 'org.opencontainers.image.title': name });
    await pushManifest(`oci://${reg.host}/oras-files/bundle:1.0.0`, [
      { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', bytes: archive, annotations: title('bundle.tar.gz') },
      { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', bytes: notGzip, annotations: title('notes.txt') },
      { mediaType: 'application/vnd.oci.image.layer.v1.tar', bytes: IRIS, annotations: title('model.onnx') },
    ]);
    const home = tempDir();
    const r = await cli(['pull', `oci://${reg.host}/oras-files/bundle:1.0.0`], { home });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(await versionFiles(home, 'oras-files/bundle:1.0.0')).toEqual({
      'bundle.tar.gz': archive.toString('base64'),
      'notes.txt': notGzip.toString('base64'),
      'model.onnx': IRIS.toString('base64'),
    });
    expect(readdirSync(new Registry({ home }).store.layout.tmpDir)).toEqual([]);
  });

  it('refuses ../ entries, links, corrupt gzip, a content digest that does not match, a file twice, a cut tar: exit code, one line, nothing registered', async () => {
    if (!reg) return;
    const host = reg.host;
    const weight = 'application/vnd.cncf.model.weight.v1.tar';
    const cases: Array<{ tag: string; layers: Layer[]; exit: number; message: RegExp }> = [
      {
        tag: 'escape',
        layers: [{ mediaType: weight, bytes: await tarOf((w) => w.bytes('../x', Buffer.from('x'))) }],
        exit: 2,
        message:
          /^error: layer 1 of oci:\/\/[^ ]+\/bad\/m:escape is not a tar archive modelctl can read: the entry "\.\.\/x" points outside it$/,
      },
      {
        tag: 'link',
        layers: [
          {
            mediaType: weight,
            bytes: await tarOf(async (w) => {
              await w.bytes('model.onnx', IRIS);
              await w.symlink('passwd', '/etc/passwd');
            }),
          },
        ],
        exit: 2,
        message: /^error: layer 1 of oci:\/\/[^ ]+:link is not a tar archive modelctl can read: "passwd" is a link \(links are refused\)$/,
      },
      {
        tag: 'gzip',
        layers: [
          {
            mediaType: `${weight}+gzip`,
            bytes: Buffer.concat([gzipSync(await tarOf((w) => w.bytes('model.onnx', IRIS))).subarray(0, 200), Buffer.alloc(64, 7)]),
            annotations: { 'org.cncf.model.filepath': 'model.onnx' },
          },
        ],
        exit: 2,
        message: /^error: layer model\.onnx of oci:\/\/[^ ]+:gzip is not valid gzip data \(.+\)$/,
      },
      {
        tag: 'digest',
        layers: [
          {
            mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
            bytes: gzipSync(await tarOf((w) => w.bytes('iris/model.onnx', IRIS))),
            annotations: {
              'org.opencontainers.image.title': 'iris',
              'io.deis.oras.content.unpack': 'true',
              'io.deis.oras.content.digest': `sha256:${'0'.repeat(64)}`,
            },
          },
        ],
        exit: 4,
        message:
          /^error: layer iris of oci:\/\/[^ ]+:digest does not match its content digest \(expected sha256:0{64}, got sha256:[0-9a-f]{64}\)$/,
      },
      {
        tag: 'outside',
        layers: [
          {
            mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
            bytes: gzipSync(await tarOf((w) => w.bytes('elsewhere/model.onnx', IRIS))),
            annotations: { 'org.opencontainers.image.title': 'iris', 'io.deis.oras.content.unpack': 'true' },
          },
        ],
        exit: 2,
        message: /^error: layer iris of oci:\/\/[^ ]+:outside holds "elsewhere\/model\.onnx", outside its folder iris$/,
      },
    ];
    const one = await tarOf((w) => w.bytes('model.onnx', IRIS));
    cases.push(
      {
        tag: 'twice',
        layers: [
          { mediaType: weight, bytes: one },
          { mediaType: `${weight}+gzip`, bytes: gzipSync(one) },
        ],
        exit: 2,
        message: /^error: oci:\/\/[^ ]+:twice holds model\.onnx twice \(in two layers\)$/,
      },
      {
        tag: 'short',
        layers: [{ mediaType: weight, bytes: one.subarray(0, 1024) }],
        exit: 2,
        message: /^error: layer 1 of oci:\/\/[^ ]+:short is not a tar archive modelctl can read: it ends in the middle of an entry$/,
      },
    );
    for (const c of cases) {
      await pushManifest(`oci://${host}/bad/m:${c.tag}`, c.layers);
      const home = tempDir();
      const r = await cli(['pull', `oci://${host}/bad/m:${c.tag}`], { home });
      expect(r.exitCode, `${c.tag}: ${r.stderr}`).toBe(c.exit);
      const [line, ...rest] = r.stderr.split('\n');
      expect(line, c.tag).toMatch(c.message);
      expect(
        rest.every((l) => l.startsWith('hint: ') || l === ''),
        c.tag,
      ).toBe(true);
      await untouched(home);
    }
  });

  it('resumes a packed layer cut mid-download, and refuses one whose blob does not match its digest (exit 4, nothing left)', async () => {
    if (!reg) return;
    const config = Buffer.from('{"model_type": "logreg"}\n');
    const layer = gzipSync(
      await tarOf(async (w) => {
        await w.bytes('model.onnx', IRIS);
        await w.bytes('config.json', config);
      }),
    );
    await pushManifest(`oci://${reg.host}/proxied/iris:1.0.0`, [
      { mediaType: 'application/vnd.cncf.model.weight.v1.tar+gzip', bytes: layer },
    ]);

    const cut = await startProxy({ upstream: reg.host, cut: true });
    const home = tempDir();
    const r = await cli(['pull', `oci://${cut.host}/proxied/iris:1.0.0`], { home });
    await cut.close();
    expect(r.stderr).toBe('');
    expect(cut.ranges).toEqual([`bytes=${layer.length >> 1}-`]);
    expect(await versionFiles(home, 'proxied/iris:1.0.0')).toEqual({
      'model.onnx': IRIS.toString('base64'),
      'config.json': config.toString('base64'),
    });
    expect(readdirSync(new Registry({ home }).store.layout.tmpDir)).toEqual([]);

    const corrupt = await startProxy({ upstream: reg.host, corrupt: 'blob' });
    const other = tempDir();
    const bad = await cli(['pull', `oci://${corrupt.host}/proxied/iris:1.0.0`], { home: other });
    await corrupt.close();
    expect(bad.exitCode).toBe(4);
    expect(bad.stderr.split('\n')[0]).toMatch(
      /^error: layer 1 from oci:\/\/[^ ]+ does not match its digest \(expected sha256:[0-9a-f]{64}, got sha256:[0-9a-f]{64}\)$/,
    );
    await untouched(other);
  });

  it('pulls a zstd layer where node:zlib has zstd, and elsewhere refuses it with exit 9 before downloading anything', async () => {
    if (!reg) return;
    const tar = await tarOf((w) => w.bytes('model.onnx', IRIS));
    const zlib = (await import('node:zlib')) as unknown as { zstdCompressSync?: (b: Buffer) => Buffer };
    const bytes = zlib.zstdCompressSync ? zlib.zstdCompressSync(tar) : Buffer.from('not zstd: this Node cannot make it');
    await pushManifest(`oci://${reg.host}/zstd/m:1`, [{ mediaType: 'application/vnd.cncf.model.weight.v1.tar+zstd', bytes }]);
    const home = tempDir();
    const r = await cli(['pull', `oci://${reg.host}/zstd/m:1`, '--name', 'z', '--version', '1.0.0'], { home });
    if (zstdAvailable()) {
      expect(r.stderr).toBe('');
      expect(await versionFiles(home, 'z:1.0.0')).toEqual({ 'model.onnx': IRIS.toString('base64') });
      return;
    }
    expect(r.exitCode).toBe(9);
    expect(r.stderr.split('\n')[0]).toBe(
      `error: layer 1 of oci://${reg.host}/zstd/m:1 is compressed with zstd (application/vnd.cncf.model.weight.v1.tar+zstd): node:zlib has no zstd on Node ${process.version}`,
    );
    await untouched(home);
  });
});
