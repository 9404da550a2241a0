import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { benchModel } from '../../src/bench/index.js';
import { predict } from '../../src/predict/predict.js';
import { isKnownTask } from '../../src/tasks/known.js';
import { FIXTURES } from '../helpers.js';
import { rejection as failure } from '../helpers.js';

const IRIS = join(FIXTURES, 'iris-logreg', 'model.onnx');
const ROWS = { kind: 'rows' as const, rows: [[5.1, 3.5, 1.4, 0.2]] };

// issue 14, item 6: a joblib file given to predict was reported as a truncated ONNX file ("field number 0 at byte 5").
describe('a model file of another format is named as such, with the way to ONNX', () => {
  it.each([
    ['sklearn-joblib/model.joblib', 'a joblib model'],
    ['sklearn-pickle/model.pkl', 'a pickle'],
    ['torch-full/model.pt', 'a PyTorch model'],
    ['torch-statedict/model.pt', 'a PyTorch model'],
    ['keras-h5/model.h5', 'a Keras HDF5 model'],
    ['keras-v3/model.keras', 'a Keras model'],
    ['lightgbm/model.txt', 'a LightGBM model'],
    ['xgboost-json/model.json', 'an XGBoost model'],
    ['xgboost-ubj/model.ubj', 'an XGBoost model'],
  ])('%s is %s', async (file, what) => {
    const path = join(FIXTURES, file);
    const err = await failure(predict({ model: path, input: ROWS }));
    expect({ code: err.code, exitCode: err.exitCode, message: err.message }).toEqual({
      code: 'INVALID_INPUT',
      exitCode: 2,
      message: `${path} is ${what}, not ONNX: ONNX Runtime runs ONNX models`,
    });
    expect(err.hint).toBe(`convert it to ONNX first: \`modelctl export ${path} --name NAME\`, then use NAME`);
  });

  it('a safetensors file is weights only: the hint names the folder to export', async () => {
    const path = join(FIXTURES, 'hf-bert-tiny', 'model.safetensors');
    const err = await failure(predict({ model: path, input: { kind: 'texts', texts: ['hi'] } }));
    expect(err.message).toBe(`${path} is a safetensors weights file, not ONNX: ONNX Runtime runs ONNX models`);
    expect(err.hint).toMatch(/export the Hugging Face folder that holds it \(config\.json beside it\)/);
  });

  it('bench says the same, before any session', async () => {
    const path = join(FIXTURES, 'sklearn-joblib', 'model.joblib');
    const err = await failure(benchModel({ model: path, iterations: 1, warmup: 0 }));
    expect(err.message).toBe(`${path} is a joblib model, not ONNX: ONNX Runtime runs ONNX models`);
  });

  it('an ONNX file still runs, and a damaged one is still called damaged', async () => {
    expect((await predict({ model: IRIS, input: ROWS })).predictions?.[0]?.label).toBe(0);
    const err = await failure(predict({ model: join(FIXTURES, 'bad', 'truncated.onnx'), input: ROWS }));
    expect(err.code).toBe('CORRUPT_MODEL');
  });
});

// issue 14, item 6: tasks a later version will run answered exit 2 "unknown task" instead of the documented exit 9.
describe('a known task predict does not run yet is NOT_AVAILABLE (exit 9); an unknown name stays USAGE (exit 2)', () => {
  const later = ['translation_en_to_fr', 'text-to-speech', 'depth-estimation', 'image-segmentation', 'text-generation-with-past'];
  it.each(later)('%s', async (task) => {
    const err = await failure(predict({ model: IRIS, task, input: ROWS }));
    const message = `predict does not support ${task} models yet`;
    expect({ code: err.code, exitCode: err.exitCode, message: err.message }).toEqual({ code: 'NOT_AVAILABLE', exitCode: 9, message });
    expect(err.hint).toMatch(/^run the model as raw tensors with --task raw .*; predict runs: tabular-classification, /);
  });

  it.each(['frobnicate', 'text-classificaton', 'Text-Generation', 'translation_english'])('%s is unknown', async (task) => {
    expect(isKnownTask(task)).toBe(false);
    const err = await failure(predict({ model: IRIS, task, input: ROWS }));
    const message = `unknown task ${JSON.stringify(task)}`;
    expect({ code: err.code, exitCode: err.exitCode, message: err.message }).toEqual({ code: 'USAGE', exitCode: 2, message });
    expect(err.hint).toMatch(/^predict runs: tabular-classification, tabular-regression, text-classification/);
  });
});
