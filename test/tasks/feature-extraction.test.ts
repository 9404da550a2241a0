import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Registry } from '../../src/index.js';
import { predict } from '../../src/predict/predict.js';
import { l2Normalize, pool } from '../../src/tasks/feature-extraction.js';
import { tempDir } from '../helpers.js';
import { EMBEDDER, EMBEDDER_DIR, EMBEDDER_REF, copyFixture, expectClose } from './helpers.js';

const texts = (t: string[]) => ({ kind: 'texts' as const, texts: t });
const FILES = ['model.onnx', 'config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt'];

describe('feature-extraction against transformers (mean pooling over last_hidden_state)', () => {
  it('optimum-bert-embed: embeddings within 1e-4 of transformers’ mean pooling, raw by default and unit length with normalize', async () => {
    const raw = await predict({ model: EMBEDDER, input: texts(EMBEDDER_REF.sentences), threads: 1 });
    expect(raw.task).toBe('feature-extraction');
    expect(raw.taskReason).toMatch(/config\.json architectures: BertModel/);
    expect(raw.normalized).toBe(false);
    raw.predictions!.forEach((p, i) => expectClose(p.embedding!, EMBEDDER_REF.transformers.mean_pooled[i]!, 1e-4, `text ${i + 1}`));
    const unit = await predict({ model: EMBEDDER, input: texts(EMBEDDER_REF.sentences), threads: 1, normalize: true });
    expect(unit.normalized).toBe(true);
    unit.predictions!.forEach((p, i) => expectClose(p.embedding!, EMBEDDER_REF.transformers.normalized[i]!, 1e-4, `text ${i + 1}`));
  });

  it('a batch of mixed lengths gives what one text at a time gives, in order', async () => {
    const mixed = [EMBEDDER_REF.sentences[2]!, 'great', EMBEDDER_REF.sentences[0]!, EMBEDDER_REF.sentences[1]!];
    const together = await predict({ model: EMBEDDER, input: texts(mixed), threads: 1 });
    const alone = await predict({ model: EMBEDDER, input: texts(mixed), threads: 1, batchSize: 1 });
    const odd = await predict({ model: EMBEDDER, input: texts(mixed), threads: 1, batchSize: 3 });
    for (const other of [alone, odd])
      other.predictions!.forEach((p, i) => expectClose(p.embedding!, together.predictions![i]!.embedding!, 1e-5, `text ${i + 1}`));
    expectClose(together.predictions![0]!.embedding!, EMBEDDER_REF.transformers.mean_pooled[2]!, 1e-4);
  });

  it('truncates a text longer than 64 tokens, flags it, and embeds what transformers embeds with truncation=True', async () => {
    const r = await predict({
      model: EMBEDDER,
      input: texts([EMBEDDER_REF.sentences[0]!, EMBEDDER_REF.truncation.sentence]),
      threads: 1,
      normalize: true,
    });
    expect(r.predictions!.map((p) => p.truncated)).toEqual([undefined, true]);
    expectClose(r.predictions![1]!.embedding!, EMBEDDER_REF.truncation.normalized, 1e-4, 'truncated');
    expectClose(r.predictions![0]!.embedding!, EMBEDDER_REF.transformers.normalized[0]!, 1e-4, 'short');
  });

  it('normalizes by default in a sentence-transformers folder whose modules.json has Normalize; --no-normalize wins', async () => {
    const dir = copyFixture(EMBEDDER_DIR, FILES);
    writeFileSync(
      join(dir, 'modules.json'),
      JSON.stringify([
        { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
        { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
        { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' },
      ]),
    );
    const r = await predict({ model: join(dir, 'model.onnx'), input: texts(EMBEDDER_REF.sentences), threads: 1 });
    expect(r.taskReason).toMatch(/sentence-transformers folder \(modules\.json\)/);
    expect(r.normalized).toBe(true);
    r.predictions!.forEach((p, i) => expectClose(p.embedding!, EMBEDDER_REF.transformers.normalized[i]!, 1e-4));
    const off = await predict({ model: join(dir, 'model.onnx'), input: texts(EMBEDDER_REF.sentences), threads: 1, normalize: false });
    off.predictions!.forEach((p, i) => expectClose(p.embedding!, EMBEDDER_REF.transformers.mean_pooled[i]!, 1e-4));
    // The same folder registered: modules.json read from the version's files.
    const registry = new Registry({ home: tempDir() });
    await registry.register({ path: dir, name: 'st' });
    const reg = await predict({ model: 'st', registry, input: texts(EMBEDDER_REF.sentences.slice(0, 1)), threads: 1 });
    expect(reg.normalized).toBe(true);
    expectClose(reg.predictions![0]!.embedding!, EMBEDDER_REF.transformers.normalized[0]!, 1e-4);
  });

  it('an ONNX file kept in onnx/ reads the tokenizer and config from the folder above', async () => {
    const dir = copyFixture(
      EMBEDDER_DIR,
      FILES.filter((f) => f !== 'model.onnx'),
    );
    const onnx = copyFixture(EMBEDDER_DIR, ['model.onnx']);
    mkdirSync(join(dir, 'onnx'));
    renameSync(join(onnx, 'model.onnx'), join(dir, 'onnx', 'model.onnx'));
    const r = await predict({ model: join(dir, 'onnx', 'model.onnx'), input: texts(EMBEDDER_REF.sentences.slice(0, 1)), threads: 1 });
    expectClose(r.predictions![0]!.embedding!, EMBEDDER_REF.transformers.mean_pooled[0]!, 1e-4);
  });
});

describe('pooling', () => {
  it('averages only the masked-in tokens and never divides by zero', () => {
    const hidden = [1, 2, 3, 4, 100, 100, /* row 2 */ 5, 6, 7, 8, 9, 10];
    expect(
      pool(
        hidden,
        [2, 3, 2],
        [
          [1, 1, 0],
          [0, 0, 0],
        ],
        ['mean'],
      ),
    ).toEqual([
      [2, 3],
      [0, 0],
    ]);
    expectClose(l2Normalize([3, 4]), [0.6, 0.8], 1e-12);
    expect(l2Normalize([0, 0])).toEqual([0, 0]);
  });
});
