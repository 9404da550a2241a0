import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ModelctlError } from '../../src/errors.js';
import { openInput, readInput } from '../../src/inputs/open.js';
import type { InputKind, InputRecord } from '../../src/inputs/types.js';
import { predict } from '../../src/predict/predict.js';
import { FIXTURES, tempDir } from '../helpers.js';
import { CLASSIFIER } from '../tasks/helpers.js';

/** Bytes cut at the given offsets (inside lines, inside UTF-8 characters), as a pipe may deliver them. */
async function* cut(bytes: Buffer, at: number[]): AsyncGenerator<Buffer> {
  let from = 0;
  for (const to of [...new Set(at)].sort((a, b) => a - b)) {
    yield bytes.subarray(from, to);
    from = to;
  }
  yield bytes.subarray(from);
}

/** Every record of stdin read as `kind`: its line, and its value or error message. */
async function records(kind: InputKind, chunks: AsyncIterable<Buffer>): Promise<{ columns?: string[]; records: Array<[number, unknown]> }> {
  const opened = await openInput({ file: '-' }, kind, { stdin: chunks });
  if (!opened.stream) throw new Error('not read as a stream');
  const out: Array<[number, unknown]> = [];
  for await (const r of opened.stream.records as AsyncIterable<InputRecord>) out.push([r.line, r.error ? r.error.message : r.value]);
  return { ...(opened.stream.columns ? { columns: opened.stream.columns } : {}), records: out };
}

function csvField(value: string): string {
  // Quoted when it holds a comma, a quote or a line break, is empty, or has white space at an end (that is trimmed).
  return /[",\n]/.test(value) || value === '' || value.trim() !== value ? `"${value.replaceAll('"', '""')}"` : value;
}

describe('CSV read as a stream', () => {
  it('gives every record its fields and its first line, whatever the chunks the bytes come in', async () => {
    const field = fc.stringMatching(/^[a-zé ,"\n]{0,6}$/);
    const table = fc.integer({ min: 2, max: 4 }).chain((width) =>
      fc.array(
        fc.record({
          fields: fc.array(field, { minLength: width, maxLength: width }),
          blanks: fc.integer({ min: 0, max: 2 }),
          crlf: fc.boolean(),
          pad: fc.constantFrom('', ' ', '\t'),
        }),
        { minLength: 1, maxLength: 12 },
      ),
    );
    await fc.assert(
      fc.asyncProperty(table, fc.array(fc.nat(), { maxLength: 6 }), async (rows, cuts) => {
        const width = rows[0]?.fields.length ?? 0;
        const columns = Array.from({ length: width }, (_, i) => `c${i + 1}`);
        let text = `${columns.join(',')}\n`;
        let line = 2;
        const expected: Array<[number, unknown]> = [];
        for (const r of rows) {
          text += ' \n'.repeat(r.blanks);
          line += r.blanks;
          expected.push([line, r.fields]);
          // White space around a field, quoted or not, is not part of it.
          text += `${r.fields.map((f) => `${r.pad}${csvField(f)}${r.pad}`).join(',')}${r.crlf ? '\r\n' : '\n'}`;
          line += 1 + r.fields.join('').split('\n').length - 1;
        }
        const bytes = Buffer.from(text);
        const got = await records(
          'rows',
          cut(
            bytes,
            cuts.map((c) => c % (bytes.length + 1)),
          ),
        );
        expect(got).toEqual({ columns, records: expected });
      }),
      { numRuns: 150 },
    );
  });

  it('a record csv-parse refuses, a quote never closed and a line that is not UTF-8 each cost their own record', async () => {
    const text = Buffer.concat([
      Buffer.from('a,b\n1,2\n"x" y,3\n4,5\n"open,6\n7,8\n'),
      Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2c, 0x39, 0x0a]),
      Buffer.from('10,11\n'),
    ]);
    expect((await records('rows', cut(text, []))).records).toEqual([
      [2, ['1', '2']],
      [3, 'stdin line 3: a quoted field has text after its closing quote'],
      [4, ['4', '5']],
      // The quote opened on line 5 meets a line that is not UTF-8: line 5 is lost, line 6 is read again.
      [5, 'stdin line 5 opens a quoted field that is never closed'],
      [6, ['7', '8']],
      [7, 'stdin line 7 is not UTF-8 text'],
      [8, ['10', '11']],
    ]);
  });

  it('a quote still open after 1000 lines costs its line; the lines after it are read as rows', async () => {
    const file = join(tempDir(), 'rows.csv');
    writeFileSync(file, `a,b\n"open,1\n${'x,y\n'.repeat(1500)}`);
    const opened = await openInput({ file }, 'rows');
    const got: InputRecord[] = [];
    for await (const r of opened.stream?.records ?? []) got.push(r);
    expect(got).toHaveLength(1501);
    expect(got[0]?.error?.message).toBe(`${file} line 2 opens a quoted field that is never closed`);
    expect(got.slice(1).every((r, i) => r.line === i + 3 && (r.value as string[]).join() === 'x,y')).toBe(true);
  });
});

describe('JSON Lines and text lines', () => {
  it('a BOM, CRLF endings and a final line without one survive chunks of one byte', async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"text": "première"}\r\n\r\n"deux"\r\n["a", "b"]')]);
    const ones = Array.from({ length: bytes.length }, (_, i) => i);
    expect((await records('texts', cut(bytes, ones))).records).toEqual([
      [1, 'première'],
      [3, 'deux'],
      [4, 'stdin line 4 is not one text'],
    ]);
  });

  it('records of the wrong shape are error records of the kind; named tensors are one set per run', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'q.jsonl'), '{"question": "who?", "context": "me"}\n[1]\n{"question": "", "context": "x"}\n');
    const got: Array<[number, unknown]> = [];
    for await (const r of (await openInput({ file: join(dir, 'q.jsonl') }, 'questions')).stream?.records ?? [])
      got.push([r.line, r.error?.message ?? r.value]);
    expect(got).toEqual([
      [1, { question: 'who?', context: 'me' }],
      [2, `${join(dir, 'q.jsonl')} line 2 is not one question`],
      [3, `${join(dir, 'q.jsonl')} line 3 has no question`],
    ]);
    writeFileSync(join(dir, 't.jsonl'), '{"x": [1]}\n{"x": [2]}\n');
    const err = await readInput({ file: join(dir, 't.jsonl') }, 'tensors').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as ModelctlError).message).toBe('2 sets of named tensors given; a run takes one');
    await expect(openInput({ file: join(dir, 'missing.jsonl') }, 'texts')).rejects.toMatchObject({ code: 'PATH_NOT_FOUND' });
    await expect(openInput({ file: join(dir, 'q.txt') }, 'questions')).rejects.toThrow(/cannot read .*q\.txt as questions/);
  });
});

describe('image and audio files', () => {
  it('are not read from stdin (--file -), which holds text records: a usage error that says what to do', async () => {
    async function* bytes(): AsyncGenerator<Buffer> {
      yield Buffer.from([0x52, 0x49, 0x46, 0x46, 0xff, 0xfe, 0x00, 0x01]);
    }
    await expect(openInput({ file: '-' }, 'audio', { stdin: bytes() })).rejects.toMatchObject({
      code: 'USAGE',
      message: '--file - reads text, rows or JSON from stdin, not audio',
      hint: 'save it to a file and give its path as an argument or with --file',
    });
    await expect(openInput({ file: '-' }, 'images', { stdin: bytes() })).rejects.toMatchObject({
      code: 'USAGE',
      message: '--file - reads text, rows or JSON from stdin, not an image',
    });
  });
});

describe('predict reads what it is given through the same room', () => {
  it('a .jsonl of texts, a .json of rows and JSON text give what the inputs themselves give', async () => {
    const dir = tempDir();
    const texts = ['the model was great', 'the worst service I have had'];
    writeFileSync(join(dir, 'texts.jsonl'), `${texts.map((text) => JSON.stringify({ text })).join('\n')}\n`);
    const fromFile = await predict({ model: CLASSIFIER, input: { file: join(dir, 'texts.jsonl') }, threads: 1 });
    const direct = await predict({ model: CLASSIFIER, input: { kind: 'texts', texts }, threads: 1 });
    expect(fromFile.predictions).toEqual(direct.predictions);
    const iris = JSON.parse(readFileSync(join(FIXTURES, 'iris-logreg', 'reference.json'), 'utf8')) as {
      input: number[][];
      sklearn: { predict: number[] };
    };
    const model = join(FIXTURES, 'iris-logreg', 'model.onnx');
    writeFileSync(join(dir, 'rows.json'), JSON.stringify(iris.input));
    for (const input of [{ file: join(dir, 'rows.json') }, { json: JSON.stringify(iris.input), where: '--input' }]) {
      const r = await predict({ model, input, threads: 1 });
      expect(r.predictions?.map((p) => p.label)).toEqual(iris.sklearn.predict);
    }
  });
});
