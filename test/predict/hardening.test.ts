import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { ModelctlError } from '../../src/errors.js';
import { predict } from '../../src/predict/predict.js';
import { readOnnxSummary } from '../../src/onnx/summary.js';
import { parseNpy } from '../../src/inputs/npy.js';
import { makeTensor, runSession, tensorOutputs, type RunContext } from '../../src/tasks/tensors.js';
import { FIXTURES } from '../helpers.js';
import { rejects } from '../helpers.js';

const IRIS = join(FIXTURES, 'iris-logreg', 'model.onnx');
const HAND = join(FIXTURES, 'onnx-handbuilt', 'model.onnx');

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ModelctlError);
    return (err as ModelctlError).code;
  }
  return undefined;
}

describe('predict refuses bad input in one line instead of crashing', () => {
  const fake = {
    session: { inputNames: [], outputNames: ['zip'], run: async () => ({}) },
    Tensor: ort.Tensor,
    inputs: [],
    outputs: [{ name: 'zip', kind: 'sequence' }],
  } as unknown as RunContext;

  it('integers out of their type’s range, or not whole, are errors; int64 takes exact decimal strings', () => {
    expect(code(() => makeTensor(fake, 'x', 'int32', [1], [1e10]))).toBe('INVALID_INPUT');
    expect(code(() => makeTensor(fake, 'x', 'uint8', [1], [-1]))).toBe('INVALID_INPUT');
    expect(code(() => makeTensor(fake, 'x', 'int64', [1], [1.7]))).toBe('INVALID_INPUT');
    expect(code(() => makeTensor(fake, 'x', 'int64', [1], [1e300]))).toBe('INVALID_INPUT');
    const big = makeTensor(fake, 'x', 'int64', [2], ['9007199254740993', -5]);
    expect(Array.from(big.data as BigInt64Array)).toEqual([9007199254740993n, -5n]);
  });

  it('a model with only sequence/map outputs, and what ONNX Runtime itself refuses', async () => {
    expect(code(() => tensorOutputs(fake))).toBe('INVALID_INPUT');
    const session = await ort.InferenceSession.create(IRIS);
    const s = await readOnnxSummary(IRIS);
    const ctx: RunContext = { session, Tensor: ort.Tensor, inputs: s.inputs, outputs: s.outputs };
    await rejects(
      runSession(ctx, { input: new ort.Tensor('float32', new Float32Array(3), [1, 3]) }, ['label']),
      'INVALID_INPUT',
      /^the model refused the input: .*dimensions/i,
    );
    await session.release();
  });

  it('rows that are not rows, shapes the model does not take, bad dims, truncated .npy, unknown tasks', async () => {
    await rejects(
      predict({ model: IRIS, input: { kind: 'rows', rows: [null as unknown as number[]] } }),
      'INVALID_INPUT',
      /row 1 is not a row/,
    );
    await rejects(predict({ model: IRIS, input: { kind: 'rows', rows: [] } }), 'INVALID_INPUT', /no rows/);
    await rejects(
      predict({ model: IRIS, task: 'raw', input: { kind: 'tensors', tensors: { input: [[1, 2, 3]] } } }),
      'INVALID_INPUT',
      /has shape \[1, 3\]; the model takes \[\?, 4\]/,
    );
    await rejects(
      predict({ model: HAND, input: { kind: 'tensors', tensors: { x: { dims: 'x', data: [1, 2, 3, 4] }, steps: [1] } } }),
      'INVALID_INPUT',
      /"dims" must be a list/,
    );
    await rejects(predict({ model: IRIS, task: 'frobnicate', input: { kind: 'rows', rows: [[1, 2, 3, 4]] } }), 'USAGE', /unknown task/);
    expect(code(() => parseNpy(Buffer.from('\x93NUMPY\x02\x00\x10\x00', 'latin1')))).toBe('INVALID_INPUT');
  });

  it('a [N, F] tensor (as from a .npy file) is N rows for a tabular model; CSV columns are matched by name when the model names its features', async () => {
    const r = await predict({
      model: IRIS,
      input: { kind: 'tensors', tensors: { input: { dims: [2, 4], type: 'float32', data: [5.1, 3.5, 1.4, 0.2, 6.3, 3.3, 6.0, 2.5] } } },
    });
    expect(r.predictions?.map((p) => (p as { label: number }).label)).toEqual([0, 2]);
  });
});
