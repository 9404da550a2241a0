import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_BATCH_SIZE, predictTexts, readTextFile } from '../../src/predict/text.js';
import { fromJson, parseCsv, readInputFile } from '../../src/tasks/inputs.js';
import { tempDir } from '../helpers.js';
import { rejects } from './helpers.js';

const stdin = (text: string) => async () => text;

describe('CSV input', () => {
  it('keeps quoted commas, doubled quotes and line breaks, in column order', () => {
    const text = 'name,note,x\n"Smith, J","said ""hi""",1\n"two\nlines", plain ,2\n';
    expect(parseCsv(text, 'in.csv')).toEqual({
      kind: 'rows',
      columns: ['name', 'note', 'x'],
      rows: [
        ['Smith, J', 'said "hi"', '1'],
        ['two\nlines', 'plain', '2'],
      ],
    });
    expect(parseCsv('a,b\r\n" x ",""\r\n', 'in.csv').rows).toEqual([[' x ', '']]);
  });

  it('strips a UTF-8 BOM, from text and from file bytes', async () => {
    expect(parseCsv('\uFEFFa,b\n1,2\n', 'in.csv').columns).toEqual(['a', 'b']);
    const dir = tempDir();
    writeFileSync(join(dir, 'bom.csv'), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('a,b\n1,2\n')]));
    expect(await readInputFile(join(dir, 'bom.csv'), 'input')).toEqual({ kind: 'rows', rows: [['1', '2']], columns: ['a', 'b'] });
    writeFileSync(join(dir, 'bom.json'), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('[[1, 2]]')]));
    expect(await readInputFile(join(dir, 'bom.json'), 'input')).toEqual({ kind: 'rows', rows: [[1, 2]] });
  });

  it('refuses a header that names a column twice', () => {
    expect(() => parseCsv('a,b,a\n1,2,3\n', 'in.csv')).toThrow(/names column "a" twice/);
  });

  it('reports physical line numbers, counting blank lines and quoted line breaks, and skips blank lines', () => {
    expect(parseCsv('a,b\n\n1,2\n   \n3,4\n\n', 'in.csv').rows).toEqual([['1', '2'], ['3', '4']]);
    expect(() => parseCsv('a,b\n\n1,2\n\n3\n', 'in.csv')).toThrow(/in\.csv line 5 has 1 field; the header has 2/);
    expect(() => parseCsv('a,b\n"x\ny",1\n1,2,3\n', 'in.csv')).toThrow(/line 4 has 3 fields/);
    expect(() => parseCsv('a,b\n1,"open\n2,3\n', 'in.csv')).toThrow(/line 2 opens a quoted field that is never closed/);
  });

  it('an empty file or a header alone is no rows', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'head.csv'), 'a,b\n\n');
    await rejects(readInputFile(join(dir, 'head.csv'), 'input'), 'INVALID_INPUT', /no rows in .*head\.csv/);
    writeFileSync(join(dir, 'empty.csv'), '');
    await rejects(readInputFile(join(dir, 'empty.csv'), 'input'), 'INVALID_INPUT', /empty\.csv is empty/);
    writeFileSync(join(dir, 'empty.jsonl'), '\n\n');
    await rejects(readInputFile(join(dir, 'empty.jsonl'), 'input'), 'INVALID_INPUT', /no rows in .*empty\.jsonl/);
    writeFileSync(join(dir, 'empty.json'), '[]');
    await rejects(readInputFile(join(dir, 'empty.json'), 'input'), 'INVALID_INPUT', /no rows in .*empty\.json/);
    expect(() => fromJson([])).toThrow(/no rows in --input/);
    writeFileSync(join(dir, 'empty.txt'), '\n  \n');
    await rejects(readTextFile(join(dir, 'empty.txt')), 'INVALID_INPUT', /no texts in .*empty\.txt/);
  });
});

describe('stdin', () => {
  it('reads pretty-printed JSON as one value', async () => {
    const rows = JSON.stringify([{ a: 1, b: 2 }, { a: 3, b: 4 }], null, 2);
    expect(await readInputFile('-', 'input', stdin(rows))).toEqual({ kind: 'rows', rows: [{ a: 1, b: 2 }, { a: 3, b: 4 }] });
    const tensors = JSON.stringify({ x: [[1, 2], [3, 4]] }, null, 2);
    expect(await readInputFile('-', 'input', stdin(tensors))).toEqual({ kind: 'tensors', tensors: { x: [[1, 2], [3, 4]] } });
    expect(await readTextFile('-', stdin('[\n  "a",\n  "b"\n]\n'))).toEqual(['a', 'b']);
    expect(await readTextFile('-', stdin('{\n  "text": "a"\n}\n'))).toEqual(['a']);
  });

  it('reads JSON Lines when the text is not one JSON value', async () => {
    expect(await readInputFile('-', 'input', stdin('{"a": 1}\n\n[2, 3]\n'))).toEqual({ kind: 'rows', rows: [{ a: 1 }, [2, 3]] });
    await rejects(readInputFile('-', 'input', stdin('{"a": 1}\n{oops\n')), 'INVALID_INPUT', /stdin line 2 is not valid JSON/);
    expect(await readTextFile('-', stdin('{"text": "a"}\n{"text": "b"}\n'))).toEqual(['a', 'b']);
    expect(await readTextFile('-', stdin('"a"\n"b"\n'))).toEqual(['a', 'b']);
  });

  it('falls back to CSV (rows) or lines (texts), and reports broken JSON as JSON', async () => {
    expect(await readInputFile('-', 'input', stdin('\uFEFFa,b\n5,6\n'))).toEqual({ kind: 'rows', rows: [['5', '6']], columns: ['a', 'b'] });
    await rejects(readInputFile('-', 'input', stdin('[\n  [1, 2],\n')), 'INVALID_INPUT', /stdin is not valid JSON/);
    await rejects(readInputFile('-', 'input', stdin('a,b\n')), 'INVALID_INPUT', /no rows in stdin/);
    expect(await readTextFile('-', stdin('[INFO] first\nsecond\n'))).toEqual(['[INFO] first', 'second']);
    expect(await readTextFile('-', stdin('"Hi," she said.\n"Bye."\n'))).toEqual(['"Hi," she said.', '"Bye."']);
    expect(await readTextFile('-', stdin('42\n'))).toEqual(['42']);
    await rejects(readTextFile('-', stdin('\n')), 'INVALID_INPUT', /no texts in stdin/);
  });
});

describe('non-UTF-8 input', () => {
  it('refuses bytes that are not UTF-8 in every text format', async () => {
    const dir = tempDir();
    const latin1 = Buffer.from('a,b\ncaf\xe9,1\n', 'latin1');
    for (const name of ['x.csv', 'x.jsonl', 'x.json']) {
      writeFileSync(join(dir, name), latin1);
      await rejects(readInputFile(join(dir, name), 'input'), 'INVALID_INPUT', new RegExp(`${name.replace('.', '\\.')} is not UTF-8 text`));
    }
    for (const name of ['t.txt', 't.jsonl', 't.json']) {
      writeFileSync(join(dir, name), latin1);
      await rejects(readTextFile(join(dir, name)), 'INVALID_INPUT', /is not UTF-8 text/);
    }
  });
});

describe('batch size', () => {
  it('is refused outside 1..4096 before anything runs', async () => {
    const run = (batchSize: number) => predictTexts({} as never, {} as never, 'text-classification', ['a'], { batchSize });
    expect(MAX_BATCH_SIZE).toBe(4096);
    await rejects(run(MAX_BATCH_SIZE + 1), 'USAGE', /batch size must be a whole number from 1 to 4096/);
    await rejects(run(1e9), 'USAGE', /batch size/);
    await rejects(run(0), 'USAGE', /batch size/);
    await rejects(run(1.5), 'USAGE', /batch size/);
  });
});
