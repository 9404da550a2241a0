import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspectModel } from '../../src/formats/index.js';
import { expectModelctlError, fixture, fixturePath, makeZip, pickleBytes, readFixture, tempDir } from './helpers.js';

/** BINUNICODE, as torch.save's protocol-2 pickles write strings. */
function str(text: string): Buffer {
  const body = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(body.length);
  return Buffer.concat([Buffer.from('X'), length, body]);
}

/** torch._utils._rebuild_tensor_v2(<storage key, float32, numel>, 0, shape, stride, False, OrderedDict()). */
function tensor(key: string, shape: number[]): Buffer {
  const ints = (xs: number[]) => pickleBytes('(', ...xs.map((x) => pickleBytes('K', x)), 't');
  const numel = shape.reduce((a, b) => a * b, 1);
  const persid = pickleBytes('(', str('storage'), 'ctorch\nFloatStorage\n', str(key), str('cpu'), 'K', numel, 't', 'Q');
  return pickleBytes(
    'ctorch._utils\n_rebuild_tensor_v2\n',
    '(',
    persid,
    'K',
    0,
    ints(shape),
    ints([shape[1] ?? 1, 1]),
    0x89,
    'ccollections\nOrderedDict\n',
    ')',
    'R',
    't',
    'R',
  );
}

function torchArchive(prefix: string, pickle: Buffer, storages: number, extra: string[] = []): Buffer {
  const data = Array.from({ length: storages }, (_, i) => ({ name: `${prefix}/data/${i}`, data: Buffer.alloc(24) }));
  return makeZip([
    { name: `${prefix}/data.pkl`, data: pickle },
    ...extra.map((name) => ({ name: `${prefix}/${name}`, data: Buffer.from('x') })),
    ...data,
    { name: `${prefix}/version`, data: Buffer.from('3\n') },
  ]);
}

const FILES: Record<string, string> = { 'torch-statedict': 'model.pt', 'torch-legacy': 'model.pth', 'torch-full': 'model.pt' };

describe('pytorch', () => {
  for (const [name, file] of Object.entries(FILES)) {
    it(`${name}: serialization, tensor names, storages and weights_only verdict match expected.json`, async () => {
      const facts = fixture(name).facts;
      const r = await inspectModel(fixturePath(name, file));
      expect(r.format).toBe('pytorch');
      expect(r.pickle).toBe(true);
      expect(r.metadata.serialization).toBe(facts.serialization);
      expect(r.metadata.protocol).toBe(facts.pickle_protocol);
      expect(r.metadata.tensorNames).toEqual(Object.keys(facts.tensors));
      expect(r.metadata.tensors).toBe(Object.keys(facts.tensors).length);
      expect(r.metadata.weightsOnlyLoadable).toBe(facts.weights_only_load.ok);
      if (facts.serialization === 'zip') {
        const storages = (facts.zip_entries as string[]).filter((e) => /\/data\/\d+$/.test(e));
        expect(r.metadata.storages).toBe(storages.length);
        expect(r.metadata.storageEntries).toBe(storages.length);
        expect(r.metadata.archivePrefix).toBe((facts.zip_entries as string[])[0]?.split('/')[0]);
      }
    });
  }

  it('names the classes a full-module pickle needs, all of which torch lists as globals', async () => {
    const facts = fixture('torch-full').facts;
    const r = await inspectModel(fixturePath('torch-full', 'model.pt'));
    expect(r.metadata.topClass).toBe(facts.module_class);
    const refused = r.metadata.nonTensorGlobals as string[];
    expect(refused).toContain(facts.module_class);
    for (const g of refused) expect(facts.pickle_globals).toContain(g);
    // torch maps __builtin__.set to builtins.set, which weights_only allows.
    expect(refused).not.toContain('__builtin__.set');
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toContain(facts.module_class);
  });

  it('counts the storages of a state dict, not only its parameters (buffers included)', async () => {
    const fx = fixture('torch-statedict');
    const r = await inspectModel(fixturePath('torch-statedict', 'model.pt'));
    expect(fx.facts.module_parameters).toBeLessThan(fx.parameters as number);
    expect(r.parameters).toBe(fx.parameters);
  });

  it('a training checkpoint: optimizer state is listed apart and not counted as parameters', async () => {
    const pickle = pickleBytes(
      0x80,
      2,
      '}',
      '(',
      str('model'),
      '}',
      '(',
      str('fc.weight'),
      tensor('0', [2, 3]),
      'u',
      str('optimizer'),
      '}',
      '(',
      str('state'),
      '}',
      '(',
      'K',
      0,
      '}',
      '(',
      str('exp_avg'),
      tensor('1', [2, 3]),
      'u',
      'u',
      'u',
      str('epoch'),
      'K',
      3,
      'u',
      '.',
    );
    const t = await tempDir();
    try {
      await writeFile(join(t.dir, 'ckpt.pt'), torchArchive('ckpt', pickle, 2));
      const r = await inspectModel(join(t.dir, 'ckpt.pt'));
      expect(r.metadata).toMatchObject({
        serialization: 'zip',
        storages: 2,
        tensors: 1,
        tensorNames: ['model.fc.weight'],
        trainingStateTensors: 1,
      });
      expect(r.parameters).toBe(6);
      expect(r.dtypes).toEqual({ float32: 6 });
      expect(r.metadata.weightsOnlyLoadable).toBe(true);
    } finally {
      await t.cleanup();
    }
  });

  it("a TorchScript archive: tensors named from the objects' attributes", async () => {
    const pickle = pickleBytes(
      0x80,
      2,
      'c__torch__\nNet\n',
      ')',
      0x81,
      '}',
      '(',
      str('training'),
      0x88,
      str('weight'),
      tensor('0', [2, 3]),
      'u',
      'b',
      '.',
    );
    const t = await tempDir();
    try {
      await writeFile(join(t.dir, 'scripted.pt'), torchArchive('scripted', pickle, 1, ['constants.pkl', 'code/__torch__.py']));
      const r = await inspectModel(join(t.dir, 'scripted.pt'));
      expect(r.metadata).toMatchObject({ serialization: 'torchscript', topClass: '__torch__.Net', tensorNames: ['weight'] });
      expect(r.parameters).toBe(6);
      expect(r.warnings).toEqual([]);
    } finally {
      await t.cleanup();
    }
  });

  it('reports a truncated zip checkpoint as a damaged PyTorch archive', async () => {
    const t = await tempDir();
    try {
      const bytes = readFixture('torch-statedict', 'model.pt');
      const path = join(t.dir, 'model.pt');
      await writeFile(path, bytes.subarray(0, Math.floor(bytes.length / 2)));
      const err = await expectModelctlError(
        inspectModel(path),
        'CORRUPT_MODEL',
        /damaged PyTorch archive: no end-of-central-directory record/,
      );
      expect(err.exitCode).toBe(2);
    } finally {
      await t.cleanup();
    }
  });

  it('reports a truncated legacy checkpoint as damaged', async () => {
    const t = await tempDir();
    try {
      const bytes = readFixture('torch-legacy', 'model.pth');
      const path = join(t.dir, 'model.pth');
      await writeFile(path, bytes.subarray(0, 200));
      await expectModelctlError(inspectModel(path), 'CORRUPT_MODEL', /legacy PyTorch file: the \w+ pickle is damaged/);
    } finally {
      await t.cleanup();
    }
  });

  it('notices a legacy checkpoint whose raw storages were cut off after intact pickles', async () => {
    const t = await tempDir();
    try {
      const bytes = readFixture('torch-legacy', 'model.pth');
      const path = join(t.dir, 'model.pth');
      await writeFile(path, bytes.subarray(0, bytes.length - 8));
      await expectModelctlError(
        inspectModel(path),
        'CORRUPT_MODEL',
        /legacy PyTorch file is truncated: its storages need \d+ bytes after the pickles, \d+ remain/,
      );
    } finally {
      await t.cleanup();
    }
  });

  it('calls random bytes named .pt corrupt, and the same bytes named .dat unknown', async () => {
    const t = await tempDir();
    try {
      const noise = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251));
      await writeFile(join(t.dir, 'model.pt'), noise);
      await writeFile(join(t.dir, 'blob.dat'), noise);
      await expectModelctlError(inspectModel(join(t.dir, 'model.pt')), 'CORRUPT_MODEL', /not a valid PyTorch file/);
      await expectModelctlError(inspectModel(join(t.dir, 'blob.dat')), 'UNKNOWN_FORMAT', /not a recognised model format/);
    } finally {
      await t.cleanup();
    }
  });

  it('reads a Hugging Face folder whose only weights are pytorch_model.bin, and marks it as a pickle', async () => {
    const t = await tempDir();
    try {
      await copyFile(fixturePath('torch-statedict', 'model.pt'), join(t.dir, 'pytorch_model.bin'));
      await writeFile(join(t.dir, 'config.json'), JSON.stringify({ architectures: ['TinyForTokenClassification'], model_type: 'tiny' }));
      const r = await inspectModel(t.dir);
      expect(r.format).toBe('transformers');
      expect(r.pickle).toBe(true);
      expect(r.parameters).toBe(fixture('torch-statedict').parameters);
      expect(r.dtypes).toEqual(fixture('torch-statedict').dtypes);
      expect(r.task).toBe('token-classification');
      expect(r.metadata.weights).toEqual({ format: 'pytorch', files: ['pytorch_model.bin'] });
    } finally {
      await t.cleanup();
    }
  });
});
