import { execa } from 'execa';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushOci } from '../../src/oci/push.js';
import { parseOciRef } from '../../src/oci/ref.js';
import { pull } from '../../src/pull/pull.js';
import { Registry } from '../../src/registry/index.js';
import { BIN, FIXTURES, cli, fileDir, rejects, tempDir, writeSafetensors } from '../helpers.js';
import { type Distribution, oras, registryAvailable, startDistribution, files } from './distribution.js';
import { startProxy } from './proxy.js';

/**
 * push and pull against the real distribution registry (docker-registry, no auth here; htpasswd auth and a bearer
 * token service in oci-auth.test.ts), with the real oras client on the other side.
 */

const BERT = join(FIXTURES, 'optimum-bert');
let reg: Distribution | undefined;
let source: Registry;

beforeAll(async () => {
  if (!(await registryAvailable())) return;
  reg = await startDistribution();
  source = new Registry({ home: fileDir() });
  await pull({ source: BERT, registry: source, name: 'bert', version: '1.0.0' });
  await source.edit('bert:1.0.0', { tags: { team: 'nlp' }, metrics: { accuracy: 0.91 }, description: 'a tiny BERT' });
}, 600_000);

afterAll(async () => {
  await reg?.stop();
});

describe('push to the distribution registry', () => {
  it('writes a ModelPack artifact that oras pulls byte for byte, and a second push sends nothing', async () => {
    if (!reg) return;
    const r = await cli(['push', 'bert:1.0.0', `oci://${reg.host}/models/bert`, '--json'], { home: source.home });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const pushed = JSON.parse(r.stdout) as { reference: string; digest: string; tag: string; blobs: Array<{ outcome: string }> };
    expect(pushed.reference).toBe(`oci://${reg.host}/models/bert:1.0.0`);
    expect(pushed.blobs.map((b) => b.outcome)).toEqual(Array(6).fill('uploaded'));

    const manifest = await oras(['manifest', `${reg.host}/models/bert:1.0.0`]);
    expect(manifest.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(manifest.artifactType).toBe('application/vnd.cncf.model.manifest.v1+json');
    expect((manifest.config as { mediaType: string }).mediaType).toBe('application/vnd.cncf.model.config.v1+json');
    const layers = manifest.layers as Array<{ mediaType: string; digest: string; annotations: Record<string, string> }>;
    const typeOf = Object.fromEntries(layers.map((l) => [l.annotations['org.cncf.model.filepath'], l.mediaType]));
    expect(typeOf).toEqual({
      'config.json': 'application/vnd.cncf.model.weight.config.v1.raw',
      'model.onnx': 'application/vnd.cncf.model.weight.v1.raw',
      'special_tokens_map.json': 'application/vnd.cncf.model.weight.config.v1.raw',
      'tokenizer.json': 'application/vnd.cncf.model.weight.config.v1.raw',
      'tokenizer_config.json': 'application/vnd.cncf.model.weight.config.v1.raw',
      'vocab.txt': 'application/vnd.cncf.model.weight.config.v1.raw',
    });
    const embedded = JSON.parse((manifest.annotations as Record<string, string>)['dev.modelctl.manifest'] as string) as {
      name: string;
      tags: object;
    };
    expect(embedded).toMatchObject({ name: 'bert', version: '1.0.0', tags: { team: 'nlp' } });

    const out = tempDir();
    const got = await oras(['pull', `${reg.host}/models/bert:1.0.0`, out]);
    expect((got.files as string[]).length).toBe(6);
    expect(files(out)).toEqual(files(BERT));

    // The config the ModelPack spec asks for: descriptor, config.format, modelfs with one diffId per layer.
    const configDigest = (manifest.config as { digest: string }).digest;
    const config = (await (await fetch(`http://${reg.host}/v2/models/bert/blobs/${configDigest}`)).json()) as Record<string, unknown>;
    expect(config).toMatchObject({
      descriptor: { name: 'bert', version: '1.0.0', description: 'a tiny BERT' },
      config: { format: 'onnx' },
    });
    expect((config.modelfs as { type: string; diffIds: string[] }).diffIds).toEqual(layers.map((l) => l.digest));

    const again = await pushOci({ registry: source, ref: 'bert:1.0.0', target: `oci://${reg.host}/models/bert:again` });
    expect(again.blobs.map((b) => b.outcome)).toEqual(Array(6).fill('exists'));
    expect(again.uploadedBytes).toBe(0);
    expect(again.digest).toBe(pushed.digest);
    const tags = (await (await fetch(`http://${reg.host}/v2/models/bert/tags/list`)).json()) as { tags: string[] };
    expect(tags.tags.sort()).toEqual(['1.0.0', 'again']);
  });

  it('mounts blobs from the repository a version was pulled from instead of uploading them', async () => {
    if (!reg) return;
    await pushOci({ registry: source, ref: 'bert:1.0.0', target: `oci://${reg.host}/team-a/bert:1.0.0` });
    const mid = new Registry({ home: tempDir() });
    await pull({ source: `oci://${reg.host}/team-a/bert:1.0.0`, registry: mid });
    const pushed = await pushOci({ registry: mid, ref: 'bert:1.0.0', target: `oci://${reg.host}/team-b/bert:1.0.0` });
    expect(pushed.blobs.map((b) => [b.outcome, b.from])).toEqual(Array(6).fill(['mounted', 'team-a/bert']));
    expect(pushed.uploadedBytes).toBe(0);
    const out = tempDir();
    await oras(['pull', `${reg.host}/team-b/bert:1.0.0`, out]);
    expect(files(out)).toEqual(files(BERT));
  });

  it('uploads a blob larger than --chunk-size in PATCH chunks, and pulls it back byte-identical', async () => {
    if (!reg) return;
    const dir = tempDir();
    writeSafetensors(join(dir, 'model.safetensors'), 3 * 1024 * 1024 + 123);
    const home = tempDir();
    expect((await cli(['pull', dir, '--name', 'big', '--version', '0.1.0'], { home })).exitCode).toBe(0);
    // Through a recording proxy: 3 MiB + 123 bytes in 1 MiB chunks are four PATCHes and a closing PUT.
    const proxy = await startProxy({ upstream: reg.host });
    const r = await cli(['push', 'big:0.1.0', `oci://${proxy.host}/models/big:0.1.0`, '--chunk-size', '1MiB'], { home });
    await proxy.close();
    expect(r.stderr).toBe('');
    expect(proxy.requests.filter((q) => !q.startsWith('HEAD')).map((q) => q.replace(/[0-9a-f-]{36}$/, 'UUID'))).toEqual([
      'POST /v2/models/big/blobs/uploads/',
      ...Array(4).fill('PATCH /v2/models/big/blobs/uploads/UUID'),
      'PUT /v2/models/big/blobs/uploads/UUID',
      'POST /v2/models/big/blobs/uploads/',
      'PUT /v2/models/big/blobs/uploads/UUID',
      'PUT /v2/models/big/manifests/0.1.0',
    ]);
    expect(r.stdout).toMatch(
      /^Pushed big:0\.1\.0 to oci:\/\/127\.0\.0\.1:\d+\/models\/big:0\.1\.0 \(1 file, 3\.00 MiB; 1 uploaded \(3\.00 MiB\)\)\ndigest: sha256:[0-9a-f]{64}$/,
    );
    const back = tempDir();
    const p = await cli(['pull', `oci://${reg.host}/models/big:0.1.0`], { home: back });
    expect(p.exitCode).toBe(0);
    expect(p.stdout).toMatch(/^Pulled big:0\.1\.0 \(safetensors, 1 file, 3\.00 MiB; 1 downloaded \(3\.00 MiB\)\)/);
    const m = await new Registry({ home: back }).resolve('big:0.1.0');
    const stored = readFileSync(new Registry({ home: back }).store.layout.blob(m.files[0]?.sha256 as string));
    // Buffer.equals: vitest's deep equality walks a 3 MiB buffer byte by byte for tens of seconds.
    expect(stored.equals(readFileSync(join(dir, 'model.safetensors')))).toBe(true);
  });
});

describe('pull from the distribution registry', () => {
  it('brings back what push sent: the same files, tags, metrics and description, with the manifest digest in the lineage', async () => {
    if (!reg) return;
    const pushed = await pushOci({ registry: source, ref: 'bert:1.0.0', target: `oci://${reg.host}/roundtrip/bert:v1` });
    const home = tempDir();
    const r = await cli(['pull', `oci://${reg.host}/roundtrip/bert:v1`, '--json'], { home });
    expect(r.exitCode).toBe(0);
    const back = new Registry({ home });
    const m = await back.resolve('bert:1.0.0');
    const orig = await source.resolve('bert:1.0.0');
    expect(m.files).toEqual(orig.files);
    expect({ format: m.format, task: m.task, tags: m.tags, metrics: m.metrics, description: m.description }).toEqual({
      format: orig.format,
      task: orig.task,
      tags: { team: 'nlp' },
      metrics: { accuracy: 0.91 },
      description: 'a tiny BERT',
    });
    expect(m.lineage.source).toEqual({
      kind: 'oci',
      ref: `oci://${reg.host}/roundtrip/bert:v1`,
      host: reg.host,
      repository: 'roundtrip/bert',
      tag: 'v1',
      digest: pushed.digest,
      pushedFrom: 'bert:1.0.0',
    });
    const view = await back.materialize(m);
    expect(files(view)).toEqual(files(BERT));
    // By digest: the same version, up to date.
    const again = await cli(['pull', `oci://${reg.host}/roundtrip/bert@${pushed.digest}`], { home });
    expect(again.stdout).toBe('Up to date bert:1.0.0 (6 files, 135 KiB)');
  });

  it('pulls what oras pushed', async () => {
    if (!reg) return;
    const dir = tempDir();
    writeFileSync(join(dir, 'model.onnx'), readFileSync(join(FIXTURES, 'iris-logreg', 'model.onnx')));
    writeFileSync(join(dir, 'notes.json'), '{"trained": "yesterday"}\n');
    await oras(['push', `${reg.host}/from-oras/iris:v1`, dir, 'model.onnx', 'notes.json']);
    const home = tempDir();
    const r = await cli(['pull', `oci://${reg.host}/from-oras/iris:v1`, '--name', 'iris'], { home });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^Pulled iris:1\.0\.0 \(onnx, tabular-classification, 2 files, /);
    const registry = new Registry({ home });
    expect(files(await registry.materialize(await registry.resolve('iris:1.0.0')))).toEqual(files(dir));
  });

  it('answers a tag that is not there with exit 3, naming the tags there, and registers nothing', async () => {
    if (!reg) return;
    const home = tempDir();
    const r = await cli(['pull', `oci://${reg.host}/models/bert:missing`], { home });
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toBe(
      `error: models/bert:missing not found on ${reg.host} (MANIFEST_UNKNOWN: manifest unknown)\nhint: tags of models/bert: 1.0.0, again`,
    );
    expect((await new Registry({ home }).list()).entries).toEqual([]);
  });

  it('refuses plain HTTP to a registry off loopback unless --insecure, and a push target that is not oci://', async () => {
    expect(parseOciRef('oci://registry.example.com/team/bert:1.0.0').origin).toBe('https://registry.example.com');
    expect(parseOciRef('oci://registry.example.com:5000/team/bert', { insecure: true }).origin).toBe('http://registry.example.com:5000');
    expect(parseOciRef(`oci://localhost:5000/bert@sha256:${'a'.repeat(64)}`)).toMatchObject({
      origin: 'http://localhost:5000',
      repo: 'bert',
    });
    const home = tempDir();
    const r = await execa('node', [BIN, 'push', 'bert:1.0.0', 'mlflow2://somewhere/x'], {
      reject: false,
      env: { MODELCTL_HOME: home, NO_COLOR: '1' },
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(
      /^error: cannot push to "mlflow2:\/\/somewhere\/x": not a remote modelctl knows\nhint: give one of: oci:\/\/HOST\[:PORT\]\/REPO\[:TAG\], mlflow:\/\//,
    );
    const noStdin = await cli(['push', 'bert:1.0.0', 'oci://127.0.0.1:1/a/b:1', '--username', 'me'], { home });
    expect(noStdin.exitCode).toBe(2);
    expect(noStdin.stderr).toMatch(/^error: --username needs --password-stdin \(a password is never given as an argument\)\n/);
    const bad = await cli(['pull', 'oci://127.0.0.1:1/Upper/Case:1'], { home });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/^error: invalid repository name "Upper\/Case"/);
    await rejects(
      pull({ source: 'hf:org/model', registry: new Registry({ home }), insecure: true }),
      'USAGE',
      /--insecure applies to oci:\/\/ and mlflow:\/\/ sources only/,
    );
    await rejects(
      pull({ source: 'oci://127.0.0.1:1/a/b:1', registry: new Registry({ home }), offline: true }),
      'NETWORK',
      /^offline \(--offline was given\): oci:\/\/ references need the network$/,
    );
  });
});
