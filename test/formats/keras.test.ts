import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspectModel } from '../../src/formats/index.js';
import { listZip, readZipEntry } from '../../src/formats/zip.js';
import { BufferSource } from '../../src/onnx/wire.js';
import { expectModelctlError, fixture, fixturePath, readFixture, tempDir } from './helpers.js';

/** The weights-only HDF5 file stored inside the .keras fixture: HDF5 without a model config. */
function weightsOnlyH5(): Uint8Array {
  const source = new BufferSource(readFixture('keras-v3', 'model.keras'));
  const entry = listZip(source).find((e) => e.name === 'model.weights.h5');
  if (!entry) throw new Error('fixture has no model.weights.h5');
  return readZipEntry(source, entry);
}

describe('keras', () => {
  for (const [name, file] of [
    ['keras-v3', 'model.keras'],
    ['keras-h5', 'model.h5'],
  ] as const) {
    it(`${name}: class, name, layers, version and parameter count match expected.json`, async () => {
      const fx = fixture(name);
      const r = await inspectModel(fixturePath(name, file));
      expect(r.format).toBe(fx.format);
      expect(r.metadata.className).toBe(fx.facts.model_class);
      expect(r.metadata.name).toBe(fx.facts.model_name);
      expect(r.metadata.layerCount).toBe(fx.facts.layer_count);
      expect(r.metadata.layers).toEqual(fx.facts.layers);
      expect(r.metadata.kerasVersion).toBe(fx.facts.keras_version);
      if (fx.facts.backend) expect(r.metadata.backend).toBe(fx.facts.backend);
      const weights = fx.facts.weights as Array<{ shape: number[] }>;
      expect(r.parameters).toBe(weights.reduce((sum, w) => sum + w.shape.reduce((a, b) => a * b, 1), 0));
      expect(r.pickle).toBe(false);
    });
  }

  it('a .keras archive lists its entries', async () => {
    const r = await inspectModel(fixturePath('keras-v3', 'model.keras'));
    expect(r.metadata.entries).toEqual(fixture('keras-v3').facts.zip_entries);
    expect(r.metadata.weightsFile).toBe('model.weights.h5');
  });

  it('an HDF5 file named .h5 without a model config is keras-h5 with its weights counted and a warning', async () => {
    const t = await tempDir();
    try {
      await writeFile(join(t.dir, 'weights.h5'), weightsOnlyH5());
      const r = await inspectModel(join(t.dir, 'weights.h5'));
      expect(r.format).toBe('keras-h5');
      expect(r.metadata.modelConfigFound).toBe(false);
      expect(r.parameters).toBe(fixture('keras-v3').parameters);
      expect(r.warnings.join()).toMatch(/no Keras model_config found/);
    } finally {
      await t.cleanup();
    }
  });

  it('the same HDF5 bytes under another name are not claimed as Keras', async () => {
    const t = await tempDir();
    try {
      await writeFile(join(t.dir, 'data.bin'), weightsOnlyH5());
      await expectModelctlError(inspectModel(join(t.dir, 'data.bin')), 'UNKNOWN_FORMAT', /HDF5 file without a Keras model config/);
    } finally {
      await t.cleanup();
    }
  });

  it('a truncated .keras archive is a damaged Keras archive', async () => {
    const t = await tempDir();
    try {
      const bytes = readFixture('keras-v3', 'model.keras');
      await writeFile(join(t.dir, 'model.keras'), bytes.subarray(0, 3000));
      await expectModelctlError(inspectModel(join(t.dir, 'model.keras')), 'CORRUPT_MODEL', /damaged Keras archive/);
    } finally {
      await t.cleanup();
    }
  });
});
