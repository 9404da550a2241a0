import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { expect } from 'vitest';
import { loadOrt } from '../../src/runtime/ort.js';
import { FIXTURES, tempDir } from '../helpers.js';
export { rejection } from '../helpers.js';

export const IRIS = join(FIXTURES, 'iris-logreg', 'model.onnx');
export const HANDBUILT = join(FIXTURES, 'onnx-handbuilt', 'model.onnx');
export const EXTERNAL = join(FIXTURES, 'onnx-external', 'model.onnx');

export interface IrisReference {
  input_name: string;
  input: number[][];
  onnxruntime: { label: number[]; probabilities: number[][] };
  sklearn: { predict: number[]; predict_proba: number[][] };
}
export const IRIS_REFERENCE = JSON.parse(readFileSync(join(FIXTURES, 'iris-logreg', 'reference.json'), 'utf8')) as IrisReference;

interface TensorReference {
  dtype: 'float32' | 'int64';
  shape: number[];
  data: unknown[];
}
interface Expected {
  fixtures: Record<
    string,
    { facts: { reference?: { inputs: Record<string, TensorReference>; outputs: Record<string, TensorReference> } } }
  >;
}
const EXPECTED = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as Expected;
export const HANDBUILT_REFERENCE = EXPECTED.fixtures['onnx-handbuilt']!.facts.reference!;

export async function tensorOf(ref: TensorReference) {
  const ort = await loadOrt();
  const flat = (ref.data as unknown[]).flat(8) as number[];
  return ref.dtype === 'int64'
    ? new ort.Tensor(
        'int64',
        BigInt64Array.from(flat, (v) => BigInt(v)),
        ref.shape,
      )
    : new ort.Tensor('float32', Float32Array.from(flat), ref.shape);
}

export async function irisFeeds(): Promise<InferenceSession.FeedsType> {
  const ort = await loadOrt();
  const rows = IRIS_REFERENCE.input;
  return { [IRIS_REFERENCE.input_name]: new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, 4]) };
}

/** Checks a session on the iris model against the recorded onnxruntime and scikit-learn outputs. */
export async function expectIrisOutputs(session: InferenceSession): Promise<void> {
  const out = await session.run(await irisFeeds());
  const probabilities = Array.from(out.probabilities!.data as Float32Array);
  const expected = IRIS_REFERENCE.onnxruntime.probabilities.flat();
  expect(out.probabilities!.dims).toEqual([IRIS_REFERENCE.input.length, 3]);
  probabilities.forEach((p, i) => expect(Math.abs(p - expected[i]!)).toBeLessThanOrEqual(1e-5));
  IRIS_REFERENCE.sklearn.predict_proba.flat().forEach((p, i) => expect(Math.abs(probabilities[i]! - p)).toBeLessThanOrEqual(1e-5));
  expect(Array.from(out.label!.data as BigInt64Array, Number)).toEqual(IRIS_REFERENCE.onnxruntime.label);
}

/** A copy of a fixture model in a fresh folder, so a test may replace or touch it. */
export function copyModel(from: string, name = 'model.onnx', dir = tempDir('modelctl-runtime-')): string {
  const to = join(dir, name);
  copyFileSync(from, to);
  return to;
}

/** A folder holding files named like the CUDA provider libraries, but not libraries: loading them must fail. */
export function fakeProviderDir(): string {
  const dir = tempDir('modelctl-fake-cuda-');
  const names =
    process.platform === 'win32'
      ? ['onnxruntime_providers_cuda.dll', 'onnxruntime_providers_shared.dll']
      : ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'];
  for (const name of names) writeFileSync(join(dir, name), 'not a shared library');
  return dir;
}
