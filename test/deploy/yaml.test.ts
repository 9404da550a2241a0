import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { quoteYaml, toYaml, type YamlValue } from '../../src/util/yaml.js';
import { pythonAvailable } from '../python.js';
import { pyYamlLoad } from './yaml.js';

/**
 * src/util/yaml.ts against PyYAML: what the emitter writes, PyYAML's safe loader reads back as the same value, for
 * arbitrary strings (every code point, lone surrogates, words YAML would read as other types) as keys and values,
 * and for numbers, booleans, null and nesting.
 */

/** Any UTF-16 code unit, so lone surrogates too; and code points beyond the BMP. */
const anyText = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    'no',
    'Yes',
    'off',
    'null',
    '~',
    'true',
    '1e3',
    '0x1F',
    '.inf',
    '-',
    '- a',
    ': b',
    '# c',
    '<<',
    '2001-12-14',
    '"',
    "'",
    '\\',
    '\u2028',
    '\u0085',
    '\ufeff',
    ' lead',
    'trail ',
    '\t',
  ),
);

const value: fc.Arbitrary<YamlValue> = fc.letrec<{ v: YamlValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    anyText,
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(anyText, tie('v'), { maxKeys: 4, noNullPrototype: true }),
  ),
})).v;

describe('YAML emitter', () => {
  it('quotes every string, so that no text turns into another type', () => {
    expect(quoteYaml('no')).toBe('"no"');
    expect(quoteYaml('a"b\\c\nd')).toBe('"a\\"b\\\\c\\nd"');
    expect(quoteYaml('\u0085\u2028\ud800é😀')).toBe('"\\u0085\\u2028\\uD800é😀"');
    expect(toYaml({ a: [], b: {}, c: [{ d: 1, e: [true, null] }], 'x y': -0, on: 1e21 })).toBe(
      '---\na: []\nb: {}\nc:\n  - d: 1\n    e:\n      - true\n      - null\n"x y": -0.0\n"on": 1.0e+21\n',
    );
  });

  it('arbitrary strings survive the round trip through PyYAML, as values and as keys', async () => {
    if (!pythonAvailable()) return;
    await fc.assert(
      fc.asyncProperty(
        fc.array(anyText, { maxLength: 20 }),
        fc.dictionary(anyText, anyText, { maxKeys: 10, noNullPrototype: true }),
        async (texts, map) => {
          const [back] = await pyYamlLoad(toYaml({ texts, map }));
          expect(back).toEqual({ texts, map });
        },
      ),
      { numRuns: 50 },
    );
  });

  it('arbitrary documents (numbers, booleans, null, nesting) survive the round trip', async () => {
    if (!pythonAvailable()) return;
    await fc.assert(
      fc.asyncProperty(value, async (v) => {
        const [back] = await pyYamlLoad(toYaml(v));
        expect(back).toEqual(v);
      }),
      { numRuns: 30 },
    );
  });

  it('writes a key longer than YAML allows for an implicit key as an explicit one', async () => {
    if (!pythonAvailable()) return;
    const long = 'k'.repeat(2000);
    const doc = { [long]: 'v', nested: { [long]: { a: [1, 2] } } };
    expect(toYaml(doc).startsWith(`---\n? ${long}\n: "v"\n`)).toBe(true);
    const [back] = await pyYamlLoad(toYaml(doc));
    expect(back).toEqual(doc);
  });
});
