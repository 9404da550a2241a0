import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES, cli, tempDir } from '../helpers.js';

describe('modelctl predict (spawned binary)', () => {
  it('prints a table for people and a JSON document for scripts', async () => {
    const home = tempDir();
    await cli(['register', join(FIXTURES, 'iris-logreg', 'model.onnx'), '--name', 'iris'], { home });
    const table = await cli(['predict', 'iris', '5.1,3.5,1.4,0.2', '6.3,3.3,6.0,2.5', '--table'], { home });
    expect(table.exitCode, table.stderr).toBe(0);
    expect(table.stdout.trim().split('\n')).toEqual([
      'ROW  LABEL  PROBABILITIES',
      '1    0      0: 0.9847  1: 0.0153  2: 0.0000',
      '2    2      0: 0.0000  1: 0.0062  2: 0.9938',
    ]);
    // Off a terminal (a pipe, a file) the default is the JSON document; --table asks for the table anyway.
    const piped = await cli(['predict', 'iris', '5.1,3.5,1.4,0.2'], { home });
    expect(JSON.parse(piped.stdout)).toMatchObject({ task: 'tabular-classification', predictions: [{ label: 0 }] });
    const json = await cli(['predict', 'iris', '--input', '[[5.1, 3.5, 1.4, 0.2]]', '--json'], { home });
    const doc = JSON.parse(json.stdout);
    expect(doc).toMatchObject({ model: 'iris:1.0.0', task: 'tabular-classification', provider: 'cpu', predictions: [{ label: 0 }] });
    const dir = tempDir();
    writeFileSync(join(dir, 'rows.csv'), 'a,b,c,d\n5.1,3.5,1.4,0.2\n');
    const csv = await cli(['predict', 'iris', '--file', join(dir, 'rows.csv'), '--json'], { home });
    expect(csv.exitCode, csv.stderr).toBe(0);
    // A CSV file is a stream: JSON Lines, one record per row, named by the line it came from.
    expect(
      csv.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([{ line: 2, ...doc.predictions[0] }]);
    const list = JSON.parse((await cli(['list', '--json'], { home })).stdout);
    expect(list.models[0].lastUsed).not.toBeNull();
  });

  it('CUDA without its provider: exit 6 with the install command; --fallback cpu runs on the CPU with a warning', async () => {
    const model = join(FIXTURES, 'iris-logreg', 'model.onnx');
    const cuda = await cli(['predict', model, '--device', 'cuda:1', '1,2,3,4']);
    expect(cuda.exitCode).toBe(6);
    expect(cuda.stderr).toMatch(/^error: cannot run on cuda:1: the CUDA provider is not installed/);
    expect(cuda.stderr).toMatch(/hint: .*ONNXRUNTIME_NODE_INSTALL=cuda12 node script\/install\.js/);
    const fallback = await cli(['predict', model, '--device', 'cuda', '--fallback', 'cpu', '1,2,3,4', '--json']);
    expect(fallback.exitCode).toBe(0);
    expect(fallback.stderr).toMatch(/^warning: running on the CPU: /);
    expect(JSON.parse(fallback.stdout).provider).toBe('cpu');
    const bad = await cli(['predict', model, '--device', 'gpu', '1,2,3,4']);
    expect(bad.exitCode).toBe(2);
  });

  it('refuses missing or doubled input, and bad rows, in one line', async () => {
    const model = join(FIXTURES, 'iris-logreg', 'model.onnx');
    for (const [args, pattern] of [
      [['predict', model], /no input given/],
      [['predict', model, '1,2,3,4', '--input', '[[1,2,3,4]]'], /give the input one way only/],
      [['predict', model, '1,2,3'], /row 1 has 3 features; the model takes 4/],
      [['predict', model, '--input', '{oops'], /--input is not valid JSON/],
    ] as Array<[string[], RegExp]>) {
      const r = await cli(args);
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr.split('\n')[0]).toMatch(pattern);
      expect(r.stdout).toBe('');
    }
  });
});

describe('modelctl predict, token classification and question answering (spawned binary)', () => {
  it('entities carry character offsets into the text, for every aggregation', async () => {
    const model = join(FIXTURES, 'optimum-bert-ner', 'model.onnx');
    const text = 'Alice went to Paris';
    for (const aggregation of ['none', 'simple', 'first', 'max', 'average']) {
      const r = await cli(['predict', model, text, '--aggregation', aggregation, '--json']);
      expect(r.exitCode, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout);
      expect(doc.task).toBe('token-classification');
      for (const e of doc.predictions[0].entities as Array<{ start: number; end: number; score: number }>) {
        expect(e.start).toBeGreaterThanOrEqual(0);
        expect(e.end).toBeLessThanOrEqual(text.length);
        expect(e.score).toBeGreaterThan(0);
      }
    }
    const bad = await cli(['predict', model, text, '--aggregation', 'mean']);
    expect(bad.exitCode).toBe(2);
  });

  it('the answer is the context between its offsets', async () => {
    const context = 'the registry keeps every model with its hash';
    const r = await cli([
      'predict',
      join(FIXTURES, 'optimum-bert-qa', 'model.onnx'),
      '--question',
      'what is kept?',
      '--context',
      context,
      '--json',
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
    const [answer] = JSON.parse(r.stdout).predictions as Array<{ answer: string; start: number; end: number }>;
    expect(answer?.answer).toBe(context.slice(answer?.start, answer?.end));
    const missing = await cli(['predict', join(FIXTURES, 'optimum-bert-qa', 'model.onnx'), 'just text']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr.split('\n')[0]).toMatch(/takes --question and --context/);
  });
});
