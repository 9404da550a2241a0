import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/predict/predict.js';
import { Registry } from '../../src/registry/index.js';
import { converterRoot, familyPython } from '../convert/env.js';
import { FIXTURES, cli, rejects, tempDir } from '../helpers.js';
import { postJson, serve } from '../serve/helpers.js';

/**
 * Issue 17's auto-convert (the design's auto_convert_to_onnx): predict, bench and serve on a registered model that
 * is not ONNX export it once with the managed converter (here the sklearn environment, through MODELCTL_PYTHON),
 * register the ONNX as a new version whose lineage names the source, run it, and reuse it next time; --no-convert
 * refuses. The model: fixtures/models/sklearn-joblib, a GradientBoostingRegressor on scikit-learn's diabetes data,
 * whose own predictions (computed by scikit-learn when the fixture was made) are in expected.json.
 */

const FIXTURE = join(FIXTURES, 'sklearn-joblib', 'model.joblib');
const REFERENCE = (
  JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as {
    fixtures: Record<string, { facts: { reference: { input: number[][]; predict: number[] } } }>;
  }
).fixtures['sklearn-joblib']!.facts.reference;
const SLOW = { timeout: 300_000 };

async function registered(): Promise<{ home: string; env: Record<string, string>; version: string } | null> {
  const root = converterRoot();
  if (!root) return null;
  const home = tempDir('modelctl-autoconvert-');
  const r = await cli(['register', FIXTURE, '--name', 'diabetes', '--json'], { home });
  expect(r.exitCode, r.stderr).toBe(0);
  return { home, env: { MODELCTL_PYTHON: familyPython(root, 'sklearn') }, version: JSON.parse(r.stdout).manifest.version };
}

function expectReference(values: number[]): void {
  expect(values).toHaveLength(REFERENCE.predict.length);
  values.forEach((v, i) => expect(Math.abs(v - (REFERENCE.predict[i] as number)), `row ${i}`).toBeLessThanOrEqual(1e-3));
}

describe('auto-convert: a registered model that is not ONNX runs through its ONNX export', () => {
  it(
    'predict exports it once (a new version whose lineage names the source), reuses it next time; --no-convert refuses',
    SLOW,
    async () => {
      const s = await registered();
      if (!s) return;
      const { home, env } = s;
      const source = `diabetes:${s.version}`;
      const rows = ['--input', JSON.stringify(REFERENCE.input)]; // negative values: not as arguments

      const refused = await cli(['predict', source, ...rows, '--no-convert', '--json'], { home, env });
      expect(refused.exitCode).toBe(2);
      expect(refused.stderr).toMatch(/is a joblib model and --no-convert was given/);

      const first = await cli(['predict', source, ...rows, '--json'], { home, env });
      expect(first.exitCode, first.stderr).toBe(0);
      expect(first.stderr).toMatch(/exporting it once/);
      expectReference(JSON.parse(first.stdout).predictions.map((p: { value: number }) => p.value));

      const registry = new Registry({ home });
      const versions = (await registry.list({ name: 'diabetes' })).entries;
      expect(versions.map((v) => v.format).sort()).toEqual(['joblib', 'onnx']);
      const onnx = versions.find((v) => v.format === 'onnx')!;
      const manifest = (await registry.info(`diabetes:${onnx.version}`)).manifest;
      expect(manifest.lineage).toMatchObject({ operation: 'export', parent: source, source: { kind: 'registry', ref: source } });
      expect(onnx.aliases).toContain('latest');

      // The source version named again: its export runs, nothing is converted twice (CLI, library, bench).
      const again = await cli(['predict', source, ...rows, '--json'], { home, env });
      expect(again.exitCode, again.stderr).toBe(0);
      expect(again.stderr).toContain(`running its export diabetes:${onnx.version}`);
      expect(JSON.parse(again.stdout).predictions).toEqual(JSON.parse(first.stdout).predictions);
      expect(JSON.parse(again.stdout).model).toBe(`diabetes:${onnx.version}`);
      const lib = await predict({ model: source, registry, input: { kind: 'rows', rows: REFERENCE.input } });
      expectReference(lib.predictions!.map((p) => p.value as number));
      const bench = await cli(['bench', source, '--iterations', '3', '--warmup', '1', '--json'], { home, env });
      expect(bench.exitCode, bench.stderr).toBe(0);
      expect((await registry.list({ name: 'diabetes' })).entries).toHaveLength(2);
      // Tags edited on the source version (a new sealed manifest): its export is still found.
      const set = await cli(['set', source, '--tag', 'team=ml'], { home, env });
      expect(set.exitCode, set.stderr).toBe(0);
      const edited = await cli(['predict', source, ...rows, '--json'], { home, env });
      expect(edited.exitCode, edited.stderr).toBe(0);
      expect(edited.stderr).toContain(`running its export diabetes:${onnx.version}`);
      expect((await registry.list({ name: 'diabetes' })).entries).toHaveLength(2);
      await rejects(
        predict({ model: source, registry, input: { kind: 'rows', rows: REFERENCE.input }, autoConvert: { convert: false } }),
        'INVALID_INPUT',
        /--no-convert/,
      );
    },
  );

  it('serve converts on first use, once for requests that arrive together', SLOW, async () => {
    const s = await registered();
    if (!s) return;
    const registry = new Registry({ home: s.home });
    const started: string[] = [];
    const server = await serve({
      registry,
      autoConvert: { python: s.env.MODELCTL_PYTHON, onProgress: (e) => e.type === 'convert-start' && started.push(e.from) },
    });
    const url = `${server.url}/v1/models/diabetes/versions/${s.version}/predict`;
    const answers = await Promise.all([0, 1, 2].map(() => postJson(url, { rows: REFERENCE.input })));
    for (const a of answers) {
      expect(a.status, JSON.stringify(a.body)).toBe(200);
      expectReference(a.body.predictions.map((p: { value: number }) => p.value));
    }
    expect(started).toEqual([`diabetes:${s.version}`]);
    expect((await registry.list({ name: 'diabetes' })).entries).toHaveLength(2);
  });
});
