import { copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspectModel } from '../../src/formats/index.js';
import { expectModelctlError, fixture, fixturePath, makeSafetensors, tempDir, writeTree } from './helpers.js';

async function inTemp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const t = await tempDir();
  try {
    return await fn(t.dir);
  } finally {
    await t.cleanup();
  }
}

describe('Hugging Face folders', () => {
  it('hf-bert-tiny: config facts, tokenizer files and weights match expected.json', async () => {
    const fx = fixture('hf-bert-tiny');
    const r = await inspectModel(fixturePath('hf-bert-tiny'));
    expect(r.format).toBe('transformers');
    expect(r.primary).toBe('model.safetensors');
    expect(r.metadata.architectures).toEqual(fx.facts.architectures);
    expect(r.metadata.modelType).toBe(fx.facts.model_type);
    expect(r.metadata.id2label).toEqual(fx.facts.id2label);
    expect(r.metadata.numLabels).toBe(fx.facts.num_labels);
    expect(r.metadata.transformersVersion).toBe(fx.facts.transformers_version);
    expect(r.metadata.tensors).toBe(fx.facts.tensor_count);
    expect(r.metadata.safetensorsMetadata).toEqual(fx.facts.safetensors_metadata);
    expect(r.parameters).toBe(fx.facts.num_parameters);
    const tokenizerFiles = fx.files.map((f) => f.path).filter((p) => /^(tokenizer|vocab|special_tokens)/.test(p));
    expect(r.metadata.tokenizerFiles).toEqual(tokenizerFiles);
    expect(r.task).toBe('text-classification');
    expect(r.taskReason).toBe(`config.json architectures: ${fx.facts.architectures[0]}`);
    expect(r.pickle).toBe(false);
  });

  it('sums sharded safetensors named by the index, and spots sentence-transformers', async () => {
    await inTemp(async (dir) => {
      await writeTree(dir, {
        'config.json': JSON.stringify({ architectures: ['BertModel'], model_type: 'bert' }),
        'modules.json': '[]',
        'model.safetensors.index.json': JSON.stringify({
          weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' },
        }),
        'model-00001-of-00002.safetensors': makeSafetensors({ a: { dtype: 'F32', shape: [10, 3] } }),
        'model-00002-of-00002.safetensors': makeSafetensors({ b: { dtype: 'BF16', shape: [5] } }),
        '1_Pooling/config.json': '{}',
      });
      const r = await inspectModel(dir);
      expect(r.format).toBe('transformers');
      expect(r.primary).toBe('model.safetensors.index.json');
      expect(r.parameters).toBe(35);
      expect(r.dtypes).toEqual({ float32: 30, bfloat16: 5 });
      expect(r.task).toBe('feature-extraction');
      expect(r.taskReason).toBe('sentence-transformers folder (modules.json)');
      expect(r.files.map((f) => f.path)).toContain('1_Pooling/config.json');
    });
  });

  it('a shard named by the index but missing is PATH_NOT_FOUND', async () => {
    await inTemp(async (dir) => {
      await writeTree(dir, {
        'config.json': '{}',
        'model.safetensors.index.json': JSON.stringify({ weight_map: { a: 'model-00001-of-00002.safetensors' } }),
      });
      await expectModelctlError(inspectModel(dir), 'PATH_NOT_FOUND', /lists the shard model-00001-of-00002\.safetensors, which is missing/);
    });
  });

  it('an ONNX export with config.json is onnx, with the Hugging Face facts and task attached', async () => {
    await inTemp(async (dir) => {
      await mkdir(join(dir, 'onnx'));
      await copyFile(fixturePath('onnx-handbuilt', 'model.onnx'), join(dir, 'onnx', 'model.onnx'));
      await copyFile(fixturePath('hf-bert-tiny', 'config.json'), join(dir, 'config.json'));
      await copyFile(fixturePath('hf-bert-tiny', 'tokenizer.json'), join(dir, 'tokenizer.json'));
      const r = await inspectModel(dir);
      expect(r.format).toBe('onnx');
      expect(r.primary).toBe('onnx/model.onnx');
      expect(r.parameters).toBe(fixture('onnx-handbuilt').parameters);
      expect(r.task).toBe('text-classification');
      expect(r.metadata.huggingface).toMatchObject({
        architectures: fixture('hf-bert-tiny').facts.architectures,
        tokenizerFiles: ['tokenizer.json'],
      });
    });
  });

  it('config.json without weights is UNKNOWN_FORMAT, invalid config.json is CORRUPT_MODEL', async () => {
    await inTemp(async (dir) => {
      await writeFile(join(dir, 'config.json'), '{"architectures": ["BertModel"]}');
      await expectModelctlError(inspectModel(dir), 'UNKNOWN_FORMAT', /has config\.json but no weights/);
      await writeFile(join(dir, 'config.json'), '{"architectures": [');
      await expectModelctlError(inspectModel(dir), 'CORRUPT_MODEL', /config\.json: not a valid JSON object/);
    });
  });
});

describe('folder listing and classification', () => {
  it('a folder with one model file is that format; .git, __pycache__ and .DS_Store are left out', async () => {
    await inTemp(async (dir) => {
      await copyFile(fixturePath('lightgbm', 'model.txt'), join(dir, 'booster.txt'));
      await writeTree(dir, { 'README.md': '# notes', '.git/HEAD': 'ref', '__pycache__/x.pyc': 'x', '.DS_Store': 'x', 'sub/.cache/y': 'y' });
      const r = await inspectModel(dir);
      expect(r.format).toBe('lightgbm');
      expect(r.primary).toBe('booster.txt');
      expect(r.files.map((f) => f.path)).toEqual(['README.md', 'booster.txt']);
    });
  });

  it('keeps links inside the folder, skips links leaving it, and says so', async () => {
    await inTemp(async (dir) => {
      const model = join(dir, 'model');
      await mkdir(model);
      await writeFile(join(dir, 'secret.txt'), 'do not copy me');
      await copyFile(fixturePath('sklearn-pickle', 'model.pkl'), join(model, 'model.pkl'));
      await writeFile(join(model, 'README.md'), '# model');
      await symlink(join(model, 'README.md'), join(model, 'docs.md'));
      await symlink(join(dir, 'secret.txt'), join(model, 'notes.txt'));
      await symlink(dir, join(model, 'parent'));
      const r = await inspectModel(model);
      expect(r.format).toBe('pickle');
      expect(r.files.map((f) => f.path)).toEqual(['README.md', 'docs.md', 'model.pkl']);
      expect(r.warnings.some((w) => /notes\.txt: symlink to .*secret\.txt, outside the folder, skipped/.test(w))).toBe(true);
      expect(r.warnings.some((w) => /parent: symlink to .*outside the folder, skipped/.test(w))).toBe(true);
    });
  });

  it('follows the links of a Hugging Face cache snapshot into its blobs folder', async () => {
    await inTemp(async (dir) => {
      const repo = join(dir, 'models--org--tiny');
      await writeTree(repo, {
        'blobs/aaa': makeSafetensors({ w: { dtype: 'F32', shape: [4] } }),
        'blobs/bbb': '{"architectures":["BertModel"]}',
      });
      const snapshot = join(repo, 'snapshots', 'rev1');
      await mkdir(snapshot, { recursive: true });
      await symlink('../../blobs/aaa', join(snapshot, 'model.safetensors'));
      await symlink('../../blobs/bbb', join(snapshot, 'config.json'));
      const r = await inspectModel(snapshot);
      expect(r.format).toBe('transformers');
      expect(r.parameters).toBe(4);
      expect(r.task).toBe('feature-extraction');
      expect(r.warnings).toEqual([]);
    });
  });

  it('several model files and no obvious primary is UNKNOWN_FORMAT naming them', async () => {
    await inTemp(async (dir) => {
      await copyFile(fixturePath('sklearn-pickle', 'model.pkl'), join(dir, 'a.pkl'));
      await copyFile(fixturePath('torch-statedict', 'model.pt'), join(dir, 'b.pt'));
      await expectModelctlError(inspectModel(dir), 'UNKNOWN_FORMAT', /several model files \(a\.pkl, b\.pt\)/);
    });
  });

  it('an empty folder is INVALID_INPUT, a folder of documents UNKNOWN_FORMAT', async () => {
    await inTemp(async (dir) => {
      await expectModelctlError(inspectModel(dir), 'INVALID_INPUT', /is an empty folder/);
      await writeFile(join(dir, 'README.md'), '# hello');
      const err = await expectModelctlError(inspectModel(dir), 'UNKNOWN_FORMAT', /no model file found among its 1 files/);
      expect(err.hint).toMatch(/supported:/);
    });
  });
});
