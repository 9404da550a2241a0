import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from './helpers.js';
import { checkOnnx, pythonAvailable } from './python.js';

const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as {
  fixtures: Record<string, { facts: { ir_version: number; opset_import: Record<string, number>; metadata_props: Record<string, string> } }>;
};

describe('the onnx checker from the Python test environment', () => {
  it('accepts the committed ONNX fixtures and reports what the onnx package reads from them', async () => {
    if (!pythonAvailable()) return;
    const names = ['iris-logreg', 'onnx-handbuilt', 'onnx-external', 'optimum-bert'];
    const results = await checkOnnx(names.map((n) => join(FIXTURES, n, 'model.onnx')));
    for (const [i, name] of names.entries()) {
      const r = results[i]!;
      const facts = expected.fixtures[name]!.facts;
      expect(r, name).toMatchObject({ path: join(FIXTURES, name, 'model.onnx'), ok: true, error: null });
      expect(r.ir_version, name).toBe(facts.ir_version);
      expect(r.opset, name).toEqual(facts.opset_import);
      expect(r.metadata_props, name).toEqual(facts.metadata_props);
      expect(r.graph_sha256, name).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(new Set(results.map((r) => r.graph_sha256)).size).toBe(names.length);
  });

  it('rejects bytes that are not a model, and one bad file does not hide the next', async () => {
    if (!pythonAvailable()) return;
    const [random, missing, good] = await checkOnnx([
      join(FIXTURES, 'bad', 'random.onnx'),
      join(FIXTURES, 'bad', 'no-such-file.onnx'),
      join(FIXTURES, 'onnx-handbuilt', 'model.onnx'),
    ]);
    expect(random).toMatchObject({ ok: false, ir_version: null, graph_sha256: null });
    expect(random!.error).toMatch(/DecodeError/);
    expect(missing).toMatchObject({ ok: false });
    expect(missing!.error).toMatch(/FileNotFoundError/);
    expect(good!.ok).toBe(true);
  });
});
