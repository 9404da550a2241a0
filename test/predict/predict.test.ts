import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Registry, embedMetadata } from '../../src/index.js';
import { predict } from '../../src/predict/predict.js';
import { readInput } from '../../src/inputs/open.js';
import { FIXTURES, tempDir } from '../helpers.js';
import { rejects } from '../helpers.js';

const iris = JSON.parse(readFileSync(join(FIXTURES, 'iris-logreg', 'reference.json'), 'utf8')) as {
  input: number[][];
  sklearn: { predict: number[]; predict_proba: number[][] };
  onnxruntime: { label: number[]; probabilities: number[][] };
};
const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as {
  fixtures: Record<
    string,
    { facts: { reference: { inputs: Record<string, { data: unknown }>; outputs: Record<string, { data: unknown; shape: number[] }> } } }
  >;
};

describe('predict against the frameworks’ own outputs', () => {
  it('iris (skl2onnx): labels equal scikit-learn’s, probabilities within 1e-4 of predict_proba', async () => {
    const registry = new Registry({ home: tempDir() });
    await registry.register({ path: join(FIXTURES, 'iris-logreg', 'model.onnx'), name: 'iris' });
    const r = await predict({ model: 'iris', registry, input: { kind: 'rows', rows: iris.input }, threads: 1 });
    expect(r.task).toBe('tabular-classification');
    expect(r.predictions?.map((p) => p.label)).toEqual(iris.sklearn.predict);
    r.predictions?.forEach((p, i) => {
      const probs = Object.values(p.probabilities ?? {});
      probs.forEach((v, c) => {
        expect(Math.abs(v - (iris.sklearn.predict_proba[i]?.[c] as number))).toBeLessThan(1e-4);
        expect(Math.abs(v - (iris.onnxruntime.probabilities[i]?.[c] as number))).toBeLessThan(1e-6);
      });
    });
    expect((await registry.list()).entries[0]?.lastUsed).not.toBeNull();
  });

  it('a ZipMap classifier (skl2onnx default): labels and probabilities keyed by class name, as scikit-learn gives them', async () => {
    const ref = JSON.parse(readFileSync(join(FIXTURES, 'sklearn-zipmap', 'reference.json'), 'utf8')) as {
      input: number[][];
      classes: string[];
      sklearn: { predict: string[]; predict_proba: number[][] };
    };
    const r = await predict({
      model: join(FIXTURES, 'sklearn-zipmap', 'model.onnx'),
      input: { kind: 'rows', rows: ref.input },
      threads: 1,
    });
    expect(r.task).toBe('tabular-classification');
    expect(r.predictions?.map((p) => p.label)).toEqual(ref.sklearn.predict);
    r.predictions?.forEach((p, i) => {
      expect(Object.keys(p.probabilities ?? {})).toEqual(ref.classes);
      ref.classes.forEach((c, k) =>
        expect(Math.abs((p.probabilities?.[c] as number) - (ref.sklearn.predict_proba[i]?.[k] as number))).toBeLessThan(1e-6),
      );
    });
  });

  it('names labels and orders features from embedded metadata', async () => {
    const dir = tempDir();
    const file = join(dir, 'iris.onnx');
    await embedMetadata({
      model: join(FIXTURES, 'iris-logreg', 'model.onnx'),
      out: file,
      features: ['sl', 'sw', 'pl', 'pw'],
      set: { hf_model_config: JSON.stringify({ id2label: { 0: 'setosa', 1: 'versicolor', 2: 'virginica' } }) },
    });
    const rows = iris.input.map(([sl, sw, pl, pw]) => ({ pw, pl, sw, sl }));
    const r = await predict({ model: file, input: { kind: 'rows', rows }, threads: 1 });
    expect(r.predictions?.map((p) => p.label_name)).toEqual(iris.sklearn.predict.map((l) => ['setosa', 'versicolor', 'virginica'][l]));
    await rejects(predict({ model: file, input: { kind: 'rows', rows: [{ sl: 1, sw: 2, pl: 3 }] } }), 'INVALID_INPUT', /lacks feature pw/);
  });

  it.each(['onnx-handbuilt', 'onnx-external'])(
    '%s as raw tensors equals onnxruntime’s reference (external data through a registry view)',
    async (name) => {
      const registry = new Registry({ home: tempDir() });
      await registry.register({ path: join(FIXTURES, name, 'model.onnx'), name });
      const ref = expected.fixtures[name]!.facts.reference;
      const tensors = Object.fromEntries(Object.entries(ref.inputs).map(([k, v]) => [k, v.data]));
      const r = await predict({ model: name, registry, task: 'raw', input: { kind: 'tensors', tensors }, threads: 1 });
      for (const [out, t] of Object.entries(ref.outputs)) {
        expect(r.outputs?.[out]?.dims, out).toEqual(t.shape);
        const want = [t.data].flat(Infinity) as number[];
        r.outputs?.[out]?.data.forEach((v, i) => expect(Math.abs((v as number) - (want[i] as number)), out).toBeLessThan(1e-5));
      }
    },
  );

  it('answers bad input with one-line errors', async () => {
    const registry = new Registry({ home: tempDir() });
    await registry.register({ path: join(FIXTURES, 'iris-logreg', 'model.onnx'), name: 'iris' });
    await registry.register({ path: join(FIXTURES, 'safetensors', 'model.safetensors'), name: 'st' });
    const hand = join(FIXTURES, 'onnx-handbuilt', 'model.onnx');
    await rejects(
      predict({ model: 'iris', registry, input: { kind: 'rows', rows: [[1, 2, 3]] } }),
      'INVALID_INPUT',
      /row 1 has 3 features; the model takes 4/,
    );
    await rejects(
      predict({ model: 'iris', registry, input: { kind: 'rows', rows: [[1, 2, 'x', 4]] } }),
      'INVALID_INPUT',
      /feature 3: "x" is not a number/,
    );
    await rejects(
      predict({ model: 'iris', registry, task: 'object-detection', input: { kind: 'rows', rows: [[1, 2, 3, 4]] } }),
      'INVALID_INPUT',
      /^an object-detection model takes image files$/,
    );
    const keypoints = predict({ model: 'iris', registry, task: 'keypoint-detection', input: { kind: 'rows', rows: [[1, 2, 3, 4]] } });
    await rejects(keypoints, 'NOT_AVAILABLE', /^predict does not support keypoint-detection models yet$/);
    await rejects(
      predict({ model: 'iris', registry, task: 'token-classification', input: { kind: 'rows', rows: [[1, 2, 3, 4]] } }),
      'INVALID_INPUT',
      /takes texts/,
    );
    await rejects(
      predict({ model: 'st', registry, input: { kind: 'rows', rows: [] } }),
      'INVALID_INPUT',
      /safetensors model; predict runs ONNX and cannot tell how to convert/,
    );
    await rejects(
      predict({ model: hand, input: { kind: 'tensors', tensors: { x: [[1, 2, 3, 4]] } } }),
      'INVALID_INPUT',
      /input steps is missing/,
    );
    await rejects(
      predict({ model: hand, input: { kind: 'tensors', tensors: { x: [[1, 2, 3, 4]], steps: [1], nope: [1] } } }),
      'INVALID_INPUT',
      /no input named "nope"/,
    );
    await rejects(
      predict({ model: hand, input: { kind: 'tensors', tensors: { x: { dims: [1, 4], data: [1, 2, 3, 4], type: 'int64' }, steps: [1] } } }),
      'INVALID_INPUT',
      /x is int64, but the model takes float32/,
    );
    await rejects(
      predict({ model: hand, input: { kind: 'tensors', tensors: { x: [[1, 2], [3]], steps: [1] } } }),
      'INVALID_INPUT',
      /ragged/,
    );
  });
});

describe('predict inputs', () => {
  it('reads CSV with a header, JSON Lines and .npy into the same rows', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'rows.csv'), 'a,b\n1,2\n"3",4\n');
    writeFileSync(join(dir, 'rows.jsonl'), '{"a": 1, "b": 2}\n\n{"a": 3, "b": 4}\n');
    const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
    const pad = 64 - ((10 + header.length + 1) % 64);
    const npy = Buffer.concat([
      Buffer.from('\x93NUMPY\x01\x00', 'latin1'),
      Buffer.from([header.length + pad + 1, 0]),
      Buffer.from(`${header}${' '.repeat(pad)}\n`),
      Buffer.from(new Float32Array([1, 2, 3, 4]).buffer),
    ]);
    writeFileSync(join(dir, 'x.npy'), npy);
    expect(await readInput({ file: join(dir, 'rows.csv') }, 'rows')).toEqual({
      kind: 'rows',
      rows: [
        ['1', '2'],
        ['3', '4'],
      ],
      columns: ['a', 'b'],
    });
    expect(await readInput({ file: join(dir, 'rows.jsonl') }, 'rows')).toEqual({
      kind: 'rows',
      rows: [
        { a: 1, b: 2 },
        { a: 3, b: 4 },
      ],
    });
    const tensors = { kind: 'tensors', tensors: { input: { dims: [2, 2], type: 'float32', data: [1, 2, 3, 4] } } };
    expect(await readInput({ file: join(dir, 'x.npy') }, 'rows', { firstInput: 'input' })).toEqual(tensors);
    writeFileSync(join(dir, 'bad.jsonl'), '{"a": 1}\n{oops\n');
    await rejects(readInput({ file: join(dir, 'bad.jsonl') }, 'rows'), 'INVALID_INPUT', /bad\.jsonl line 2 is not valid JSON/);
    expect(await readInput({ file: '-' }, 'rows', { stdin: ['a,b\n5,6\n'] })).toEqual({
      kind: 'rows',
      rows: [['5', '6']],
      columns: ['a', 'b'],
    });
  });
});
