import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { OnnxValueInfo } from '../../src/onnx/summary.js';
import { loadOrt } from '../../src/runtime/ort.js';
import type { RunContext } from '../../src/tasks/tensors.js';
import { loadTokenizer, textFeeds, type TokenizerFiles } from '../../src/tasks/tokenize.js';
import { CLASSIFIER_DIR, CLASSIFIER_REF, EMBEDDER_DIR, EMBEDDER_REF, rejects } from './helpers.js';

function filesOf(dir: string, configPatch: Record<string, unknown> = {}): TokenizerFiles {
  const read = (name: string): unknown => JSON.parse(readFileSync(join(dir, name), 'utf8'));
  return { tokenizer: read('tokenizer.json'), config: { ...(read('tokenizer_config.json') as object), ...configPatch }, where: dir };
}

const modelConfig = (dir: string): unknown => JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));

const textInputs = (dtype: string, seq: number | string = 'sequence_length'): OnnxValueInfo[] =>
  ['input_ids', 'attention_mask', 'token_type_ids'].map(
    (name) => ({ name, kind: 'tensor', dtype, shape: ['batch_size', seq] }) as OnnxValueInfo,
  );

describe('tokenization with @huggingface/tokenizers against transformers', () => {
  it('gives the input ids, attention mask and token type ids transformers gave (padded batch)', async () => {
    const tok = await loadTokenizer(filesOf(CLASSIFIER_DIR), modelConfig(CLASSIFIER_DIR));
    const batch = tok.encodeBatch(CLASSIFIER_REF.sentences);
    expect(batch.inputIds).toEqual(CLASSIFIER_REF.inputs.input_ids.data);
    expect(batch.attentionMask).toEqual(CLASSIFIER_REF.inputs.attention_mask.data);
    expect(batch.tokenTypeIds).toEqual(CLASSIFIER_REF.inputs.token_type_ids.data);
    expect(batch.truncated).toEqual([false, false]);
    const embed = (await loadTokenizer(filesOf(EMBEDDER_DIR), modelConfig(EMBEDDER_DIR))).encodeBatch(EMBEDDER_REF.sentences);
    expect(embed.inputIds).toEqual(EMBEDDER_REF.inputs.input_ids.data);
    expect(embed.attentionMask).toEqual(EMBEDDER_REF.inputs.attention_mask.data);
    expect(embed.tokenTypeIds).toEqual(EMBEDDER_REF.inputs.token_type_ids.data);
  });

  it('truncates to model_max_length keeping [CLS] and [SEP], exactly as transformers truncation=True does', async () => {
    const tok = await loadTokenizer(filesOf(EMBEDDER_DIR), modelConfig(EMBEDDER_DIR));
    expect(tok.maxLength).toBe(EMBEDDER_REF.truncation.model_max_length);
    const long = tok.encode(EMBEDDER_REF.truncation.sentence);
    expect(EMBEDDER_REF.truncation.untruncated_length).toBeGreaterThan(64);
    expect(long.truncated).toBe(true);
    expect(long.ids).toEqual(EMBEDDER_REF.truncation.input_ids);
    expect(long.typeIds).toEqual(new Array(64).fill(0));
    // A batch with the long text: every row 64 wide, only the long one flagged.
    const batch = tok.encodeBatch(['the model was great', EMBEDDER_REF.truncation.sentence]);
    expect(batch.inputIds.map((r) => r.length)).toEqual([64, 64]);
    expect(batch.truncated).toEqual([false, true]);
    expect(batch.attentionMask[0]?.filter(Boolean).length).toBe(6);
  });

  it("a maxLength option (sentence-transformers max_seq_length) beats model_max_length, within the graph's fixed length", async () => {
    const tok = await loadTokenizer(filesOf(EMBEDDER_DIR), modelConfig(EMBEDDER_DIR), [], { maxLength: 8 });
    expect(tok.maxLength).toBe(8);
    const long = tok.encode(EMBEDDER_REF.truncation.sentence);
    expect(long.truncated).toBe(true);
    // [CLS], the first six tokens of the untruncated ids, [SEP]
    expect(long.ids).toEqual([...EMBEDDER_REF.truncation.input_ids.slice(0, 7), EMBEDDER_REF.truncation.input_ids.at(-1)]);
    const fixed = await loadTokenizer(filesOf(CLASSIFIER_DIR), modelConfig(CLASSIFIER_DIR), textInputs('int64', 8), { maxLength: 256 });
    expect(fixed.maxLength).toBe(8);
  });

  it('falls back to max_position_embeddings, and follows truncation_side / padding_side = left', async () => {
    const noLimit = await loadTokenizer(filesOf(EMBEDDER_DIR, { model_max_length: 1e30 }), { max_position_embeddings: 16 });
    expect(noLimit.maxLength).toBe(16);
    const left = await loadTokenizer(filesOf(EMBEDDER_DIR, { model_max_length: 6, truncation_side: 'left', padding_side: 'left' }), {});
    const full = left.encode('nothing works: modelctl output is garbage?!');
    // [CLS] + the last four tokens + [SEP]
    expect(full.ids).toEqual([2, ...(CLASSIFIER_REF.inputs.input_ids.data[1] as number[]).slice(9, 13), 3]);
    const batch = left.encodeBatch(['great', 'the model was great']);
    expect(batch.inputIds[0]).toEqual([0, 0, 0, 2, 113, 3]);
    expect(batch.attentionMask[0]).toEqual([0, 0, 0, 1, 1, 1]);
  });

  it('pads to a fixed sequence length the graph demands, and caps the maximum length to it', async () => {
    const tok = await loadTokenizer(filesOf(CLASSIFIER_DIR), modelConfig(CLASSIFIER_DIR), textInputs('int64', 8));
    expect(tok.maxLength).toBe(8);
    const batch = tok.encodeBatch(['great', 'nothing works: modelctl output is garbage?!']);
    expect(batch.inputIds).toEqual([
      [2, 113, 3, 0, 0, 0, 0, 0],
      [2, 135, 81, 8, 66, 40, 56, 3],
    ]);
    expect(batch.truncated).toEqual([false, true]);
  });

  it('feeds only the inputs the model takes, in its element types', async () => {
    const ort = await loadOrt();
    const tok = await loadTokenizer(filesOf(CLASSIFIER_DIR), modelConfig(CLASSIFIER_DIR));
    const batch = tok.encodeBatch(['the model was great']);
    const ctx = (inputs: OnnxValueInfo[]): RunContext => ({
      session: { inputNames: [], outputNames: [], run: async () => ({}) },
      Tensor: ort.Tensor,
      inputs,
      outputs: [],
    });
    const int64 = textFeeds(ctx(textInputs('int64')), batch);
    expect(Object.keys(int64)).toEqual(['input_ids', 'attention_mask', 'token_type_ids']);
    expect(int64.input_ids?.type).toBe('int64');
    expect(Array.from(int64.input_ids?.data as BigInt64Array, Number)).toEqual([2, 63, 66, 78, 113, 3]);
    const int32 = textFeeds(ctx(textInputs('int32').slice(0, 2)), batch);
    expect(Object.keys(int32)).toEqual(['input_ids', 'attention_mask']);
    expect(int32.attention_mask?.data).toBeInstanceOf(Int32Array);
    expect(int32.input_ids?.dims).toEqual([1, 6]);
    const pastKv = [
      ...textInputs('int64'),
      { name: 'past_key_values.0.key', kind: 'tensor', dtype: 'float32', shape: [] } as OnnxValueInfo,
    ];
    expect(() => textFeeds(ctx(pastKv), batch)).toThrow(/takes input past_key_values\.0\.key, which a tokenizer does not produce/);
  });

  it('reports a tokenizer.json it cannot load as one line naming where it came from', async () => {
    const broken = { ...(filesOf(CLASSIFIER_DIR).tokenizer as object), model: { type: 'NoSuchModel' } };
    await rejects(
      loadTokenizer({ tokenizer: broken, config: {}, where: '/somewhere' }, {}),
      'INVALID_INPUT',
      /cannot load the tokenizer from \/somewhere/,
    );
  });
});
