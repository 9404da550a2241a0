import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { serviceName } from '../../src/deploy/kserve.js';
import { Registry } from '../../src/registry/index.js';
import { FIXTURES, cli, fileDir, tempDir } from '../helpers.js';
import { pythonAvailable } from '../python.js';
import { pyYamlLoad } from './yaml.js';

/** deploy kserve: the InferenceService manifest read back by PyYAML, every field checked. */

let home: string;
let digests: Record<string, string>;

beforeAll(async () => {
  home = fileDir('modelctl-kserve-');
  const registry = new Registry({ home });
  await registry.register({ path: join(FIXTURES, 'iris-logreg'), name: 'iris' });
  await registry.register({ path: join(FIXTURES, 'optimum-bert'), name: 'Org/BERT_base.v2' });
  await registry.register({ path: join(FIXTURES, 'sklearn-joblib'), name: 'joblib' });
  digests = {
    iris: (await registry.resolve('iris')).digest,
    bert: (await registry.resolve('Org/BERT_base.v2')).digest,
  };
});

describe('deploy kserve', () => {
  it('with --storage-uri: an InferenceService over the OCI artifact, v2 protocol, ONNX format', async () => {
    if (!pythonAvailable()) return;
    const uri = 'oci://registry.example.com:5000/models/bert:1.0.0';
    const r = await cli(['deploy', 'kserve', 'Org/BERT_base.v2', '--storage-uri', uri], { home });
    expect(r.exitCode, r.stderr).toBe(0);
    const docs = await pyYamlLoad(r.stdout);
    expect(docs).toEqual([
      {
        apiVersion: 'serving.kserve.io/v1beta1',
        kind: 'InferenceService',
        metadata: {
          name: 'org-bert-base-v2',
          annotations: { 'modelctl.dev/model': 'Org/BERT_base.v2:1.0.0', 'modelctl.dev/manifest-digest': digests.bert },
        },
        spec: { predictor: { model: { modelFormat: { name: 'onnx' }, protocolVersion: 'v2', storageUri: uri } } },
      },
    ]);
  });

  it('with --image: a container running modelctl serve on port 8080, written to --out', async () => {
    if (!pythonAvailable()) return;
    const out = join(tempDir(), 'iris.yaml');
    const image = 'registry.example.com/team/modelctl-iris:1.0.0';
    const r = await cli(['deploy', 'kserve', 'iris', '--image', image, '--out', out, '--json'], { home });
    expect(r.exitCode, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { name: string; ref: string; mode: string; out: string; outcome: string; yaml: string };
    expect([result.name, result.ref, result.mode, result.out, result.outcome]).toEqual(['iris', 'iris:1.0.0', 'container', out, 'created']);
    expect(readFileSync(out, 'utf8')).toBe(result.yaml);
    const [doc] = await pyYamlLoad(readFileSync(out, 'utf8'));
    expect(doc).toEqual({
      apiVersion: 'serving.kserve.io/v1beta1',
      kind: 'InferenceService',
      metadata: { name: 'iris', annotations: { 'modelctl.dev/model': 'iris:1.0.0', 'modelctl.dev/manifest-digest': digests.iris } },
      spec: {
        predictor: {
          model: {
            modelFormat: { name: 'onnx' },
            protocolVersion: 'v2',
            name: 'kserve-container',
            image,
            command: ['modelctl', 'serve', '--host', '0.0.0.0', '--port', '8080'],
            ports: [{ containerPort: 8080, protocol: 'TCP' }],
            readinessProbe: { httpGet: { path: '/v2/health/ready', port: 8080 } },
          },
        },
      },
    });
    // The same manifest again is left alone; another one is refused without --force.
    const again = await cli(['deploy', 'kserve', 'iris', '--image', image, '--out', out], { home });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/iris unchanged/);
    const other = await cli(['deploy', 'kserve', 'iris', '--image', 'other:1', '--out', out], { home });
    expect(other.exitCode).toBe(8);
    expect(readFileSync(out, 'utf8')).toBe(result.yaml);
    const forced = await cli(['deploy', 'kserve', 'iris', '--image', 'other:1', '--out', out, '--force'], { home });
    expect(forced.exitCode, forced.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain('image: "other:1"');
  });

  it('quotes what a user gives, so a hostile image name stays one string', async () => {
    if (!pythonAvailable()) return;
    const image = 'x:1"\n  command: ["sh"]\n# ';
    const r = await cli(['deploy', 'kserve', 'iris', '--image', image], { home });
    expect(r.exitCode, r.stderr).toBe(0);
    const [doc] = (await pyYamlLoad(r.stdout)) as Array<{ spec: { predictor: { model: { image: string; command: string[] } } } }>;
    expect(doc?.spec.predictor.model.image).toBe(image);
    expect(doc?.spec.predictor.model.command[0]).toBe('modelctl');
  });

  it('names the service as Kubernetes allows (DNS-1035, at most 45 characters)', () => {
    expect(serviceName('iris')).toBe('iris');
    expect(serviceName('Org/BERT_base.v2')).toBe('org-bert-base-v2');
    expect(serviceName('7b/model')).toBe('m-7b-model');
    const long = serviceName(`org/${'a'.repeat(30)}-${'b'.repeat(30)}`);
    expect(long.length).toBeLessThanOrEqual(45);
    expect(long).toMatch(/^[a-z]([a-z0-9-]*[a-z0-9])?$/);
  });

  it('refuses bad input with a one-line error and the documented exit code, writing nothing', async () => {
    const out = join(tempDir(), 'x.yaml');
    const cases: Array<[string[], number, RegExp]> = [
      [['iris'], 2, /deploy kserve needs --storage-uri or --image/],
      [['iris', '--image', 'a', '--storage-uri', 'oci://h/r:t'], 2, /--storage-uri and --image are two ways to deploy; give one/],
      [['iris', '--storage-uri', 'not a uri'], 2, /--storage-uri "not a uri" is not a URI/],
      [['iris', '--storage-uri', 'oci://h/r:t', '--max-batch-size', '2'], 2, /--max-batch-size is for deploy triton/],
      [['iris', 'iris', '--image', 'a'], 2, /deploy kserve takes one model reference, got 2/],
      [['joblib', '--image', 'a'], 2, /joblib:1\.0\.0 is a joblib model; KServe serves ONNX/],
      [['nosuch', '--image', 'a'], 3, /nosuch/],
    ];
    for (const [args, code, message] of cases) {
      const r = await cli(['deploy', 'kserve', ...args, '--out', out], { home });
      expect(r.exitCode, args.join(' ')).toBe(code);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1);
      expect(existsSync(out)).toBe(false);
    }
  });

  it('never loses a file it would replace when it is refused', async () => {
    const out = join(tempDir(), 'mine.yaml');
    writeFileSync(out, 'my own manifest\n');
    const r = await cli(['deploy', 'kserve', 'iris', '--image', 'a', '--out', out], { home });
    expect(r.exitCode).toBe(8);
    expect(r.stderr).toMatch(/already exists with different content/);
    expect(readFileSync(out, 'utf8')).toBe('my own manifest\n');
  });
});
