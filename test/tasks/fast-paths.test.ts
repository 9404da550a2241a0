import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelctlError } from '../../src/errors.js';
import { readOnnxSummary } from '../../src/onnx/summary.js';
import { predictTabular } from '../../src/tasks/tabular.js';
import { makeTensor, type RunContext } from '../../src/tasks/tensors.js';
import { textFeeds } from '../../src/tasks/tokenize.js';
import { FIXTURES } from '../helpers.js';

const IRIS = join(FIXTURES, 'iris-logreg', 'model.onnx');

async function message(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ModelctlError);
  return (err as ModelctlError).message;
}

describe('the typed-array fast paths give what the general paths give', () => {
  let session: ort.InferenceSession;
  let ctx: RunContext;
  beforeAll(async () => {
    session = await ort.InferenceSession.create(IRIS);
    const s = await readOnnxSummary(IRIS);
    ctx = { session, Tensor: ort.Tensor, inputs: s.inputs, outputs: s.outputs };
  });
  afterAll(() => session.release());

  it('tabular rows as numbers or as strings (CLI arguments, CSV cells) predict as rows keyed by name (the general path) do', async () => {
    const rows = [
      [5.1, 3.5, 1.4, 0.2],
      [6.3, 3.3, 6, 2.5],
      [5.9, 3, 4.2, 1.5],
    ];
    const numbers = await predictTabular(ctx, rows, 'tabular-classification');
    const strings = await predictTabular(
      ctx,
      rows.map((r) => r.map((v) => ` ${v} `)),
      'tabular-classification',
    );
    expect(strings).toEqual(numbers);
    // Rows keyed by feature name take the general path (a matrix of values, then makeTensor).
    const names = ['a', 'b', 'c', 'd'];
    const keyed = await predictTabular(
      ctx,
      rows.map((r) => Object.fromEntries(names.map((n, i) => [n, r[i]]))),
      'tabular-classification',
      { featureConfig: { feature_names: names } },
    );
    expect(keyed).toEqual(numbers);
    expect(Object.keys(numbers[0]?.probabilities ?? {})).toEqual(['0', '1', '2']);
    expect(typeof numbers[0]?.label).toBe('number');
  });

  it('a row the fast path cannot take gets the general path’s error, naming the row and feature', async () => {
    expect(
      await message(
        predictTabular(
          ctx,
          [
            [5.1, 3.5, 1.4, 0.2],
            [1, 2, 3],
          ],
          'tabular-classification',
        ),
      ),
    ).toBe('row 2 has 3 features; the model takes 4');
    expect(await message(predictTabular(ctx, [[5.1, 'x', 1.4, 0.2]], 'tabular-classification'))).toBe(
      'row 1, feature 2: "x" is not a number',
    );
    expect(await message(predictTabular(ctx, [[5.1, 3.5, true, 0.2]], 'tabular-classification'))).toBe(
      'row 1, feature 3: true is not a number',
    );
    expect(await message(predictTabular(ctx, [[5.1, 3.5, 1.4, ' ']], 'tabular-classification'))).toBe(
      'row 1, feature 4: " " is not a number',
    );
  });

  it('token ids, masks and type ids fill int64 and int32 tensors exactly as makeTensor does; ragged rows are refused as before', () => {
    const batch = {
      inputIds: [
        [101, 7592, 102, 0],
        [101, 2147483647, 7, 102],
      ],
      attentionMask: [
        [1, 1, 1, 0],
        [1, 1, 1, 1],
      ],
      tokenTypeIds: [
        [0, 0, 0, 0],
        [0, 0, 1, 1],
      ],
      truncated: [false, false],
    };
    for (const dtype of ['int64', 'int32']) {
      const inputs = ['input_ids', 'attention_mask', 'token_type_ids'].map((name) => ({ name, kind: 'tensor' as const, dtype }));
      const c = { ...ctx, inputs } as RunContext;
      const feeds = textFeeds(c, batch);
      for (const [name, key] of [
        ['input_ids', 'inputIds'],
        ['attention_mask', 'attentionMask'],
        ['token_type_ids', 'tokenTypeIds'],
      ] as const) {
        const expected = makeTensor(c, name, dtype, [2, 4], batch[key].flat());
        expect(feeds[name]?.type).toBe(dtype);
        expect(feeds[name]?.dims).toEqual([2, 4]);
        expect(Array.from(feeds[name]?.data as ArrayLike<number | bigint>)).toEqual(
          Array.from(expected.data as ArrayLike<number | bigint>),
        );
      }
    }
    const inputs = [{ name: 'input_ids', kind: 'tensor' as const, dtype: 'int64' }];
    expect(() => textFeeds({ ...ctx, inputs } as RunContext, { ...batch, inputIds: [[101, 102], [101]] })).toThrow(
      /3 values do not fill shape \[2, 2\]/,
    );
  });
});
