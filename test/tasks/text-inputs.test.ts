import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readInput, textsFromJson } from '../../src/inputs/open.js';
import { tempDir } from '../helpers.js';
import { rejects } from './helpers.js';

describe('texts for predict', () => {
  it('--input: a string, an array of strings, {"text"} objects', () => {
    expect(textsFromJson('one', '--input')).toEqual(['one']);
    expect(textsFromJson(['a, b', ' c '], '--input')).toEqual(['a, b', ' c ']);
    expect(textsFromJson([{ text: 'x' }, 'y'], '--input')).toEqual(['x', 'y']);
    expect(textsFromJson({ text: 'z' }, '--input')).toEqual(['z']);
    expect(() => textsFromJson(['ok', 3], '--input')).toThrow(/--input item 2 is not a text/);
    expect(() => textsFromJson({ nope: 1 }, '--input')).toThrow(/--input is not a text/);
  });

  it('--file: .txt one per line (blank lines skipped), .jsonl {"text"} per line, .json, and stdin', async () => {
    const readTextFile = async (file: string, stdin?: string[]) => {
      const input = await readInput({ file }, 'texts', stdin ? { stdin } : {});
      return input.kind === 'texts' ? input.texts : input;
    };
    const dir = tempDir();
    writeFileSync(join(dir, 't.txt'), 'first, with a comma\r\n\nsecond\n');
    writeFileSync(join(dir, 't.jsonl'), '{"text": "first, with a comma"}\n\n"second"\n');
    writeFileSync(join(dir, 't.json'), '["first, with a comma", {"text": "second"}]');
    for (const f of ['t.txt', 't.jsonl', 't.json']) expect(await readTextFile(join(dir, f))).toEqual(['first, with a comma', 'second']);
    expect(await readTextFile('-', ['a\nb\n'])).toEqual(['a', 'b']);
    expect(await readTextFile('-', ['{"text": "a"}\n{"text": "b"}\n'])).toEqual(['a', 'b']);
    expect(await readTextFile('-', ['["a", "b"]'])).toEqual(['a', 'b']);
    writeFileSync(join(dir, 'bad.jsonl'), '{"text": "a"}\n{"txt": "b"}\n');
    await rejects(readTextFile(join(dir, 'bad.jsonl')), 'INVALID_INPUT', /bad\.jsonl line 2 is not a text/);
    writeFileSync(join(dir, 't.csv'), 'a\n');
    await rejects(readTextFile(join(dir, 't.csv')), 'INVALID_INPUT', /cannot read .*t\.csv as texts/);
    await rejects(readTextFile(join(dir, 'missing.txt')), 'PATH_NOT_FOUND');
  });
});
