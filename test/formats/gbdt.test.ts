import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspectModel } from '../../src/formats/index.js';
import { xgboostJsonFacts } from '../../src/formats/xgboost.js';
import { expectModelctlError, fixture, fixturePath, readFixture, tempDir } from './helpers.js';

function expectXgboostFacts(metadata: Record<string, unknown>, facts: Record<string, any>): void {
  expect(metadata.version).toBe(facts.version.join('.'));
  expect(metadata.numFeature).toBe(facts.num_feature);
  expect(metadata.numClass).toBe(facts.num_class);
  expect(metadata.objective).toBe(facts.objective);
  expect(metadata.baseScore).toBe(facts.base_score);
  expect(metadata.numTrees).toBe(facts.num_trees);
  expect(metadata.featureNames).toEqual(facts.feature_names);
}

describe('xgboost', () => {
  for (const [name, file] of [
    ['xgboost-json', 'model.json'],
    ['xgboost-ubj', 'model.ubj'],
  ] as const) {
    it(`${name}: learner facts match expected.json`, async () => {
      const facts = fixture(name).facts;
      const r = await inspectModel(fixturePath(name, file));
      expect(r.format).toBe('xgboost');
      expectXgboostFacts(r.metadata, facts);
      expect(r.metadata.numBoostedRounds).toBe(facts.num_boosted_rounds);
      expect(r.task).toBe('tabular-classification');
      expect(r.taskReason).toBe(`xgboost objective: ${facts.objective}`);
    });
  }

  it('a JSON model too large to parse is read from its head and tail, with the same facts', () => {
    const facts = fixture('xgboost-json').facts;
    const scanned = xgboostJsonFacts(fixturePath('xgboost-json', 'model.json'), 'model.json', 1000);
    expectXgboostFacts(scanned.metadata, facts);
    expect(scanned.warnings?.join()).toMatch(/larger than 1000 bytes: its facts were read from its start and end/);
  });

  it('a truncated JSON model is CORRUPT_MODEL, a truncated UBJSON model too', async () => {
    const t = await tempDir();
    try {
      await writeFile(join(t.dir, 'model.json'), readFixture('xgboost-json', 'model.json').subarray(0, 500));
      await writeFile(join(t.dir, 'model.ubj'), readFixture('xgboost-ubj', 'model.ubj').subarray(0, 500));
      await expectModelctlError(inspectModel(join(t.dir, 'model.json')), 'CORRUPT_MODEL', /XGBoost JSON model does not parse/);
      await expectModelctlError(inspectModel(join(t.dir, 'model.ubj')), 'CORRUPT_MODEL', /XGBoost UBJSON model is damaged/);
    } finally {
      await t.cleanup();
    }
  });
});

describe('lightgbm', () => {
  it('header facts match expected.json', async () => {
    const facts = fixture('lightgbm').facts;
    const r = await inspectModel(fixturePath('lightgbm', 'model.txt'));
    expect(r.format).toBe('lightgbm');
    expect(r.metadata.version).toBe(facts.version);
    expect(r.metadata.numClass).toBe(facts.num_class);
    expect(r.metadata.numTreePerIteration).toBe(facts.num_tree_per_iteration);
    expect(r.metadata.objective).toBe(facts.objective);
    expect(r.metadata.maxFeatureIdx).toBe(facts.max_feature_idx);
    expect(r.metadata.featureNames).toEqual(facts.feature_names);
    expect(r.metadata.numTrees).toBe(facts.num_trees);
    expect(r.metadata.numIterations).toBe(facts.num_iterations);
    expect(r.task).toBe('tabular-regression');
  });

  it('reads only the header: trees after the first Tree= line do not matter', async () => {
    const t = await tempDir();
    try {
      const text = readFixture('lightgbm', 'model.txt').toString('utf8');
      const header = text.slice(0, text.indexOf('\nTree=') + 1);
      await writeFile(
        join(t.dir, 'model.txt'),
        `${header.replace(/^objective=.*$/m, 'objective=multiclass num_class:3')}Tree=0\n<garbage>`,
      );
      const r = await inspectModel(join(t.dir, 'model.txt'));
      expect(r.metadata.numTrees).toBe(fixture('lightgbm').facts.num_trees);
      expect(r.task).toBe('tabular-classification');
      expect(r.warnings).toEqual([]);
    } finally {
      await t.cleanup();
    }
  });
});
