import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { postJson, serve } from '../serve/helpers.js';
import { FIXTURES, cli, tempDir } from '../helpers.js';

// issue 14, item 6: inputs that reached a library that could not take them now get a one-line answer and the
// documented exit code, before any model is opened.

const IRIS = join(FIXTURES, 'iris-logreg', 'model.onnx');
const firstLine = (stderr: string): string => stderr.split('\n')[0] as string;

describe('thread counts are bounded before ONNX Runtime sees them', () => {
  it('predict, bench and serve refuse --threads 1e9 with exit 2 and the allowed range', async () => {
    const runs = [
      ['predict', IRIS, '5.1,3.5,1.4,0.2', '--threads', '1e9'],
      ['bench', IRIS, '--threads', '1e9', '--warmup', '1', '--iterations', '1'],
      ['serve', '--port', '0', '--threads', '1e9'],
    ];
    for (const args of runs) {
      const r = await cli(args, { home: tempDir() });
      expect({ command: args[0], exitCode: r.exitCode }, r.stderr).toEqual({ command: args[0], exitCode: 2 });
      expect(firstLine(r.stderr)).toBe('error: threads must be a whole number from 0 to 1024, not 1000000000');
      expect(r.stderr).not.toMatch(/bad_alloc|listening/);
    }
    const vs = await cli(['bench', IRIS, '--vs', 'threads=5000', '--warmup', '1', '--iterations', '1']);
    expect(vs.exitCode).toBe(2);
    expect(firstLine(vs.stderr)).toBe('error: threads must be a whole number from 0 to 1024, not 5000');
  });
});

describe('model names Windows reserves', () => {
  it('register refuses aux.txt and org/CON with exit 2 and registers nothing', async () => {
    const home = tempDir();
    for (const name of ['aux.txt', 'org/CON']) {
      const r = await cli(['register', IRIS, '--name', name], { home });
      expect(r.exitCode, r.stderr).toBe(2);
      expect(firstLine(r.stderr)).toMatch(
        /^error: model name ".+" is reserved on Windows \((AUX|CON) is a device name there, with any extension\)$/,
      );
      expect(r.stderr).toMatch(/^hint: choose another model name: CON, PRN, AUX, NUL, COM0-COM9 and LPT0-LPT9/m);
    }
    expect(JSON.parse((await cli(['list', '--json'], { home })).stdout).models).toEqual([]);
  });
});

describe('predict on a model of another format, or for a task it does not run yet', () => {
  it('a joblib file: exit 2, named as joblib, with the export command', async () => {
    const path = join(FIXTURES, 'sklearn-joblib', 'model.joblib');
    const r = await cli(['predict', path, '5.1,3.5,1.4,0.2']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      `error: ${path} is a joblib model, not ONNX: ONNX Runtime runs ONNX models`,
      `hint: convert it to ONNX first: \`modelctl export ${path} --name NAME\`, then use NAME`,
    ]);
    const embed = await cli(['embed-metadata', path, '--out', join(tempDir(), 'm.onnx')]);
    expect(embed.exitCode).toBe(2);
    expect(firstLine(embed.stderr)).toBe(`error: ${path} is a joblib model, not ONNX: the metadata goes into ONNX files`);
  });

  it('a known task not supported yet: exit 9 before the inputs are read; an unknown task: exit 2', async () => {
    const bert = join(FIXTURES, 'optimum-bert', 'model.onnx');
    const later = await cli(['predict', bert, 'a text to continue', '--task', 'translation_en_to_fr']);
    expect(later.exitCode).toBe(9);
    expect(firstLine(later.stderr)).toBe('error: predict does not support translation_en_to_fr models yet');
    const stream = await cli(['predict', IRIS, '--file', join(FIXTURES, 'bad', 'not-a-model.txt'), '--task', 'image-segmentation']);
    expect(stream.exitCode).toBe(9);
    const typo = await cli(['predict', IRIS, '5.1,3.5,1.4,0.2', '--task', 'tabular-clasification']);
    expect(typo.exitCode).toBe(2);
    expect(firstLine(typo.stderr)).toBe('error: unknown task "tabular-clasification"');
  });

  it('serve answers 501 NOT_AVAILABLE for such a task, 400 for an unknown one', async () => {
    const server = await serve();
    const later = await postJson(`${server.url}/v1/models/iris/predict`, { task: 'image-segmentation', texts: ['a text'] });
    expect(later.status).toBe(501);
    expect(later.body).toMatchObject({ code: 'NOT_AVAILABLE', error: 'predict does not support image-segmentation models yet' });
    const typo = await postJson(`${server.url}/v1/models/iris/predict`, { task: 'fil-mask', rows: [[1, 2, 3, 4]] });
    expect(typo.status).toBe(400);
    expect(typo.body).toMatchObject({ code: 'USAGE', error: 'unknown task "fil-mask"' });
  });
});
