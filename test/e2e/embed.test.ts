import { copyFileSync, cpSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES, cli, tempDir } from '../helpers.js';

const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('modelctl embed-metadata (spawned binary)', () => {
  it('embeds into a file from its HF folder, leaves the input alone, and info PATH reads it back', async () => {
    const dir = tempDir();
    cpSync(join(FIXTURES, 'optimum-bert'), dir, { recursive: true });
    const input = join(dir, 'model.onnx');
    const before = sha(input);
    const out = join(dir, 'embedded.onnx');
    const r = await cli(['embed-metadata', input, '--out', out, '--set', 'origin=e2e', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain('task: text-classification (config.json architectures: BertForSequenceClassification)');
    const result = JSON.parse(r.stdout);
    expect(Object.keys(result.written)).toEqual(
      expect.arrayContaining([
        'hf_metadata_version',
        'hf_model_config',
        'hf_processor_config',
        'hf_pipeline_task',
        'hf_export_timestamp',
        'hf_checksum',
        'origin',
      ]),
    );
    expect(result.totalBytes).toBeLessThan(100 * 1024);
    expect(sha(input)).toBe(before);

    const info = JSON.parse((await cli(['info', out, '--json'])).stdout);
    expect(info.format).toBe('onnx');
    expect(info.embedded).toMatchObject({ version: '2.0', task: 'text-classification', checksum: { ok: true } });
    expect(info.embedded.modelConfig.architectures).toEqual(['BertForSequenceClassification']);
    expect(Object.keys(info.embedded.processorConfig)).toEqual(expect.arrayContaining(['tokenizer.json', 'tokenizer_config.json']));

    const human = await cli(['info', out]);
    expect(human.stdout).toMatch(/^Embedded metadata$/m);
    expect(human.stdout).toMatch(/^checksum: +ok$/m);
  });

  it('replaces a file in place when no --out is given, atomically', async () => {
    const dir = tempDir();
    const file = join(dir, 'model.onnx');
    copyFileSync(join(FIXTURES, 'iris-logreg', 'model.onnx'), file);
    const r = await cli(['embed-metadata', file, '--features', 'a,b,c,d']);
    expect(r.exitCode, r.stderr).toBe(0);
    const info = JSON.parse((await cli(['info', file, '--json'])).stdout);
    expect(info.embedded.task).toBe('tabular-classification');
    expect(info.embedded.featureConfig).toMatchObject({ n_features: 4, feature_names: ['a', 'b', 'c', 'd'] });
    const wrong = await cli(['embed-metadata', file, '--features', 'a,b']);
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr).toMatch(/^error: 2 feature names given, but the model takes 4 features/);
  });

  it('on a registry model: a new version with lineage, the parent and its blobs untouched', async () => {
    const home = tempDir();
    expect(
      (await cli(['register', join(FIXTURES, 'optimum-bert'), '--name', 'org/bert', '--alias', 'production'], { home })).exitCode,
    ).toBe(0);
    const parent = JSON.parse((await cli(['info', 'org/bert', '--json'], { home })).stdout);
    const r = await cli(['embed-metadata', 'org/bert', '--json'], { home });
    expect(r.exitCode, r.stderr).toBe(0);
    const child = JSON.parse((await cli(['info', 'org/bert', '--json'], { home })).stdout);
    expect(child.manifest.version).toBe('1.0.1');
    expect(child.manifest.lineage).toMatchObject({ operation: 'embed-metadata', parent: 'org/bert:1.0.0' });
    expect(child.embedded).toMatchObject({ task: 'text-classification', checksum: { ok: true } });
    const changed = child.manifest.files.filter(
      (f: { path: string; sha256: string }) =>
        parent.manifest.files.find((p: { path: string; sha256: string }) => p.path === f.path)?.sha256 !== f.sha256,
    );
    expect(changed.map((f: { path: string }) => f.path)).toEqual(['model.onnx']);
    for (const [path, blob] of Object.entries(parent.blobPaths as Record<string, string>)) {
      expect(sha(blob), path).toBe(parent.manifest.files.find((f: { path: string }) => f.path === path).sha256);
    }
    expect((await cli(['info', 'org/bert@production', '--json'], { home })).stdout).toContain('"version": "1.0.0"');
    const v = await cli(['validate', '--strict'], { home });
    expect(v.exitCode, v.stdout).toBe(0);
  });

  it('refuses what it cannot do with one-line errors', async () => {
    const home = tempDir();
    await cli(['register', join(FIXTURES, 'safetensors', 'model.safetensors'), '--name', 'st'], { home });
    const cases: Array<[string[], number, RegExp]> = [
      [['embed-metadata', 'st'], 2, /st:1\.0\.0 is a safetensors model, not ONNX/],
      [['embed-metadata', './missing.onnx'], 3, /no such file or folder/],
      [['embed-metadata', join(FIXTURES, 'bad', 'random.onnx'), '--out', join(tempDir(), 'x.onnx')], 2, /not a valid ONNX model/],
      [
        [
          'embed-metadata',
          join(FIXTURES, 'iris-logreg', 'model.onnx'),
          '--config',
          join(FIXTURES, 'bad', 'not-a-model.txt'),
          '--out',
          join(tempDir(), 'x.onnx'),
        ],
        2,
        /is not valid JSON/,
      ],
      [
        ['embed-metadata', join(FIXTURES, 'iris-logreg', 'model.onnx'), '--set', 'hf_checksum=x', '--out', join(tempDir(), 'x.onnx')],
        2,
        /hf_checksum/,
      ],
    ];
    for (const [args, code, pattern] of cases) {
      const r = await cli(args, { home });
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(code);
      expect(r.stderr.split('\n')[0]).toMatch(pattern);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('info PATH reports damaged embedded metadata instead of failing', async () => {
    const dir = tempDir();
    const file = join(dir, 'model.onnx');
    const r = await cli(['embed-metadata', join(FIXTURES, 'onnx-handbuilt', 'model.onnx'), '--task', 'feature-extraction', '--out', file]);
    expect(r.exitCode, r.stderr).toBe(0);
    const bytes = readFileSync(file);
    const at = bytes.indexOf(Buffer.from('feature-extraction'));
    bytes[at] = 'F'.charCodeAt(0);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, bytes);
    const info = await cli(['info', file, '--json']);
    expect(info.exitCode).toBe(0);
    expect(JSON.parse(info.stdout).embeddedError).toMatchObject({ code: 'INTEGRITY' });
  });
});

describe('embed-metadata keeps away from what it must not touch', () => {
  it('refuses to write inside the registry, in place or with --out', async () => {
    const home = tempDir();
    await cli(['register', join(FIXTURES, 'iris-logreg', 'model.onnx'), '--name', 'iris'], { home });
    const info = JSON.parse((await cli(['info', 'iris', '--json'], { home })).stdout);
    const blob = info.blobPaths['model.onnx'] as string;
    const inPlace = await cli(['embed-metadata', blob, '--task', 'x'], { home });
    expect(inPlace.exitCode).toBe(2);
    expect(inPlace.stderr).toMatch(/^error: the model .* is inside the registry/);
    const out = await cli(['embed-metadata', join(FIXTURES, 'iris-logreg', 'model.onnx'), '--out', join(home, 'models', 'x.onnx')], {
      home,
    });
    expect(out.exitCode).toBe(2);
    expect(out.stderr).toMatch(/^error: --out .* is inside the registry/);
    const v = await cli(['validate', '--strict'], { home });
    expect(v.exitCode, v.stdout).toBe(0);
  });

  it('fails a bad --out before it commits a version, and keeps latest where it was for an older parent', async () => {
    const home = tempDir();
    const dir = tempDir();
    await cli(['register', join(FIXTURES, 'iris-logreg', 'model.onnx'), '--name', 'iris'], { home });
    // The same bytes make a second version only with other metadata (same content, same version).
    await cli(['register', join(FIXTURES, 'iris-logreg', 'model.onnx'), '--name', 'iris', '--description', 'second'], { home });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'file'), 'x');
    const bad = await cli(['embed-metadata', 'iris', '--out', join(dir, 'file', 'sub', 'm.onnx')], { home });
    expect(bad.exitCode).not.toBe(0);
    expect(JSON.parse((await cli(['list', '--json'], { home })).stdout).models).toHaveLength(2);
    const older = await cli(['embed-metadata', 'iris:1.0.0', '--set', 'hf_pipeline_task=tabular-regression', '--json'], { home });
    expect(older.exitCode, older.stderr).toBe(0);
    expect(JSON.parse(older.stdout).task).toEqual({ task: 'tabular-regression', reason: '--set hf_pipeline_task' });
    const list = JSON.parse((await cli(['list', '--json'], { home })).stdout).models as Array<{
      version: string;
      aliases: string[];
      task: string;
    }>;
    expect(list.map((m) => `${m.version} ${m.aliases.join(',')} ${m.task}`)).toEqual([
      '1.0.0  tabular-classification',
      '1.0.1 latest tabular-classification',
      '1.0.2  tabular-regression',
    ]);
  });

  it('writes a model with external data elsewhere together with its data file', async () => {
    const dir = tempDir();
    const out = join(dir, 'copy', 'model.onnx');
    const r = await cli(['embed-metadata', join(FIXTURES, 'onnx-external', 'model.onnx'), '--task', 'feature-extraction', '--out', out]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(sha(join(dir, 'copy', 'weights.bin'))).toBe(sha(join(FIXTURES, 'onnx-external', 'weights.bin')));
    const info = await cli(['info', out, '--json']);
    expect(info.exitCode, info.stderr).toBe(0);
    expect(JSON.parse(info.stdout).embedded.task).toBe('feature-extraction');
  });

  describe('external data locations come from the file: nothing is written outside --out, nothing at all on a bad one', () => {
    /** Every path under `dir`, folders too, relative to it. */
    const tree = (dir: string): string[] => (readdirSync(dir, { recursive: true }) as string[]).sort();
    // "weights.bin" is 11 bytes; another 11-byte location keeps every protobuf length valid.
    function tampered(location: string): { root: string; model: string } {
      expect(location).toHaveLength('weights.bin'.length);
      const root = tempDir();
      mkdirSync(join(root, 'a', 'b', 'src'), { recursive: true });
      const bytes = readFileSync(join(FIXTURES, 'onnx-external', 'model.onnx'))
        .toString('latin1')
        .split('weights.bin')
        .join(location);
      const model = join(root, 'a', 'b', 'src', 'model.onnx');
      writeFileSync(model, Buffer.from(bytes, 'latin1'));
      copyFileSync(join(FIXTURES, 'onnx-external', 'weights.bin'), join(root, 'a', 'b', 'src', 'weights.bin'));
      return { root, model };
    }

    it('refuses a location climbing out with .. whose file exists, and creates nothing', async () => {
      const { root, model } = tampered('../../x.bin');
      copyFileSync(join(FIXTURES, 'onnx-external', 'weights.bin'), join(root, 'a', 'x.bin')); // what ../../x.bin names from src/
      const before = tree(root);
      const r = await cli(['embed-metadata', model, '--task', 'feature-extraction', '--out', join(root, 'a', 'b', 'out', 'sub', 'm.onnx')]);
      expect(r.exitCode).toBe(2);
      expect(r.stderr.split('\n')[0]).toMatch(/^error: .*external data location "\.\.\/\.\.\/x\.bin" points outside the model's folder$/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(tree(root)).toEqual(before);
    });

    it('refuses it in place too (no --out), leaving the file as it was', async () => {
      const { root, model } = tampered('../../x.bin');
      const before = sha(model);
      const r = await cli(['embed-metadata', model, '--task', 'feature-extraction']);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(/points outside the model's folder/);
      expect(sha(model)).toBe(before);
      expect(tree(root)).toEqual(['a', 'a/b', 'a/b/src', 'a/b/src/model.onnx', 'a/b/src/weights.bin']);
    });

    it('answers a missing external data file with one line, exit 3, before creating any folder', async () => {
      const { root, model } = tampered('missing.bin');
      const before = tree(root);
      const r = await cli(['embed-metadata', model, '--task', 'feature-extraction', '--out', join(root, 'out', 'sub', 'm.onnx')]);
      expect(r.exitCode).toBe(3);
      expect(r.stderr.split('\n')[0]).toMatch(/^error: .*stores tensors in missing\.bin, which is missing: /);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(tree(root)).toEqual(before);
    });
  });

  it('answers a folder given as the model with a one-line error', async () => {
    const r = await cli(['embed-metadata', join(FIXTURES, 'iris-logreg')]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.split('\n')[0]).toMatch(/is not a file/);
  });
});
