import { describe, expect, it } from 'vitest';
import { parseArgv as parse } from '../cli/parse.js';

describe('export and setup: argv to options', () => {
  it("export takes the issue's flags, with the defaults framework auto, atol 1e-4, validation on", async () => {
    const r = await parse([
      'export',
      './bert',
      '--task',
      'text-classification',
      '--opset',
      '17',
      '--optimize',
      'O2',
      '--quantize',
      'int8',
      '--sample-input',
      's.json',
      '--name',
      'org/bert',
      '--version',
      '2.0.0',
      '--out',
      'm.onnx',
      '--trust-remote-code',
      '--input-shape',
      '1,4',
      '--input-shape',
      '1,8',
    ]);
    expect(r).toMatchObject({ name: 'export', args: ['./bert'] });
    expect(r.options).toMatchObject({
      framework: 'auto',
      atol: 1e-4,
      validate: true,
      task: 'text-classification',
      opset: 17,
      optimize: 'O2',
      quantize: 'int8',
      sampleInput: 's.json',
      name: 'org/bert',
      version: '2.0.0',
      out: 'm.onnx',
      trustRemoteCode: true,
      inputShapes: ['1,4', '1,8'],
    });
    expect((await parse(['export', 'm', '--no-validate', '--framework', 'keras'])).options).toMatchObject({
      validate: false,
      framework: 'keras',
    });
  });

  it('export refuses a framework, optimization level or quantization it does not know', async () => {
    await expect(parse(['export', 'm', '--framework', 'onnx'])).rejects.toThrow(
      /Allowed choices are auto, hf, pytorch, tf, keras, sklearn, xgboost, lightgbm/,
    );
    await expect(parse(['export', 'm', '--optimize', 'O4'])).rejects.toThrow(/Allowed choices are O1, O2, O3/);
    await expect(parse(['export', 'm', '--quantize', 'int4'])).rejects.toThrow(/Allowed choices are int8, fp16/);
  });

  it('setup python: --with defaults to all; --check and --python pass through', async () => {
    expect(await parse(['setup', 'python'])).toMatchObject({
      name: 'setup',
      args: ['python'],
      options: { families: ['sklearn', 'xgboost', 'lightgbm', 'torch', 'hf', 'tf'] },
    });
    expect(
      (await parse(['setup', 'python', '--with', 'hf,tf', '--python', '/usr/bin/python3.12', '--check', '--json'])).options,
    ).toMatchObject({ families: ['hf', 'tf'], python: '/usr/bin/python3.12', check: true, json: true });
  });
});
