import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { ModelctlError } from '../../src/errors.js';
import { embedMetadata } from '../../src/index.js';
import { openInput } from '../../src/inputs/open.js';
import type { InputKind, InputRecord, RecordStream } from '../../src/inputs/types.js';
import { openPredictor, predictStream, type StreamOutcome } from '../../src/predict/predict.js';
import { BIN, FIXTURES, ROOT, tempDir } from '../helpers.js';

const IRIS = join(FIXTURES, 'iris-logreg', 'model.onnx');
const iris = JSON.parse(readFileSync(join(FIXTURES, 'iris-logreg', 'reference.json'), 'utf8')) as {
  input: number[][];
  sklearn: { predict: number[]; predict_proba: number[][] };
};

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const i of items) out.push(i);
  return out;
}

async function* chunks(...parts: Array<string | Buffer>): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p);
}

async function stream(path: string, kind: InputKind, stdin?: AsyncIterable<Buffer>): Promise<RecordStream> {
  const s = await openInput({ file: path }, kind, stdin ? { stdin } : {});
  if (!s.stream) throw new Error(`${path} was not read as a stream`);
  return s.stream;
}

/** What openInput read whole, for stdin holding one document. */
async function whole(kind: InputKind, stdin: AsyncIterable<Buffer>): Promise<unknown> {
  const s = await openInput({ file: '-' }, kind, { stdin });
  return s.stream ? 'a stream' : s.input;
}

/** Runs the built binary with `input` on stdin. */
async function cliStdin(args: string[], input: string): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const r = await execa('node', [BIN, ...args], { reject: false, cwd: ROOT, env: { NO_COLOR: '1' }, input });
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('records: JSON Lines, CSV and text lines read as streams', () => {
  it('CSV: header first, quoted fields across lines, blank lines skipped, a bad record named by its line and the rest kept', async () => {
    const dir = tempDir();
    const file = join(dir, 'rows.csv');
    writeFileSync(file, '\uFEFFa,b,c,d\r\n5.1,3.5,1.4,0.2\r\n\r\n"6.3",3.3,"6.0\n",2.5\n1,2,3\n7,8,9,10');
    const s = await stream(file, 'rows');
    expect(s.columns).toEqual(['a', 'b', 'c', 'd']);
    const records = await collect(s.records);
    expect(records.map((r) => r.line)).toEqual([2, 4, 6, 7]);
    expect(records[0]?.value).toEqual(['5.1', '3.5', '1.4', '0.2']);
    expect(records[1]?.value).toEqual(['6.3', '3.3', '6.0\n', '2.5']);
    expect(records[2]?.error?.message).toBe(`${file} line 6 has 3 fields; the header has 4`);
    expect(records[3]?.value).toEqual(['7', '8', '9', '10']);
  });

  it('JSON Lines: a line that is not JSON is an error record with its number; stdin that is one document is returned whole', async () => {
    const s = await stream('-', 'rows', chunks('[1,2,3,4]\n{oo', 'ps\n\n[5,6,7,8]\n'));
    const records: InputRecord[] = await collect(s.records);
    expect(s.format).toBe('jsonl');
    expect(records.map((r) => [r.line, r.error ? 'error' : r.value])).toEqual([
      [1, [1, 2, 3, 4]],
      [2, 'error'],
      [4, [5, 6, 7, 8]],
    ]);
    expect(records[1]?.error?.message).toMatch(/^stdin line 2 is not valid JSON/);
    expect(await whole('rows', chunks('[[1,2,3,4],\n [5,6,7,8]]\n'))).toEqual({
      kind: 'rows',
      rows: [
        [1, 2, 3, 4],
        [5, 6, 7, 8],
      ],
    });
    expect(await whole('rows', chunks('[[1,2,3,4]]'))).toEqual({ kind: 'rows', rows: [[1, 2, 3, 4]] });
    expect((await stream('-', 'texts', chunks('first text\nsecond, with a comma\n'))).format).toBe('lines');
    expect((await stream('-', 'rows', chunks('a,b\n1,2\n'))).format).toBe('csv');
  });

  it("CSV quotes follow the parser: a stray quote inside a field is that field's problem, an unclosed one costs its own line only", async () => {
    const dir = tempDir();
    const stray = join(dir, 'stray.csv');
    writeFileSync(stray, 'a,b,c,d\n5.1,3.5",1.4,0.2\n6.3,3.3,6.0,2.5\n');
    const r1 = await collect((await stream(stray, 'rows')).records);
    expect(r1.map((r) => [r.line, r.error ? 'error' : r.value])).toEqual([
      [2, ['5.1', '3.5"', '1.4', '0.2']],
      [3, ['6.3', '3.3', '6.0', '2.5']],
    ]);
    const unclosed = join(dir, 'unclosed.csv');
    writeFileSync(unclosed, 'a,b,c,d\n"5.1,3.5,1.4,0.2\n6.3,3.3,6.0,2.5\n7,3.2,4.7,1.4\n');
    const r2 = await collect((await stream(unclosed, 'rows')).records);
    expect(r2.map((r) => [r.line, r.error?.message ?? r.value])).toEqual([
      [2, `${unclosed} line 2 opens a quoted field that is never closed`],
      [3, ['6.3', '3.3', '6.0', '2.5']],
      [4, ['7', '3.2', '4.7', '1.4']],
    ]);
  });

  it('a CSV without a header (its first line all numbers) is refused, not read with its first row as names', async () => {
    const err = await openInput({ file: '-' }, 'rows', { stdin: chunks('5.1,3.5,1.4,0.2\n6.3,3.3,6.0,2.5\n') }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as ModelctlError).message).toBe('stdin line 1 is a row of numbers, not a header');
  });

  it('texts on stdin are one per line whatever their first character; a pretty-printed JSON document is still one document', async () => {
    expect((await stream('-', 'texts', chunks('[note] hello\nsecond line\n'))).format).toBe('lines');
    expect(await whole('texts', chunks('[\n  "a",\n  "b"\n]\n'))).toEqual({ kind: 'texts', texts: ['a', 'b'] });
  });

  it('a line that is not UTF-8 is an error record of its own; the lines after it go on', async () => {
    const s = await stream('-', 'rows', chunks('[1,2,3,4]\n', Buffer.from([0x5b, 0x31, 0xe9, 0x5d, 0x0a]), '[5,6,7,8]\n'));
    const records = await collect(s.records);
    expect(records.map((r) => [r.line, r.error?.message ?? r.value])).toEqual([
      [1, [1, 2, 3, 4]],
      [2, 'stdin line 2 is not UTF-8 text'],
      [3, [5, 6, 7, 8]],
    ]);
  });

  it('a bad byte split across reads is still found, and still costs only its line', async () => {
    const s = await stream('-', 'texts', chunks('ok\n', Buffer.from([0x61, 0xc3]), Buffer.from([0x28, 0x0a]), 'fine\n'));
    const records = await collect(s.records);
    expect(records.map((r) => [r.line, r.error?.message ?? r.value])).toEqual([
      [1, 'ok'],
      [2, 'stdin line 2 is not UTF-8 text'],
      [3, 'fine'],
    ]);
  });
});

describe('predictStream: batches in order, per-record errors', () => {
  it('iris rows in batches of 2: predictions equal scikit-learn’s, bad records reported by line, the others answered', async () => {
    const rows = iris.input.map((r) => JSON.stringify(r));
    const text = [rows[0], '{not json', rows[1], '[1, 2, 3]', rows[2], '"text"', rows[3], rows[4]].join('\n');
    const predictor = await openPredictor({ model: IRIS, threads: 1, inputKind: 'rows' });
    let outcomes: StreamOutcome[];
    try {
      outcomes = await collect(predictStream(predictor, await stream('-', 'rows', chunks(text)), { batchSize: 2 }));
    } finally {
      await predictor.close();
    }
    expect(outcomes.map((o) => o.line)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const errors = outcomes.filter((o) => o.error).map((o) => [o.line, o.error?.message]);
    expect(errors).toEqual([
      [2, expect.stringMatching(/^stdin line 2 is not valid JSON/)],
      [4, 'stdin line 4 has 3 features; the model takes 4'],
      [6, 'stdin line 6 is not a row'],
    ]);
    const good = outcomes.filter((o) => !o.error);
    expect(good.map((o) => o.prediction?.label)).toEqual(iris.sklearn.predict);
    good.forEach((o, i) =>
      Object.values(o.prediction?.probabilities ?? {}).forEach((p, c) =>
        expect(Math.abs(p - (iris.sklearn.predict_proba[i]?.[c] as number))).toBeLessThan(1e-4),
      ),
    );
  });

  it('a stream with no record is an error', async () => {
    const file = join(tempDir(), 'empty.jsonl');
    writeFileSync(file, '\n  \n');
    const predictor = await openPredictor({ model: IRIS, threads: 1 });
    try {
      const err = await collect(predictStream(predictor, await stream(file, 'rows'))).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ModelctlError);
      expect((err as ModelctlError).message).toBe(`no rows in ${file}`);
    } finally {
      await predictor.close();
    }
  });
});

describe('modelctl predict on streams (spawned binary)', () => {
  it('JSON Lines from stdin: one record out per line in order, bad lines on stderr by number, exit 2; --fail-fast stops at the first', async () => {
    const input = `${JSON.stringify(iris.input[0])}\n{oops\n${JSON.stringify(iris.input[2])}\n`;
    const r = await cliStdin(['predict', IRIS, '--file', '-'], input);
    expect(r.exitCode).toBe(2);
    const records = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { line: number; label?: number; error?: { code: string; message: string } });
    expect(records.map((x) => [x.line, x.label ?? x.error?.code])).toEqual([
      [1, iris.sklearn.predict[0]],
      [2, 'INVALID_INPUT'],
      [3, iris.sklearn.predict[2]],
    ]);
    expect(r.stderr).toMatch(/^warning: stdin line 2 is not valid JSON/);
    expect(r.stderr).toMatch(/1 of 3 records failed/);

    const fast = await cliStdin(['predict', IRIS, '--file', '-', '--fail-fast', '--batch-size', '1'], input);
    expect(fast.exitCode).toBe(2);
    // JSON Lines to the end: the bad record is the last line, the error itself one line on stderr.
    expect(
      fast.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { line: number; error?: unknown })
        .map((x) => [x.line, x.error !== undefined]),
    ).toEqual([
      [1, false],
      [2, true],
    ]);
    expect(fast.stderr).toMatch(/^error: stdin line 2 is not valid JSON/);
    expect(fast.stderr).not.toMatch(/records failed/);
  });

  it('Ctrl-C while stdin is still open ends the stream: exit 130, the records answered so far on stdout', async () => {
    const child = execa('node', [BIN, 'predict', IRIS, '--file', '-'], { reject: false, cwd: ROOT, env: { NO_COLOR: '1' }, stdin: 'pipe' });
    child.stdin?.write(`${JSON.stringify(iris.input[0])}\n${JSON.stringify(iris.input[1])}\n`);
    // The part-filled batch is answered when the input stalls; then the interrupt.
    await new Promise<void>((resolve) => child.stdout?.once('data', () => resolve()));
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(130);
    expect((JSON.parse(String(r.stdout).split('\n')[0] as string) as { line: number }).line).toBe(1);
    expect(r.stderr).toMatch(/interrupted/);
  });

  it("a CSV header that lacks one of the model's features is one error, before any row", async () => {
    const dir = tempDir();
    const model = join(dir, 'iris.onnx');
    await embedMetadata({ model: IRIS, out: model, features: ['sl', 'sw', 'pl', 'pw'] });
    writeFileSync(join(dir, 'rows.csv'), `pw,pl,sw,x\n${'0.2,1.4,3.5,5.1\n'.repeat(50)}`);
    const r = await execa('node', [BIN, 'predict', model, '--file', join(dir, 'rows.csv')], { reject: false, env: { NO_COLOR: '1' } });
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `error: ${join(dir, 'rows.csv')}: the header lacks feature sl\nhint: the model's features, in order: sl, sw, pl, pw`,
    );
  });

  it('raw tensors, one object per line: each record equals the same input given with --input', async () => {
    const model = join(FIXTURES, 'onnx-handbuilt', 'model.onnx');
    const lines = [
      '{"x": [[0.5, -1, 1.5, 0]], "steps": [10]}',
      '{"x": [[1, 2]], "steps": [1]}',
      '{"x": [[2, 1, -0.5, -1]], "steps": [20]}',
    ];
    const r = await cliStdin(['predict', model, '--file', '-', '--json'], `${lines.join('\n')}\n`);
    expect(r.exitCode).toBe(2);
    const records = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { line: number; outputs?: unknown; error?: { message: string } });
    expect(records[1]?.error?.message).toMatch(/^stdin line 2: input x has shape \[1, 2\]/);
    for (const i of [0, 2]) {
      const one = await cliStdin(['predict', model, '--input', lines[i]!, '--json'], '');
      expect(records[i]).toEqual({ line: i + 1, outputs: (JSON.parse(one.stdout) as { outputs: unknown }).outputs });
    }
  });

  it('10,000 CSV rows stream through in order; the ZipMap classifier streams with its class names', async () => {
    const dir = tempDir();
    const file = join(dir, 'rows.csv');
    const n = 10_000;
    writeFileSync(file, `a,b,c,d\n${Array.from({ length: n }, (_, i) => iris.input[i % iris.input.length]!.join(',')).join('\n')}\n`);
    const r = await execa('node', [BIN, 'predict', IRIS, '--file', file, '--json'], { reject: false, env: { NO_COLOR: '1' } });
    expect(r.exitCode, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { line: number; label: number });
    expect(lines).toHaveLength(n);
    lines.forEach((l, i) => {
      expect(l.line).toBe(i + 2);
      expect(l.label).toBe(iris.sklearn.predict[i % iris.input.length]);
    });

    const zip = await cliStdin(
      ['predict', join(FIXTURES, 'sklearn-zipmap', 'model.onnx'), '--file', '-', '--table'],
      `${JSON.stringify(iris.input[0])}\n${JSON.stringify(iris.input[2])}\n`,
    );
    expect(zip.exitCode, zip.stderr).toBe(0);
    expect(zip.stdout.trim().split('\n')).toEqual([
      'LINE  LABEL      PROBABILITIES',
      '1     setosa     setosa: 1.0000  versicolor: 0.0000  virginica: 0.0000',
      '2     virginica  setosa: 0.0000  versicolor: 0.0038  virginica: 0.9962',
    ]);
  });
});
