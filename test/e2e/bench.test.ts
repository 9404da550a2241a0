import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES, cli, tempDir } from '../helpers.js';

const BERT = join(FIXTURES, 'optimum-bert', 'model.onnx');
const QUICK = ['--warmup', '1', '--iterations', '5'];

/** The one baseline file of a version (the test saves one configuration). */
function baselineFile(home: string, model: string, version: string): string {
  const dir = join(home, 'bench', model, version);
  const files = readdirSync(dir);
  expect(files).toHaveLength(1);
  return join(dir, files[0] as string);
}

function setP50(path: string, p50: number): void {
  const b = JSON.parse(readFileSync(path, 'utf8'));
  b.latencyMs.p50 = p50;
  writeFileSync(path, JSON.stringify(b));
}

describe('modelctl bench (spawned binary)', () => {
  it('prints a table for people and one JSON document for scripts', async () => {
    const table = await cli(['bench', BERT, '--batch-sizes', '1,4', '--seq-len', '16', '--threads', '1', ...QUICK]);
    expect(table.exitCode, table.stderr).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[2]).toMatch(
      /^MODEL\s+DEVICE\s+THREADS\s+BATCH\s+SESSION\s+MEAN\s+MIN\s+P50\s+P90\s+P95\s+P99\s+MAX\s+ITEMS\/S\s+PEAK RSS\s+GROWTH$/,
    );
    expect(lines[3]).toMatch(/^model\.onnx\s+cpu\s+1\s+1\s/);
    expect(lines[4]).toMatch(/^model\.onnx\s+cpu\s+1\s+4\s/);
    const json = await cli(['bench', BERT, '--batch-sizes', '2', '--shape', 'sequence_length=8', '--json', ...QUICK]);
    expect(json.exitCode, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout);
    expect(doc.results).toHaveLength(1);
    expect(doc.results[0]).toMatchObject({
      variant: 'model.onnx',
      device: 'cpu',
      provider: 'cpu',
      threads: null,
      batch: 2,
      latencyMs: { count: 5 },
    });
    expect(doc.results[0].inputs.map((i: { dims: number[] }) => i.dims)).toEqual([
      [2, 8],
      [2, 8],
      [2, 8],
    ]);
    for (const k of ['mean', 'min', 'p50', 'p90', 'p95', 'p99', 'max']) expect(typeof doc.results[0].latencyMs[k]).toBe('number');
    expect(Object.keys(doc.results[0].memory).sort()).toEqual(['growthBytes', 'peakRssBytes', 'rssAfterSessionBytes']);
    expect(doc.host).toMatchObject({ platform: process.platform, arch: process.arch });
  });

  it('--vs runs two models interleaved and prints their ratios', async () => {
    const home = tempDir();
    for (const v of ['1.0.0', '1.1.0'])
      expect((await cli(['register', BERT, '--name', 'bert', '--version', v], { home })).exitCode).toBe(0);
    const r = await cli(['bench', 'bert:1.0.0', '--vs', 'bert:1.1.0', '--seq-len', '8', ...QUICK, '--json'], { home });
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.results.map((x: { variant: string }) => x.variant)).toEqual(['bert:1.0.0', 'bert:1.1.0']);
    expect(doc.comparisons).toHaveLength(1);
    expect(doc.comparisons[0]).toMatchObject({ batch: 1, base: 'bert:1.0.0', other: 'bert:1.1.0' });
    const table = await cli(['bench', 'bert', '--vs', 'threads=1', '--seq-len', '8', ...QUICK], { home });
    expect(table.exitCode, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^1\s+threads=1 \/ threads=auto\s+\d+\.\d\dx\s+\d+\.\d\dx\s+\d+\.\d\dx$/m);
  });

  it('--e2e times tokenization, the model and postprocessing apart on real texts', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'texts.txt'), 'a fine day\nthe worst service I have had\n');
    const r = await cli(['bench', BERT, '--e2e', '--file', join(dir, 'texts.txt'), '--batch-sizes', '2', ...QUICK, '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const [x] = JSON.parse(r.stdout).results;
    expect(Object.keys(x.stages)).toEqual(['tokenize', 'inference', 'postprocess']);
    for (const s of Object.values(x.stages) as Array<{ count: number }>) expect(s.count).toBe(5);
    expect(x.inputs[0]).toMatchObject({ name: 'input_ids', type: 'int64', fill: '2 real texts, tokenized and padded' });
    const vit = join(FIXTURES, 'optimum-vit-tiny');
    const img = await cli(['bench', join(vit, 'model.onnx'), '--e2e', '--file', join(vit, 'gradient.png'), ...QUICK, '--json']);
    expect(img.exitCode, img.stderr).toBe(0);
    expect(Object.keys(JSON.parse(img.stdout).results[0].stages)).toEqual(['preprocess', 'inference', 'postprocess']);
  });

  it('--e2e on entities, answers, detections and tabular rows: the task call timed whole, the model runs inside it apart', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'rows.csv'), 'a,b,c,d\n5.1,3.5,1.4,0.2\n6.3,3.3,6.0,2.5\n');
    const cases: Array<[string, string[], string]> = [
      ['optimum-bert-ner', [], 'real texts, entities grouped (simple)'],
      ['optimum-bert-qa', [], 'question/context pairs, long contexts in windows'],
      ['yolo-tiny', ['--file', join(FIXTURES, 'yolo-tiny', 'wide.png')], '1 real image: decode, letterbox, NMS'],
      ['iris-logreg', ['--file', join(dir, 'rows.csv')], '2 real rows'],
      ['sklearn-zipmap', [], 'seeded rows of values in [0, 10)'],
    ];
    for (const [fixture, extra, fill] of cases) {
      const r = await cli(['bench', join(FIXTURES, fixture, 'model.onnx'), '--e2e', ...extra, ...QUICK, '--json']);
      expect(r.exitCode, `${fixture}: ${r.stderr}`).toBe(0);
      const [x] = JSON.parse(r.stdout).results;
      expect(Object.keys(x.stages), fixture).toEqual(['preprocess', 'inference', 'postprocess']);
      for (const s of Object.values(x.stages) as Array<{ count: number; min: number }>) {
        expect(s.count).toBe(5);
        expect(s.min).toBeGreaterThanOrEqual(0);
      }
      expect(x.inputs[0].fill, fixture).toContain(fill);
    }
    // A static batch of 1 takes three images in three runs, as predict does.
    const three = await cli([
      'bench',
      join(FIXTURES, 'yolo-tiny', 'model.onnx'),
      '--e2e',
      '--file',
      join(FIXTURES, 'yolo-tiny', 'wide.png'),
      '--batch-sizes',
      '3',
      ...QUICK,
      '--json',
    ]);
    expect(three.exitCode, three.stderr).toBe(0);
    // --file of the wrong kind is refused, never replaced by the built-in samples.
    const wrongKind = await cli(['bench', BERT, '--e2e', '--file', join(FIXTURES, 'yolo-tiny', 'wide.png'), ...QUICK]);
    expect(wrongKind.exitCode).toBe(2);
    expect(wrongKind.stderr).toMatch(/^error: --e2e on a text-classification model does not read images/);
    const noImage = await cli(['bench', join(FIXTURES, 'yolo-tiny', 'model.onnx'), '--e2e', ...QUICK]);
    expect(noImage.exitCode).toBe(2);
    expect(noImage.stderr).toMatch(/^error: --e2e on an object-detection model needs images/);
  });

  it('the CI gate: exit 0 within the tolerance, 1 beyond it, 3 without a baseline, 4 for a damaged one, 2 for bad flags', async () => {
    const home = tempDir();
    await cli(['register', BERT, '--name', 'bert'], { home });
    const flags = ['--seq-len', '8', '--threads', '1', ...QUICK];
    const none = await cli(['bench', 'bert', ...flags, '--fail-if-slower', '10%'], { home });
    expect(none.exitCode).toBe(3);
    expect(none.stderr).toMatch(/^error: no benchmark baseline for bert:1\.0\.0 at batch 1 on cpu with 1 threads/);
    const save = await cli(['bench', 'bert', ...flags, '--save-baseline'], { home });
    expect(save.exitCode, save.stderr).toBe(0);
    expect(save.stdout).toMatch(/saved 1 baseline with bert:1\.0\.0/);
    const file = baselineFile(home, 'bert', '1.0.0');
    // Timings are never asserted: the stored median is set far away on either side, so the verdict cannot depend on this machine's speed.
    setP50(file, 1e6);
    const pass = await cli(['bench', 'bert', ...flags, '--fail-if-slower', '10%', '--json'], { home });
    expect(pass.exitCode, pass.stderr).toBe(0);
    expect(JSON.parse(pass.stdout).baselines).toMatchObject({
      failed: false,
      verdicts: [{ regressed: false, tolerance: 0.1, baselineMs: 1e6 }],
    });
    setP50(file, 1e-6);
    const fail = await cli(['bench', 'bert', ...flags, '--fail-if-slower', '10%'], { home });
    expect(fail.exitCode).toBe(1);
    expect(fail.stdout).toMatch(/slower by more than 10%/);
    expect(fail.stderr).toMatch(/^error: slower than the baseline: median latency [\d.]+% above it \(tolerance 10%\)$/m);
    const compare = await cli(['bench', 'bert', ...flags, '--baseline'], { home });
    expect(compare.exitCode, compare.stderr).toBe(0);
    const other = await cli(['bench', 'bert', '--seq-len', '16', '--threads', '1', ...QUICK, '--fail-if-slower', '10%'], { home });
    expect(other.exitCode).toBe(3);
    writeFileSync(file, '{oops');
    const broken = await cli(['bench', 'bert', ...flags, '--fail-if-slower', '10%'], { home });
    expect(broken.exitCode).toBe(4);
    expect(broken.stderr).toMatch(/is not valid JSON/);
    for (const args of [
      ['bench', 'bert', '--fail-if-slower', 'fast'],
      ['bench', 'bert', '--save-baseline', '--baseline'],
      ['bench', BERT, '--save-baseline'],
      ['bench', 'bert', '--vs', 'bert', '--save-baseline'],
      ['bench', 'bert', '--batch-sizes', '0'],
      ['bench', 'bert', '--seq-len', '65'],
      ['bench', 'bert', '--vs', 'cores=2'],
      ['bench', 'bert', '--file', 'x.txt'],
    ]) {
      const r = await cli(args, { home });
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.split('\n')[0]).toMatch(/^error: /);
    }
  });

  it('baselines go with their version: rm removes them, gc sweeps those a racing bench left behind', async () => {
    const home = tempDir();
    for (const v of ['1.0.0', '1.1.0']) await cli(['register', BERT, '--name', 'org/bert', '--version', v], { home });
    for (const v of ['1.0.0', '1.1.0'])
      expect((await cli(['bench', `org/bert:${v}`, '--seq-len', '8', ...QUICK, '--save-baseline'], { home })).exitCode).toBe(0);
    expect(existsSync(join(home, 'bench', 'org--bert', '1.0.0'))).toBe(true);
    expect((await cli(['rm', 'org/bert:1.0.0', '--yes'], { home })).exitCode).toBe(0);
    expect(existsSync(join(home, 'bench', 'org--bert', '1.0.0'))).toBe(false);
    expect(existsSync(join(home, 'bench', 'org--bert', '1.1.0'))).toBe(true);
    // A bench that saved after an rm of its version: an orphan only gc can see.
    const orphan = join(home, 'bench', 'org--bert', '0.9.0');
    mkdirSync(orphan, { recursive: true });
    writeFileSync(join(orphan, 'cpu-t1-b1-00000000.json'), '{}');
    expect((await cli(['gc'], { home })).exitCode).toBe(0);
    expect(existsSync(orphan)).toBe(false);
    expect(existsSync(join(home, 'bench', 'org--bert', '1.1.0'))).toBe(true);
    expect((await cli(['validate'], { home })).exitCode).toBe(0);
    expect((await cli(['rm', 'org/bert', '--all-versions', '--yes'], { home })).exitCode).toBe(0);
    expect(existsSync(join(home, 'bench', 'org--bert'))).toBe(false);
  });
});
