import { copyFileSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Registry, embedMetadata } from '../../src/index.js';
import { predict } from '../../src/predict/predict.js';
import { rankLabels, scoreFunction, scores } from '../../src/tasks/text-classification.js';
import { tempDir } from '../helpers.js';
import {
  CLASSIFIER,
  CLASSIFIER_DIR,
  CLASSIFIER_LABELS,
  CLASSIFIER_REF,
  EMBEDDER_REF,
  copyFixture,
  expectClose,
  rejects,
  softmax,
} from './helpers.js';

const texts = (t: string[]) => ({ kind: 'texts' as const, texts: t });

describe('text-classification against transformers', () => {
  it('optimum-bert: softmax scores within 1e-4 of transformers’ logits, labels from id2label, best first', async () => {
    const r = await predict({ model: CLASSIFIER, input: texts(CLASSIFIER_REF.sentences), threads: 1 });
    expect(r.task).toBe('text-classification');
    expect(r.taskReason).toMatch(/config\.json architectures: BertForSequenceClassification/);
    expect(r.predictions).toHaveLength(2);
    r.predictions!.forEach((p, i) => {
      const want = softmax(CLASSIFIER_REF.transformers.logits[i]!);
      const order = [0, 1].sort((a, b) => want[b]! - want[a]!);
      expect(p.labels!.map((l) => l.label)).toEqual(order.map((c) => CLASSIFIER_LABELS[c]));
      expectClose(
        p.labels!.map((l) => l.score),
        order.map((c) => want[c]!),
        1e-4,
        `text ${i + 1}`,
      );
      expect(p.truncated).toBeUndefined();
    });
  });

  it('a batch of mixed lengths gives what one text at a time gives, in order; --top-k cuts the labels', async () => {
    const mixed = [CLASSIFIER_REF.sentences[1]!, 'great', CLASSIFIER_REF.sentences[0]!, '', EMBEDDER_REF.sentences[2]!];
    const together = await predict({ model: CLASSIFIER, input: texts(mixed), threads: 1 });
    const alone = await predict({ model: CLASSIFIER, input: texts(mixed), threads: 1, batchSize: 1 });
    const pairs = await predict({ model: CLASSIFIER, input: texts(mixed), threads: 1, batchSize: 2 });
    for (const other of [alone, pairs]) {
      expect(other.predictions).toHaveLength(mixed.length);
      other.predictions!.forEach((p, i) => {
        expect(p.labels!.map((l) => l.label)).toEqual(together.predictions![i]!.labels!.map((l) => l.label));
        expectClose(
          p.labels!.map((l) => l.score),
          together.predictions![i]!.labels!.map((l) => l.score),
          1e-5,
          `text ${i + 1}`,
        );
      });
    }
    const top1 = await predict({ model: CLASSIFIER, input: texts(mixed), threads: 1, topK: 1 });
    expect(top1.predictions!.map((p) => p.labels)).toEqual(together.predictions!.map((p) => p.labels!.slice(0, 1)));
  });

  it('flags a text longer than the model takes and still classifies it', async () => {
    const r = await predict({ model: CLASSIFIER, input: texts(['the model was great', EMBEDDER_REF.truncation.sentence]), threads: 1 });
    expect(r.predictions!.map((p) => p.truncated)).toEqual([undefined, true]);
    expect(r.predictions![1]!.labels).toHaveLength(2);
  });

  it('reads the tokenizer and config from the registry version’s files, or from embedded metadata alone', async () => {
    const registry = new Registry({ home: tempDir() });
    await registry.register({ path: CLASSIFIER_DIR, name: 'bert' });
    const fromRegistry = await predict({ model: 'bert', registry, input: texts(CLASSIFIER_REF.sentences), threads: 1 });
    expect(fromRegistry.taskReason).toBe('registry');
    const direct = await predict({ model: CLASSIFIER, input: texts(CLASSIFIER_REF.sentences), threads: 1 });
    expect(fromRegistry.predictions).toEqual(direct.predictions);

    // The ONNX file alone, with everything embedded (and problem_type changed): sigmoid per label.
    const dir = tempDir();
    const file = join(dir, 'model.onnx');
    copyFileSync(CLASSIFIER, join(dir, 'plain.onnx'));
    const hf = copyFixture(CLASSIFIER_DIR, ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'config.json']);
    await embedMetadata({ model: join(dir, 'plain.onnx'), out: file, fromDir: hf });
    const embedded = await predict({ model: file, input: texts(CLASSIFIER_REF.sentences), threads: 1 });
    expect(embedded.taskReason).toBe('embedded metadata');
    expect(embedded.predictions).toEqual(direct.predictions);
    const multi = join(dir, 'multi.onnx');
    await embedMetadata({
      model: file,
      out: multi,
      fromDir: hf,
      task: 'text-classification',
      set: { hf_model_config: JSON.stringify({ id2label: { 0: 'a', 1: 'b' }, problem_type: 'multi_label_classification' }) },
    });
    const sig = await predict({ model: multi, input: texts(CLASSIFIER_REF.sentences), threads: 1 });
    sig.predictions!.forEach((p, i) => {
      const logits = CLASSIFIER_REF.transformers.logits[i]!;
      expect(p.labels!.map((l) => l.label)).toEqual(['b', 'a']);
      expectClose(
        p.labels!.map((l) => l.score),
        [logits[1]!, logits[0]!].map((x) => 1 / (1 + Math.exp(-x))),
        1e-4,
      );
    });
  });

  it('a model without tokenizer files: one INVALID_INPUT line naming what is missing and how to embed it', async () => {
    const dir = copyFixture(CLASSIFIER_DIR, ['model.onnx', 'config.json']);
    const err = await rejects(
      predict({ model: join(dir, 'model.onnx'), input: texts(['hi']) }),
      'INVALID_INPUT',
      /no tokenizer for .*model\.onnx: tokenizer\.json is neither embedded in the model \(hf_processor_config\) nor beside it/,
    );
    expect(err.message).not.toMatch(/\n/);
    expect(err.hint).toMatch(/modelctl embed-metadata .*model\.onnx --from-dir DIR/);
    const registry = new Registry({ home: tempDir() });
    await registry.register({ path: dir, name: 'bare' });
    const reg = await rejects(
      predict({ model: 'bare', registry, input: texts(['hi']) }),
      'INVALID_INPUT',
      /no tokenizer for bare: .*beside it \(bare:1\.0\.0\)/,
    );
    expect(reg.hint).toMatch(/modelctl embed-metadata bare --from-dir DIR/);
  });

  it('answers rows given to a text model, and texts given to a tabular one, in one line', async () => {
    await rejects(
      predict({ model: CLASSIFIER, input: { kind: 'rows', rows: [[1, 2]] } }),
      'INVALID_INPUT',
      /a text-classification model takes texts/,
    );
    await rejects(predict({ model: CLASSIFIER, input: texts([]) }), 'INVALID_INPUT', /no texts given/);
    await rejects(predict({ model: CLASSIFIER, input: texts(['a']), batchSize: 0 }), 'USAGE', /batch size/);
    const onnx = tempDir();
    cpSync(join(CLASSIFIER_DIR, '..', 'iris-logreg', 'model.onnx'), join(onnx, 'iris.onnx'));
    await rejects(predict({ model: join(onnx, 'iris.onnx'), input: texts(['a']) }), 'INVALID_INPUT', /takes rows of numbers, not texts/);
  });
});

describe('scores', () => {
  it('softmax, sigmoid or none as the transformers pipeline chooses them', () => {
    expect(scoreFunction({}, 2)).toBe('softmax');
    expect(scoreFunction({}, 1)).toBe('sigmoid');
    expect(scoreFunction({ problem_type: 'multi_label_classification' }, 3)).toBe('sigmoid');
    expect(scoreFunction({ problem_type: 'regression' }, 1)).toBe('none');
    expectClose(scores([1000, 1000], 'softmax'), [0.5, 0.5], 1e-12);
    expectClose(scores([0], 'sigmoid'), [0.5], 1e-12);
    expect(rankLabels([0.2, 0.5, 0.3], {}, 2)).toEqual([
      { label: 'LABEL_1', score: 0.5 },
      { label: 'LABEL_2', score: 0.3 },
    ]);
  });
});
