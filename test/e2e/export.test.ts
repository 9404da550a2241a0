import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { Family } from '../../src/convert/families.js';
import { buildSources, converterRoot, familyPython, type Case } from '../convert/env.js';
import { FIXTURES, cli, fileDir } from '../helpers.js';

/**
 * The proof: for every framework, `modelctl export` with the real converter, then `modelctl predict --json`
 * (onnxruntime-node, no flags: task, labels, tokenizer and feature names come from the embedded metadata) agrees with
 * the source framework's own prediction within 1e-4, labels equal.
 */

const TOL = 1e-4;
const dir = fileDir;

function close(actual: number[], expected: number[]): void {
  expect(actual).toHaveLength(expected.length);
  const worst = Math.max(...actual.map((a, i) => Math.abs(a - (expected[i] as number))));
  expect(worst).toBeLessThanOrEqual(TOL);
}

interface Exported {
  home: string;
  name: string;
  doc: Record<string, any>;
}

async function exportCase(family: Family, c: Case, src: string, name: string, extra: string[] = []): Promise<Exported> {
  const root = converterRoot() as string;
  const home = dir('modelctl-export-home-');
  const r = await cli(['export', join(src, c.file), '--name', name, '--python', familyPython(root, family), '--json', ...extra], { home });
  expect(r.exitCode, r.stderr).toBe(0);
  const doc = JSON.parse(r.stdout);
  expect(doc.validation.passed).toBe(true);
  expect(doc.validation.max_abs_diff).toBeLessThanOrEqual(TOL);
  expect(doc.manifest.lineage).toMatchObject({ operation: 'export', source: { kind: 'path' }, converter: { name: doc.converter.name } });
  expect(doc.manifest.lineage.source.sha256).toMatch(/^[0-9a-f]{64}$/);
  return { home, name, doc };
}

async function predict(e: Exported, args: string[]): Promise<Record<string, any>> {
  const r = await cli(['predict', e.name, ...args, '--json'], { home: e.home });
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

const IRIS = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];

/** `named`: rows are sent as {feature: value} objects, which predict can only read with the embedded names. */
async function tabular(family: Family, caseName: string, converter: string, named?: string[]): Promise<void> {
  const src = dir(`modelctl-src-${family}-`);
  const cases = await buildSources(converterRoot() as string, family, src);
  const c = cases[caseName] as Case;
  const e = await exportCase(family, c, src, caseName);
  expect(e.doc.converter.name).toBe(converter);
  const rows = named ? (c.inputs as number[][]).map((r) => Object.fromEntries(named.map((n, i) => [n, r[i]]))) : c.inputs;
  const out = await predict(e, ['--input', JSON.stringify(rows)]);
  if (out.task === 'tabular-regression') {
    expect(e.doc.task).toBe('tabular-regression');
    close(
      out.predictions.map((p: { value: number }) => p.value),
      c.expected as number[],
    );
    return;
  }
  expect(out.task).toBe('tabular-classification');
  const expected = c.expected as Array<{ label: number; probabilities: number[] }>;
  expect(out.predictions.map((p: { label: number }) => p.label)).toEqual(expected.map((x) => x.label));
  for (const [i, p] of out.predictions.entries())
    close(Object.values(p.probabilities as Record<string, number>), (expected[i] as { probabilities: number[] }).probabilities);
}

describe('modelctl export then predict, with the real converters (spawned binary)', () => {
  it('scikit-learn pipeline (StandardScaler + LogisticRegression) through skl2onnx', async () => {
    if (!converterRoot()) return;
    await tabular('sklearn', 'sklearn-pipeline', 'skl2onnx');
  }, 180_000);

  it('scikit-learn regressor through skl2onnx', async () => {
    if (!converterRoot()) return;
    await tabular('sklearn', 'sklearn-regressor', 'skl2onnx');
  }, 180_000);

  it.each([
    ['sklearn-parity-logistic', 'StandardScaler + LogisticRegression, 38 iris rows'],
    ['sklearn-parity-gbc', 'StandardScaler + GradientBoostingClassifier, 45 held-out wine rows'],
    ['sklearn-parity-regressor', 'DecisionTreeRegressor, 37 diabetes rows'],
  ])(
    'parity with scikit-learn predict/predict_proba: %s (%s)',
    async (caseName) => {
      if (!converterRoot()) return;
      await tabular('sklearn', caseName, 'skl2onnx');
    },
    180_000,
  );

  it('XGBoost classifier through onnxmltools, feature names embedded', async () => {
    if (!converterRoot()) return;
    await tabular('xgboost', 'xgboost', 'onnxmltools', IRIS);
  }, 180_000);

  it('LightGBM classifier through onnxmltools, feature names embedded', async () => {
    if (!converterRoot()) return;
    await tabular('lightgbm', 'lightgbm', 'onnxmltools', IRIS);
  }, 180_000);

  it('PyTorch module (state_dict + --model-class, loaded with weights_only=True) through torch.onnx', async () => {
    const root = converterRoot();
    if (!root) return;
    const src = dir('modelctl-src-torch-');
    const c = (await buildSources(root, 'torch', src)).torch as Case;
    const e = await exportCase('torch', c, src, 'tiny-net', ['--model-class', c.model_class as string, '--input-shape', '2,4']);
    expect(e.doc.converter.name).toBe('torch.onnx');
    const out = await predict(e, ['--input', JSON.stringify({ input: c.inputs })]);
    expect(out.task).toBe('raw');
    close(out.outputs.output.data, (c.expected as number[][]).flat());
  }, 240_000);

  it('Keras model through tf2onnx', async () => {
    const root = converterRoot();
    if (!root) return;
    const src = dir('modelctl-src-tf-');
    const c = (await buildSources(root, 'tf', src)).keras as Case;
    const e = await exportCase('tf', c, src, 'tiny-keras');
    expect(e.doc.converter.name).toBe('tf2onnx');
    const out = await predict(e, ['--input', JSON.stringify({ input: c.inputs })]);
    close((Object.values(out.outputs)[0] as { data: number[] }).data, (c.expected as number[][]).flat());
  }, 240_000);

  it('tiny Transformers models through optimum: text-classification and feature-extraction, tasks inferred', async () => {
    const root = converterRoot();
    if (!root) return;
    const src = dir('modelctl-src-hf-');
    const cases = await buildSources(root, 'hf', src);
    const cls = cases['hf-text-classification'] as Case;
    const e = await exportCase('hf', cls, src, 'bert-cls');
    expect(e.doc).toMatchObject({ task: 'text-classification', converter: { name: 'optimum' } });
    const out = await predict(e, cls.inputs as string[]);
    for (const [i, p] of out.predictions.entries()) {
      const expected = cls.expected[i] as Record<string, number>;
      const labels = p.labels as Array<{ label: string; score: number }>;
      expect(labels.map((l) => l.label).sort()).toEqual(Object.keys(expected).sort());
      close(
        labels.map((l) => l.score),
        labels.map((l) => expected[l.label] as number),
      );
    }
    const emb = cases['hf-feature-extraction'] as Case;
    const e2 = await exportCase('hf', emb, src, 'bert-embed');
    expect(e2.doc.task).toBe('feature-extraction');
    const out2 = await predict(e2, emb.inputs as string[]);
    for (const [i, p] of out2.predictions.entries()) close(p.embedding, emb.expected[i] as number[]);
  }, 300_000);
});

describe('modelctl export of image, audio and pad-less text models: validation inputs from their own preprocessors', () => {
  it('ViT (image processor), Wav2Vec2 (feature extractor) and GPT-2 (no pad token) export and validate; the ViT predicts', async () => {
    const root = converterRoot();
    if (!root) return;
    const src = dir('modelctl-src-hf-media-');
    const cases = await buildSources(root, 'hf', src, 'hf-media');
    const files = (e: Exported): string[] => e.doc.manifest.files.map((f: { path: string }) => f.path);
    const vit = await exportCase('hf', cases['hf-image-classification'] as Case, src, 'vit-tiny');
    expect(vit.doc).toMatchObject({ task: 'image-classification', validation: { samples: 3 } });
    expect(Object.keys(vit.doc.validation.outputs)).toEqual(['logits']);
    expect(files(vit)).toContain('preprocessor_config.json');
    const image = join(dir('modelctl-img-'), 'wide.png');
    await sharp({ create: { width: 50, height: 30, channels: 3, background: { r: 200, g: 30, b: 90 } } })
      .png()
      .toFile(image);
    const out = await predict(vit, [image]);
    expect(out.predictions[0].labels.map((l: { label: string }) => l.label).sort()).toEqual(['bird', 'cat', 'dog']);

    // Images one pixel wide or high as samples: the processor is told they are channels last, not left to guess.
    const samples = dir('modelctl-samples-');
    const tiny = [join(samples, 'one.png'), join(samples, 'row.png')];
    await sharp({ create: { width: 1, height: 1, channels: 3, background: { r: 9, g: 99, b: 199 } } })
      .png()
      .toFile(tiny[0] as string);
    await sharp({ create: { width: 3, height: 1, channels: 3, background: { r: 250, g: 5, b: 5 } } })
      .png()
      .toFile(tiny[1] as string);
    writeFileSync(join(samples, 'images.json'), JSON.stringify(tiny));
    const small = await exportCase('hf', cases['hf-image-classification'] as Case, src, 'vit-tiny', [
      '--sample-input',
      join(samples, 'images.json'),
    ]);
    expect(small.doc.validation.samples).toBe(2);

    const w2v = await exportCase('hf', cases['hf-audio-classification'] as Case, src, 'wav2vec2-tiny');
    expect(w2v.doc).toMatchObject({ task: 'audio-classification', validation: { samples: 2 } });
    expect(files(w2v)).toContain('preprocessor_config.json');
    // An empty waveform is the user's mistake (exit 2), not a failed conversion.
    writeFileSync(join(samples, 'empty.json'), '[[0.1, 0.2], []]');
    const empty = await cli(
      [
        'export',
        join(src, (cases['hf-audio-classification'] as Case).file),
        '--name',
        'w',
        '--python',
        familyPython(root, 'hf'),
        '--sample-input',
        join(samples, 'empty.json'),
      ],
      { home: dir('modelctl-export-home-') },
    );
    expect(empty.exitCode, empty.stderr).toBe(2);
    expect(empty.stderr).toMatch(/an empty waveform/);

    const gpt2 = await exportCase('hf', cases['hf-text-generation'] as Case, src, 'gpt2-tiny');
    expect(gpt2.doc).toMatchObject({ task: 'text-generation', validation: { samples: 2 } });
  }, 400_000);

  it('without Pillow the image processor config is carried over with a warning, and validation names Pillow (exit 6)', async () => {
    const root = converterRoot();
    if (!root) return;
    const src = dir('modelctl-src-hf-media-');
    await buildSources(root, 'hf', src, 'hf-media');
    // What an interpreter without Pillow looks like to transformers and optimum: `import PIL` fails.
    const hide = dir('modelctl-no-pillow-');
    writeFileSync(join(hide, 'sitecustomize.py'), 'import sys\nsys.modules["PIL"] = None\n');
    const env = { PYTHONPATH: hide };
    const args = ['export', join(src, 'vit-tiny'), '--name', 'vit', '--python', familyPython(root, 'hf')];
    const home = dir('modelctl-export-home-');
    const failed = await cli(args, { home, env });
    expect(failed.exitCode, failed.stderr).toBe(6);
    expect(failed.stderr).toMatch(/cannot import PIL: .*PIL library/);
    const r = await cli([...args, '--no-validate', '--json'], { home, env });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/optimum did not save preprocessor_config\.json .*Pillow is not installed/);
    expect(JSON.parse(r.stdout).manifest.files.map((f: { path: string }) => f.path)).toContain('preprocessor_config.json');
  }, 400_000);
});

describe('modelctl export on the committed fixtures of the other formats (spawned binary)', () => {
  it.each([
    ['keras-h5', 'tf', 'tf2onnx'],
    ['tf-savedmodel', 'tf', 'tf2onnx'],
    ['xgboost-ubj', 'xgboost', 'onnxmltools'],
    ['sklearn-pickle', 'sklearn', 'skl2onnx'],
  ] as const)(
    '%s (family %s): detected, converted by %s, validated against the source within 1e-4',
    async (fixture, family, converter) => {
      const root = converterRoot();
      if (!root) return;
      const home = dir('modelctl-export-home-');
      const r = await cli(
        ['export', join(FIXTURES, fixture), '--name', fixture, '--python', familyPython(root, family as Family), '--json'],
        { home },
      );
      expect(r.exitCode, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout);
      expect(doc.converter.name).toBe(converter);
      expect(doc.validation).toMatchObject({ passed: true });
      expect(doc.validation.max_abs_diff).toBeLessThanOrEqual(TOL);
      expect(doc.manifest).toMatchObject({ name: fixture, format: 'onnx', lineage: { operation: 'export', source: { kind: 'path' } } });
    },
    180_000,
  );
});
