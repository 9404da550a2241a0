import { describe, expect, it } from 'vitest';
import { inspectModel } from '../../src/formats/index.js';
import { MODEL_FORMATS } from '../../src/formats/types.js';
import { expected, fixturePath } from './helpers.js';

const PICKLED = new Set(['pytorch', 'pickle', 'joblib']);
const models = Object.entries(expected.fixtures).filter(([, f]) => f.format !== null);

describe('inspectModel on every committed fixture', () => {
  it('covers every format the fixtures hold', () => {
    expect(new Set(models.map(([, f]) => f.format))).toEqual(new Set(MODEL_FORMATS));
  });

  for (const [name, fx] of models) {
    it(`${name}: format, parameters and dtypes agree with expected.json`, async () => {
      const target = fx.entry === '.' ? fixturePath(name) : fixturePath(name, fx.entry as string);
      const r = await inspectModel(target);
      expect(r.format).toBe(fx.format);
      if (fx.parameters === null) expect(r.parameters).toBeUndefined();
      else expect(r.parameters).toBe(fx.parameters);
      expect(r.dtypes ?? {}).toEqual(fx.dtypes ?? {});
      expect(r.pickle).toBe(PICKLED.has(fx.format as string));
      expect(r.files.length).toBeGreaterThan(0);
      for (const f of r.files) expect(f.abs.startsWith(fixturePath(name))).toBe(true);
      expect(JSON.parse(JSON.stringify(r.metadata))).toEqual(r.metadata);
    });

    it(`${name}: its folder inspects as ${fx.format} and lists exactly the expected files`, async () => {
      const r = await inspectModel(fixturePath(name));
      expect(r.format).toBe(fx.format);
      expect(r.files.map((f) => ({ path: f.path, size: f.size }))).toEqual(fx.files.map(({ path, size }) => ({ path, size })));
      if (fx.entry !== '.') expect(r.primary).toBe(fx.entry);
      // The only fixture that should warn is the one torch itself refuses to load with weights_only=True.
      if (fx.facts.weights_only_load?.ok === false) {
        expect(r.warnings).toHaveLength(1);
        expect(r.warnings[0]).toMatch(/weights_only=True\) refuses it/);
      } else {
        expect(r.warnings).toEqual([]);
      }
    });
  }
});
