import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readInput } from '../../src/inputs/open.js';
import type { PredictInput } from '../../src/inputs/types.js';
import { MAX_BATCH_SIZE, openPredictor } from '../../src/predict/predict.js';
import { tempDir } from '../helpers.js';
import { CLASSIFIER, rejects } from './helpers.js';

// Inputs read whole (readInput), as the library's predict reads a file: a stream's first bad record is thrown.
const stdin = (text: string) => ({ stdin: [text] });
const readInputFile = (file: string, options: { stdin?: string[] } = {}) => readInput({ file }, 'rows', options);
const readTextFile = async (file: string, options: { stdin?: string[] } = {}): Promise<string[] | PredictInput> => {
  const input = await readInput({ file }, 'texts', options);
  return input.kind === 'texts' ? input.texts : input;
};

/** A CSV text read as `--file in.csv` is. */
function parseCsv(text: string): Promise<PredictInput> {
  const file = join(tempDir(), 'in.csv');
  writeFileSync(file, text);
  return readInputFile(file);
}

describe('CSV input', () => {
  it('keeps quoted commas, doubled quotes and line breaks, in column order', async () => {
    const text = 'name,note,x\n"Smith, J","said ""hi""",1\n"two\nlines", plain ,2\n';
    expect(await parseCsv(text)).toEqual({
      kind: 'rows',
      columns: ['name', 'note', 'x'],
      rows: [
        ['Smith, J', 'said "hi"', '1'],
        ['two\nlines', 'plain', '2'],
      ],
    });
    expect(await parseCsv('a,b\r\n" x ",""\r\n')).toMatchObject({ rows: [[' x ', '']] });
  });

  it('strips a UTF-8 BOM, from text and from file bytes', async () => {
    expect(await parseCsv('\uFEFFa,b\n1,2\n')).toMatchObject({ columns: ['a', 'b'] });
    const dir = tempDir();
    writeFileSync(join(dir, 'bom.csv'), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('a,b\n1,2\n')]));
    expect(await readInputFile(join(dir, 'bom.csv'))).toEqual({ kind: 'rows', rows: [['1', '2']], columns: ['a', 'b'] });
    writeFileSync(join(dir, 'bom.json'), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('[[1, 2]]')]));
    expect(await readInputFile(join(dir, 'bom.json'))).toEqual({ kind: 'rows', rows: [[1, 2]] });
  });

  it('refuses a header that names a column twice', async () => {
    await rejects(parseCsv('a,b,a\n1,2,3\n'), 'INVALID_INPUT', /names column "a" twice/);
  });

  it('reports physical line numbers, counting blank lines and quoted line breaks, and skips blank lines', async () => {
    expect(await parseCsv('a,b\n\n1,2\n   \n3,4\n\n')).toMatchObject({
      rows: [
        ['1', '2'],
        ['3', '4'],
      ],
    });
    await rejects(parseCsv('a,b\n\n1,2\n\n3\n'), 'INVALID_INPUT', /in\.csv line 5 has 1 field; the header has 2/);
    await rejects(parseCsv('a,b\n"x\ny",1\n1,2,3\n'), 'INVALID_INPUT', /line 4 has 3 fields/);
    await rejects(parseCsv('a,b\n1,"open\n2,3\n'), 'INVALID_INPUT', /line 2 opens a quoted field that is never closed/);
  });

  it('an empty file or a header alone is no rows', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'head.csv'), 'a,b\n\n');
    await rejects(readInputFile(join(dir, 'head.csv')), 'INVALID_INPUT', /no rows in .*head\.csv/);
    writeFileSync(join(dir, 'empty.csv'), '');
    await rejects(readInputFile(join(dir, 'empty.csv')), 'INVALID_INPUT', /empty\.csv is empty/);
    writeFileSync(join(dir, 'empty.jsonl'), '\n\n');
    await rejects(readInputFile(join(dir, 'empty.jsonl')), 'INVALID_INPUT', /no rows in .*empty\.jsonl/);
    writeFileSync(join(dir, 'empty.json'), '[]');
    await rejects(readInputFile(join(dir, 'empty.json')), 'INVALID_INPUT', /no rows in .*empty\.json/);
    await rejects(readInput({ json: '[]', where: '--input' }, 'rows'), 'INVALID_INPUT', /no rows in --input/);
    writeFileSync(join(dir, 'empty.txt'), '\n  \n');
    await rejects(readTextFile(join(dir, 'empty.txt')), 'INVALID_INPUT', /no texts in .*empty\.txt/);
  });
});

describe('stdin', () => {
  it('reads pretty-printed JSON as one value', async () => {
    const rows = JSON.stringify(
      [
        { a: 1, b: 2 },
        { a: 3, b: 4 },
      ],
      null,
      2,
    );
    expect(await readInputFile('-', stdin(rows))).toEqual({
      kind: 'rows',
      rows: [
        { a: 1, b: 2 },
        { a: 3, b: 4 },
      ],
    });
    const tensors = JSON.stringify(
      {
        x: [
          [1, 2],
          [3, 4],
        ],
      },
      null,
      2,
    );
    expect(await readInputFile('-', stdin(tensors))).toEqual({
      kind: 'tensors',
      tensors: {
        x: [
          [1, 2],
          [3, 4],
        ],
      },
    });
    expect(await readTextFile('-', stdin('[\n  "a",\n  "b"\n]\n'))).toEqual(['a', 'b']);
    expect(await readTextFile('-', stdin('{\n  "text": "a"\n}\n'))).toEqual(['a']);
  });

  it('reads JSON Lines when the text is not one JSON value', async () => {
    expect(await readInputFile('-', stdin('{"a": 1}\n\n[2, 3]\n'))).toEqual({ kind: 'rows', rows: [{ a: 1 }, [2, 3]] });
    await rejects(readInputFile('-', stdin('{"a": 1}\n{oops\n')), 'INVALID_INPUT', /stdin line 2 is not valid JSON/);
    expect(await readTextFile('-', stdin('{"text": "a"}\n{"text": "b"}\n'))).toEqual(['a', 'b']);
    expect(await readTextFile('-', stdin('"a"\n"b"\n'))).toEqual(['a', 'b']);
  });

  it('falls back to CSV (rows) or lines (texts), and reports broken JSON as JSON', async () => {
    expect(await readInputFile('-', stdin('\uFEFFa,b\n5,6\n'))).toEqual({ kind: 'rows', rows: [['5', '6']], columns: ['a', 'b'] });
    await rejects(readInputFile('-', stdin('[\n  [1, 2],\n')), 'INVALID_INPUT', /stdin is not valid JSON/);
    await rejects(readInputFile('-', stdin('a,b\n')), 'INVALID_INPUT', /no rows in stdin/);
    expect(await readTextFile('-', stdin('[INFO] first\nsecond\n'))).toEqual(['[INFO] first', 'second']);
    expect(await readTextFile('-', stdin('"Hi," she said.\n"Bye."\n'))).toEqual(['"Hi," she said.', '"Bye."']);
    expect(await readTextFile('-', stdin('42\n'))).toEqual(['42']);
    await rejects(readTextFile('-', stdin('\n')), 'INVALID_INPUT', /no texts in stdin/);
  });
});

describe('non-UTF-8 input', () => {
  it('refuses bytes that are not UTF-8 in every text format: a document as a whole, a line-based file by its line', async () => {
    const dir = tempDir();
    const latin1 = (text: string) => Buffer.from(text, 'latin1');
    const rows: Array<[string, string, RegExp]> = [
      ['x.csv', 'a,b\ncaf\xe9,1\n', /x\.csv line 2 is not UTF-8 text/],
      ['x.jsonl', '[1, 2]\n["caf\xe9", 1]\n', /x\.jsonl line 2 is not UTF-8 text/],
      ['x.json', '[["caf\xe9", 1]]', /x\.json is not UTF-8 text/],
    ];
    for (const [name, text, message] of rows) {
      writeFileSync(join(dir, name), latin1(text));
      await rejects(readInputFile(join(dir, name)), 'INVALID_INPUT', message);
    }
    for (const [name, text] of [
      ['t.txt', 'a\ncaf\xe9\n'],
      ['t.jsonl', '"a"\n"caf\xe9"\n'],
      ['t.json', '["caf\xe9"]'],
    ] as const) {
      writeFileSync(join(dir, name), latin1(text));
      await rejects(readTextFile(join(dir, name)), 'INVALID_INPUT', /is not UTF-8 text/);
    }
  });
});

describe('batch size', () => {
  it('is refused outside 1..4096 before anything is loaded', async () => {
    const run = (batchSize: number) => openPredictor({ model: CLASSIFIER, batchSize });
    expect(MAX_BATCH_SIZE).toBe(4096);
    await rejects(run(MAX_BATCH_SIZE + 1), 'USAGE', /batch size must be a whole number from 1 to 4096/);
    await rejects(run(1e9), 'USAGE', /batch size/);
    await rejects(run(0), 'USAGE', /batch size/);
    await rejects(run(1.5), 'USAGE', /batch size/);
  });
});
