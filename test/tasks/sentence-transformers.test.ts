import { describe, expect, it } from 'vitest';
import { pool } from '../../src/tasks/feature-extraction.js';
import { poolingModes, readSentencePipeline } from '../../src/tasks/sentence-transformers.js';
import { rejects } from '../helpers.js';
import { expectClose } from './helpers.js';

/**
 * The pooling modes of sentence-transformers' Pooling module, on hand-made token vectors whose answers can be
 * worked out on paper, and the reading of a sentence-transformers folder's files. The real model's parity (the
 * same modes against SentenceTransformer.encode) is test/parity/sentence-transformers.test.ts.
 */

// Two rows of three tokens, width 2. Row 0: right padding (last token is padding); row 1: left padding.
const HIDDEN = [1, 2, 3, 4, 100, 100, /* row 1 */ -50, 50, 5, -1, 7, 3];
const DIMS = [2, 3, 2];
const MASK = [
  [1, 1, 0],
  [0, 1, 1],
];

describe('pool: the modes of sentence-transformers Pooling, over the real tokens only', () => {
  it('mean, mean_sqrt_len_tokens, max', () => {
    const [r0, r1] = pool(HIDDEN, DIMS, MASK, ['mean']);
    expectClose(r0!, [2, 3], 1e-12, 'mean row 0');
    expectClose(r1!, [6, 1], 1e-12, 'mean row 1');
    const [s0] = pool(HIDDEN, DIMS, MASK, ['mean_sqrt_len_tokens']);
    expectClose(s0!, [4 / Math.SQRT2, 6 / Math.SQRT2], 1e-12, 'mean_sqrt_len_tokens');
    const [m0, m1] = pool(HIDDEN, DIMS, MASK, ['max']);
    expect(m0).toEqual([3, 4]);
    expect(m1).toEqual([7, 3]);
  });

  it('cls takes the first real token and lasttoken the last one, whichever side the padding is on', () => {
    const [c0, c1] = pool(HIDDEN, DIMS, MASK, ['cls']);
    expect(c0).toEqual([1, 2]);
    expect(c1).toEqual([5, -1]);
    const [l0, l1] = pool(HIDDEN, DIMS, MASK, ['lasttoken']);
    expect(l0).toEqual([3, 4]);
    expect(l1).toEqual([7, 3]);
  });

  it('weightedmean weighs tokens 1, 2, ... from the first real one', () => {
    const [w0, w1] = pool(HIDDEN, DIMS, MASK, ['weightedmean']);
    expectClose(w0!, [(1 * 1 + 2 * 3) / 3, (1 * 2 + 2 * 4) / 3], 1e-12, 'row 0');
    expectClose(w1!, [(1 * 5 + 2 * 7) / 3, (1 * -1 + 2 * 3) / 3], 1e-12, 'row 1');
  });

  it('several modes are concatenated in the order given; a row without real tokens gives zeros for mean', () => {
    const [row] = pool(HIDDEN, DIMS, MASK, ['cls', 'max', 'mean']);
    expect(row).toEqual([1, 2, 3, 4, 2, 3]);
    const [empty] = pool([1, 2], [1, 1, 2], [[0]], ['mean', 'lasttoken']);
    expect(empty).toEqual([0, 0, 0, 0]);
  });
});

describe('readSentencePipeline: what a sentence-transformers folder says', () => {
  const MODULES = [
    { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
    { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
    { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' },
  ];
  const reader = (files: Record<string, unknown>) => async (path: string) => files[path];

  it('all-MiniLM-L6-v2 as it ships: mean pooling, Normalize, max_seq_length 256', async () => {
    const p = await readSentencePipeline(
      reader({
        'modules.json': MODULES,
        'sentence_bert_config.json': { max_seq_length: 256, do_lower_case: false },
        '1_Pooling/config.json': { word_embedding_dimension: 384, pooling_mode_mean_tokens: true, pooling_mode_cls_token: false },
      }),
    );
    expect(p).toEqual({ pooling: ['mean'], normalize: true, maxSeqLength: 256, lowercase: false });
  });

  it('no sentence-transformers file: undefined (a plain encoder); no modules.json: mean, no Normalize', async () => {
    expect(await readSentencePipeline(reader({ 'config.json': {} }))).toBeUndefined();
    expect(await readSentencePipeline(reader({ 'sentence_bert_config.json': { do_lower_case: true } }))).toEqual({
      pooling: ['mean'],
      normalize: false,
      lowercase: true,
    });
  });

  it('pooling modes: the pooling_mode key (a name or a list) beats the legacy booleans, which concatenate in a fixed order', () => {
    expect(poolingModes({ pooling_mode: 'lasttoken', pooling_mode_mean_tokens: true })).toEqual(['lasttoken']);
    expect(poolingModes({ pooling_mode: ['max', 'cls'] })).toEqual(['max', 'cls']);
    expect(poolingModes({ pooling_mode_mean_tokens: true, pooling_mode_cls_token: true, pooling_mode_max_tokens: true })).toEqual([
      'cls',
      'max',
      'mean',
    ]);
    expect(poolingModes({ pooling_mode_weightedmean_tokens: true, pooling_mode_mean_sqrt_len_tokens: true })).toEqual([
      'mean_sqrt_len_tokens',
      'weightedmean',
    ]);
    expect(poolingModes({})).toEqual(['mean']);
  });

  it('the default prompt comes before the texts; max_length from processing_kwargs when max_seq_length is absent', async () => {
    const p = await readSentencePipeline(
      reader({
        'modules.json': MODULES.slice(0, 2),
        '1_Pooling/config.json': { pooling_mode: 'cls' },
        'sentence_bert_config.json': { processing_kwargs: { text: { max_length: 64 } } },
        'config_sentence_transformers.json': { prompts: { query: 'query: ', document: '' }, default_prompt_name: 'query' },
      }),
    );
    expect(p).toEqual({ pooling: ['cls'], normalize: false, maxSeqLength: 64, lowercase: false, prompt: 'query: ' });
  });

  it('refuses what it cannot follow rather than giving other embeddings than the model', async () => {
    const dense = [...MODULES.slice(0, 2), { idx: 2, name: '2', path: '2_Dense', type: 'sentence_transformers.models.Dense' }];
    await rejects(readSentencePipeline(reader({ 'modules.json': dense })), 'NOT_AVAILABLE', /Transformer -> Pooling -> Dense/);
    await rejects(readSentencePipeline(reader({ 'modules.json': MODULES.slice(0, 1) })), 'NOT_AVAILABLE', /its modules are Transformer$/);
    await rejects(
      readSentencePipeline(reader({ 'modules.json': MODULES, '1_Pooling/config.json': { pooling_mode: 'median' } })),
      'NOT_AVAILABLE',
      /unknown pooling mode "median"/,
    );
    const outside = [MODULES[0], { ...MODULES[1], path: '../elsewhere' }];
    await rejects(readSentencePipeline(reader({ 'modules.json': outside })), 'NOT_AVAILABLE', /leaves the folder/);
    await rejects(
      readSentencePipeline(
        reader({
          'modules.json': MODULES,
          '1_Pooling/config.json': { pooling_mode: 'mean', include_prompt: false },
          'config_sentence_transformers.json': { prompts: { query: 'q: ' }, default_prompt_name: 'query' },
        }),
      ),
      'NOT_AVAILABLE',
      /include_prompt/,
    );
  });
});
