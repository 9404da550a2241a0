import { copyFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspectModel } from '../../src/formats/index.js';
import { DataType, encodeModel, externalTensor, node, valueInfo } from '../onnx/build.js';
import { expectModelctlError, fixture, fixturePath, tempDir } from './helpers.js';

interface ExpectedIo {
  name: string;
  kind: string;
  elem_type: string;
  shape: Array<number | string | null>;
}

function ioOf(list: unknown): Array<{ name: string; kind: string; dtype?: string; shape?: unknown }> {
  return list as Array<{ name: string; kind: string; dtype?: string; shape?: unknown }>;
}

describe('onnx', () => {
  for (const name of ['iris-logreg', 'onnx-handbuilt', 'onnx-external']) {
    it(`${name}: summary facts match expected.json`, async () => {
      const facts = fixture(name).facts;
      const r = await inspectModel(fixturePath(name, 'model.onnx'));
      const m = r.metadata;
      expect(m.irVersion).toBe(facts.ir_version);
      const opsets = Object.fromEntries((m.opsetImports as Array<{ domain: string; version: number }>).map((o) => [o.domain, o.version]));
      expect(opsets).toEqual(facts.opset_import);
      expect(m.producerName).toBe(facts.producer_name);
      expect(m.producerVersion).toBe(facts.producer_version);
      expect(m.domain).toBe(facts.domain);
      expect(m.modelVersion).toBe(facts.model_version);
      expect(m.docString).toBe(facts.doc_string);
      expect(m.graphName).toBe(facts.graph_name);
      expect(m.nodeCount).toBe(facts.node_count);
      expect(m.initializerCount).toBe(facts.initializer_count);
      expect(m.metadataProps).toEqual(facts.metadata_props);
      const io = (list: ExpectedIo[]) => list.map((i) => ({ name: i.name, kind: i.kind, dtype: i.elem_type, shape: i.shape }));
      expect(ioOf(m.inputs)).toEqual(io(facts.inputs));
      expect(ioOf(m.outputs)).toEqual(io(facts.outputs));
      // Bulky or duplicated figures move out of metadata.
      expect(m).not.toHaveProperty('parameterDtypes');
    });
  }

  it('reads the task of a scikit-learn classifier from its label output', async () => {
    const r = await inspectModel(fixturePath('iris-logreg', 'model.onnx'));
    expect(fixture('iris-logreg').facts.producer_name).toBe('skl2onnx');
    expect(r.task).toBe('tabular-classification');
    expect(r.taskReason).toMatch(/skl2onnx.*label/);
  });

  it('lists the external data file beside the model', async () => {
    const fx = fixture('onnx-external');
    const r = await inspectModel(fixturePath('onnx-external', 'model.onnx'));
    const locations = [...new Set((fx.facts.external_data as Array<{ location: string }>).map((e) => e.location))];
    expect(r.metadata.externalData).toEqual(locations);
    expect(r.files.map((f) => ({ path: f.path, size: f.size }))).toEqual(fx.files.map(({ path, size }) => ({ path, size })));
  });

  describe('external data locations come from the file, so they are confined to its folder', () => {
    /** A model whose one weight is stored at `location`, with a real weights.bin beside it. */
    async function tampered(location: string) {
      const t = await tempDir();
      const bytes = encodeModel({
        graph: {
          node: [node('Identity', ['W'], ['y'])],
          initializer: [externalTensor('W', DataType.FLOAT, [4], { location, offset: 0, length: 16 })],
          output: [valueInfo('y', DataType.FLOAT, [4])],
        },
      });
      await writeFile(join(t.dir, 'model.onnx'), bytes);
      await writeFile(join(t.dir, 'weights.bin'), Buffer.alloc(16));
      return t;
    }

    it('rejects a location that climbs out with ..', async () => {
      const t = await tampered('../weights.bin');
      try {
        const err = await expectModelctlError(inspectModel(join(t.dir, 'model.onnx')), 'CORRUPT_MODEL', /outside the model's folder/);
        expect(err.exitCode).toBe(2);
      } finally {
        await t.cleanup();
      }
    });

    it('rejects an absolute location', async () => {
      const t = await tampered('/etc/passwd');
      try {
        await expectModelctlError(inspectModel(join(t.dir, 'model.onnx')), 'CORRUPT_MODEL', /"\/etc\/passwd" points outside/);
      } finally {
        await t.cleanup();
      }
    });

    it('names a missing external file', async () => {
      const t = await tampered('missing.bin');
      try {
        const err = await expectModelctlError(inspectModel(join(t.dir, 'model.onnx')), 'PATH_NOT_FOUND', /missing\.bin.*missing/);
        expect(err.exitCode).toBe(3);
      } finally {
        await t.cleanup();
      }
    });
  });

  describe('the bad fixtures fail with one clear line each', () => {
    const verdicts = fixture('bad').facts.framework_verdicts as Record<string, Record<string, { ok: boolean }>>;

    it('empty.onnx is INVALID_INPUT "is empty (0 bytes)"', async () => {
      expect(verdicts['empty.onnx']?.onnxruntime?.ok).toBe(false);
      await expectModelctlError(inspectModel(fixturePath('bad', 'empty.onnx')), 'INVALID_INPUT', /empty\.onnx is empty \(0 bytes\)/);
    });

    for (const file of ['random.onnx', 'truncated.onnx']) {
      it(`${file}, which onnx.load refuses too, is CORRUPT_MODEL with exit code 2`, async () => {
        expect(verdicts[file]?.['onnx.load']?.ok).toBe(false);
        const path = fixturePath('bad', file);
        const err = await expectModelctlError(inspectModel(path), 'CORRUPT_MODEL', /is not a valid ONNX model/);
        expect(err.exitCode).toBe(2);
        expect(err.message.startsWith(path)).toBe(true);
        expect(err.hint).toBeTruthy();
      });
    }

    it('not-a-model.txt is UNKNOWN_FORMAT with a hint that lists the supported formats', async () => {
      const err = await expectModelctlError(inspectModel(fixturePath('bad', 'not-a-model.txt')), 'UNKNOWN_FORMAT');
      expect(err.hint).toMatch(/ONNX.*safetensors.*PyTorch/);
    });
  });

  it('a folder of several .onnx files without model.onnx uses the largest and says so', async () => {
    const t = await tempDir();
    try {
      await copyFile(fixturePath('onnx-handbuilt', 'model.onnx'), join(t.dir, 'big.onnx'));
      await copyFile(fixturePath('iris-logreg', 'model.onnx'), join(t.dir, 'small.onnx'));
      const r = await inspectModel(t.dir);
      expect(r.format).toBe('onnx');
      expect(r.primary).toBe('big.onnx');
      expect(r.parameters).toBe(fixture('onnx-handbuilt').parameters);
      expect(r.warnings.join('\n')).toMatch(/several ONNX files.*using the largest, big\.onnx/);
      expect(r.metadata.onnxFiles).toEqual(['big.onnx', 'small.onnx']);
    } finally {
      await t.cleanup();
    }
  });

  it('an encoder-decoder folder as optimum writes it: the encoder primary, the parts by role, no warning', async () => {
    const t = await tempDir();
    try {
      // The smaller file as the encoder: the role decides, not the size.
      await copyFile(fixturePath('iris-logreg', 'model.onnx'), join(t.dir, 'encoder_model.onnx'));
      await copyFile(fixturePath('onnx-handbuilt', 'model.onnx'), join(t.dir, 'decoder_model_merged.onnx'));
      await copyFile(fixturePath('onnx-handbuilt', 'model.onnx'), join(t.dir, 'decoder_model.onnx'));
      const r = await inspectModel(t.dir);
      expect(r.primary).toBe('encoder_model.onnx');
      expect(r.metadata.onnxParts).toEqual({ encoder: 'encoder_model.onnx', decoder: 'decoder_model_merged.onnx' });
      expect(r.warnings).toEqual([]);
      await rm(join(t.dir, 'decoder_model_merged.onnx'));
      await copyFile(fixturePath('onnx-handbuilt', 'model.onnx'), join(t.dir, 'decoder_with_past_model.onnx'));
      expect((await inspectModel(t.dir)).metadata.onnxParts).toEqual({
        encoder: 'encoder_model.onnx',
        decoder: 'decoder_model.onnx',
        decoder_with_past: 'decoder_with_past_model.onnx',
      });
    } finally {
      await t.cleanup();
    }
  });
});
