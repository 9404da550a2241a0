import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Registry, embedMetadata } from '../../src/index.js';
import { predict } from '../../src/predict/predict.js';
import { imageInput } from '../../src/tasks/image-classification.js';
import { parseImageProcessorConfig } from '../../src/tasks/image.js';
import { ROOT, cli, tempDir } from '../helpers.js';
import { copyFixture, expectClose, rejects } from './helpers.js';
import { VIT, VIT_DIR, VIT_REF, ranked, vitPath } from './image-fixture.js';

const FILES = VIT_REF.images.map((i) => i.file);
const images = (files: string[]) => ({ kind: 'images' as const, files });

describe('image-classification against transformers', () => {
  it('optimum-vit-tiny: every image gets transformers’ top label and probabilities within 1e-2, best first', async () => {
    const r = await predict({ model: VIT, input: images(FILES.map(vitPath)), threads: 1 });
    expect(r.task).toBe('image-classification');
    expect(r.taskReason).toMatch(/config\.json architectures: ViTForImageClassification/);
    expect(r.predictions).toHaveLength(FILES.length);
    // The fixture's images get all three labels, each by a clear margin, so a wrong preprocessing would show.
    expect(new Set(VIT_REF.images.map((i) => i.top_label))).toEqual(new Set(['cat', 'dog', 'bird']));
    r.predictions!.forEach((p, i) => {
      const ref = VIT_REF.images[i]!;
      const want = ranked(ref.transformers.probabilities);
      expect(p.labels![0]!.label, ref.file).toBe(ref.top_label);
      expect(
        p.labels!.map((l) => l.label),
        ref.file,
      ).toEqual(want.map((l) => l.label));
      expectClose(
        p.labels!.map((l) => l.score),
        want.map((l) => l.score),
        1e-2,
        ref.file,
      );
    });
    // Without a resize the input is the processor's, so the scores are onnxruntime's own to float rounding.
    const exact = r.predictions![FILES.indexOf('exact.png')]!;
    expectClose(
      exact.labels!.map((l) => l.score),
      ranked(VIT_REF.images[FILES.indexOf('exact.png')]!.onnxruntime.probabilities).map((l) => l.score),
      1e-5,
      'exact.png',
    );
  });

  it('batches give what one image at a time gives, in order; --top-k cuts the labels', async () => {
    const files = [...FILES, FILES[0]!].map(vitPath);
    const together = await predict({ model: VIT, input: images(files), threads: 1 });
    const alone = await predict({ model: VIT, input: images(files), threads: 1, batchSize: 1 });
    alone.predictions!.forEach((p, i) => {
      expect(p.labels!.map((l) => l.label)).toEqual(together.predictions![i]!.labels!.map((l) => l.label));
      expectClose(
        p.labels!.map((l) => l.score),
        together.predictions![i]!.labels!.map((l) => l.score),
        1e-5,
      );
    });
    const top1 = await predict({ model: VIT, input: images(files), threads: 1, topK: 1 });
    expect(top1.predictions!.map((p) => p.labels)).toEqual(together.predictions!.map((p) => p.labels!.slice(0, 1)));
  });

  it('reads the processor config from the registry version’s files, or from embedded metadata alone', async () => {
    const registry = new Registry({ home: tempDir() });
    await registry.register({ path: copyFixture(VIT_DIR, ['model.onnx', 'config.json', 'preprocessor_config.json']), name: 'vit' });
    const direct = await predict({ model: VIT, input: images([vitPath('checker.png')]), threads: 1 });
    const fromRegistry = await predict({ model: 'vit', registry, input: images([vitPath('checker.png')]), threads: 1 });
    expect(fromRegistry.predictions).toEqual(direct.predictions);

    const dir = tempDir();
    const hf = copyFixture(VIT_DIR, ['config.json', 'preprocessor_config.json']);
    await embedMetadata({ model: VIT, out: join(dir, 'model.onnx'), fromDir: hf });
    const embedded = await predict({ model: join(dir, 'model.onnx'), input: images([vitPath('checker.png')]), threads: 1 });
    expect(embedded.taskReason).toBe('embedded metadata');
    expect(embedded.predictions).toEqual(direct.predictions);
  });

  it('refuses, in one line each: a non-image file, a model without preprocessor_config.json, texts, a processor of another size', async () => {
    const dir = tempDir();
    const fake = join(dir, 'cat.jpg');
    writeFileSync(fake, '{"this": "is json"}');
    const err = await rejects(
      predict({ model: VIT, input: images([vitPath('gradient.png'), fake]) }),
      'INVALID_INPUT',
      /cat\.jpg is not an image sharp can read/,
    );
    expect(err.message).not.toMatch(/\n/);
    // The batch is read concurrently: the missing file after it fails sooner, but the first failure in order is reported.
    await rejects(
      predict({ model: VIT, input: images([vitPath('gradient.png'), fake, join(dir, 'missing.jpg'), vitPath('checker.png')]) }),
      'INVALID_INPUT',
      /cat\.jpg is not an image sharp can read/,
    );

    const bare = copyFixture(VIT_DIR, ['model.onnx', 'config.json']);
    const missing = await rejects(
      predict({ model: join(bare, 'model.onnx'), input: images([vitPath('gradient.png')]) }),
      'INVALID_INPUT',
      /no image processor for .*model\.onnx: preprocessor_config\.json is neither embedded/,
    );
    expect(missing.hint).toMatch(/modelctl embed-metadata .*--from-dir DIR/);
    // The same lookup serves the audio tasks (src/predict/preprocessor.ts), worded for a feature extractor.
    const wav = join(ROOT, 'fixtures', 'asr', 'audio', 'speech.wav');
    const noExtractor = await rejects(
      predict({ model: join(bare, 'model.onnx'), task: 'audio-classification', input: { kind: 'audio', files: [wav] } }),
      'INVALID_INPUT',
      /^no feature extractor for .*model\.onnx: preprocessor_config\.json is neither embedded in the model \(hf_processor_config\) nor beside it/,
    );
    expect(noExtractor.hint).toBe(missing.hint);

    await rejects(
      predict({ model: VIT, input: { kind: 'texts', texts: ['a cat'] } }),
      'INVALID_INPUT',
      /^an image-classification model takes image files$/,
    );

    const other = copyFixture(VIT_DIR, ['model.onnx', 'config.json']);
    writeFileSync(join(other, 'preprocessor_config.json'), JSON.stringify({ size: { height: 64, width: 64 } }));
    // Symbolic height and width: ONNX Runtime's refusal, as one line with what the model takes.
    const refused = await rejects(
      predict({ model: join(other, 'model.onnx'), input: images([vitPath('gradient.png')]) }),
      'INVALID_INPUT',
      /^the model refused the input: /,
    );
    expect(refused.hint).toBe('it takes: pixel_values float32[batch_size, num_channels, height, width]');
  });

  it('checks a static image input against the processor before running; channels-last models are refused', () => {
    const config = parseImageProcessorConfig({ size: { height: 32, width: 32 } }, 'p');
    const input = (shape: Array<number | string>) => [{ name: 'pixel_values', kind: 'tensor' as const, dtype: 'float32', shape }];
    expect(imageInput(input(['batch', 3, 32, 32]), config)).toEqual({ name: 'pixel_values', height: 32, width: 32 });
    expect(() => imageInput(input(['batch', 3, 224, 224]), config)).toThrow(
      /^the image processor makes 32x32 images but input pixel_values takes 224x224$/,
    );
    expect(() => imageInput(input(['batch', 32, 32, 3]), config)).toThrow(/needs \[batch, 3, height, width\]/);
    expect(() => imageInput([{ name: 'input_ids', kind: 'tensor', dtype: 'int64', shape: ['b', 's'] }], config)).toThrow(
      /does not take one image tensor \(it takes input_ids int64\[b, s\]\)/,
    );
  });
});

// The spawned binary (dist/, built by `npm test`).
describe('modelctl predict on images (spawned binary)', () => {
  it('--json gives the PredictResult with transformers’ labels; the table shows the best label per file; a non-image is exit 2', async () => {
    const json = await cli(['predict', VIT, ...FILES.map(vitPath), '--json', '--threads', '1']);
    expect(json.exitCode, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout);
    expect(doc).toMatchObject({ model: VIT, task: 'image-classification', provider: 'cpu' });
    doc.predictions.forEach((p: { labels: Array<{ label: string; score: number }> }, i: number) => {
      const want = ranked(VIT_REF.images[i]!.transformers.probabilities);
      expect(p.labels.map((l) => l.label)).toEqual(want.map((l) => l.label));
      expectClose(
        p.labels.map((l) => l.score),
        want.map((l) => l.score),
        1e-2,
      );
    });
    const table = await cli(['predict', VIT, '--file', 'fixtures/models/optimum-vit-tiny/checker.png', '--top-k', '2', '--table']);
    expect(table.exitCode, table.stderr).toBe(0);
    expect(
      table.stdout
        .trim()
        .split('\n')
        .map((l) => l.replace(/\d\.\d{4}$/, 'S')),
    ).toEqual([
      'IMAGE                                         LABEL  SCORE',
      'fixtures/models/optimum-vit-tiny/checker.png  cat    S',
      '                                              dog    S',
    ]);
    const dir = tempDir();
    copyFileSync(join(VIT_DIR, 'config.json'), join(dir, 'notes.png'));
    const bad = await cli(['predict', VIT, join(dir, 'notes.png')]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/^error: .*notes\.png is not an image sharp can read/);
    expect(
      bad.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('error:')),
    ).toHaveLength(1);
    const input = await cli(['predict', VIT, '--input', '[1]']);
    expect(input.exitCode).toBe(2);
    expect(input.stderr).toMatch(/takes image files, not --input/);
  });
});
