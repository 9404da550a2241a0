import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, tempDir } from '../helpers.js';
import { CLASSIFIER, CLASSIFIER_REF, EMBEDDER, EMBEDDER_REF, expectClose, softmax } from './helpers.js';

// The spawned binary (dist/, built by `npm test`), like test/e2e: text tasks end to end.
describe('modelctl predict on texts (spawned binary)', () => {
  it('classifies texts: --json gives the PredictResult with scores equal to transformers’; the table shows the best label', async () => {
    const json = await cli(['predict', CLASSIFIER, ...CLASSIFIER_REF.sentences, '--json', '--threads', '1']);
    expect(json.exitCode, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout);
    expect(doc).toMatchObject({ model: CLASSIFIER, task: 'text-classification', provider: 'cpu' });
    expect(doc.predictions).toHaveLength(2);
    doc.predictions.forEach((p: { labels: Array<{ label: string; score: number }> }, i: number) => {
      const want = softmax(CLASSIFIER_REF.transformers.logits[i]!);
      expect(p.labels.map((l) => l.label)).toEqual(['positive', 'negative']);
      expectClose(
        p.labels.map((l) => l.score),
        [want[1]!, want[0]!],
        1e-4,
      );
    });
    const table = await cli(['predict', CLASSIFIER, 'the model was great', '--top-k', '2', '--table']);
    expect(table.exitCode, table.stderr).toBe(0);
    expect(
      table.stdout
        .trim()
        .split('\n')
        .map((l) => l.replace(/\d\.\d{4}$/, 'S')),
    ).toEqual(['TEXT                 LABEL     SCORE', 'the model was great  positive  S', '                     negative  S']);
  });

  it('embeds a .txt file as a stream in batches (JSON Lines), warns about truncation on stderr, and refuses a model without a tokenizer', async () => {
    const dir = tempDir();
    const file = join(dir, 'texts.txt');
    writeFileSync(file, `${EMBEDDER_REF.sentences.join('\n')}\n\n${EMBEDDER_REF.truncation.sentence}\n`);
    const r = await cli(['predict', EMBEDDER, '--file', file, '--batch-size', '2', '--normalize', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^warning: 1 text was longer than the model takes and was truncated/);
    const records = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { line: number; embedding: number[]; truncated?: boolean });
    // One record per non-blank line, numbered by the line it came from (line 4 is blank).
    expect(records.map((d) => d.line)).toEqual([1, 2, 3, 5]);
    expectClose(records[3]!.embedding, EMBEDDER_REF.truncation.normalized, 1e-4);
    expect(records[3]!.truncated).toBe(true);
    const human = await cli(['predict', EMBEDDER, 'the model was great', '--table']);
    expect(human.stdout.split('\n')[1]).toMatch(/^the model was great {2}32 {3}\[1\.2595, -0\.9972, -0\.5107, -0\.1829, …\]$/);
    copyFileSync(CLASSIFIER, join(dir, 'model.onnx'));
    const bare = await cli(['predict', join(dir, 'model.onnx'), '--task', 'text-classification', 'hi']);
    expect(bare.exitCode).toBe(2);
    expect(bare.stderr).toMatch(/^error: no tokenizer for .*model\.onnx: tokenizer\.json is neither embedded/);
    expect(bare.stderr).toMatch(/hint: .*modelctl embed-metadata .*--from-dir DIR/);
  });
});
