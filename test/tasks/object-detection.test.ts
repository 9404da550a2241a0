import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/predict/predict.js';
import { decodeImage } from '../../src/tasks/image.js';
import {
  detectionSetup,
  letterbox,
  letterboxGeometry,
  nms,
  parseUltralyticsNames,
  roundHalfEven,
  type Detection,
} from '../../src/tasks/object-detection.js';
import { readOnnxSummary } from '../../src/onnx/summary.js';
import { FIXTURES, cli } from '../helpers.js';
import { rejects } from './helpers.js';

/** yolo-tiny: an untrained Ultralytics detector and generate.py's Ultralytics-style post-processing of onnxruntime's output. */
const DIR = join(FIXTURES, 'yolo-tiny');
const MODEL = join(DIR, 'model.onnx');
interface Reference {
  imgsz: number;
  conf: number;
  iou: number;
  max_det: number;
  names: Record<string, string>;
  inputs: { images: { file: string; shape: number[]; data: number[] } };
  images: Array<{
    file: string;
    size: [number, number];
    letterbox: { scale: number; pad: [number, number]; sum: number; max_abs_diff_cv2: number };
    candidates: number;
    detections: Array<Omit<Detection, 'box'> & { box: number[] }>;
  }>;
}
const REF = (
  JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as { fixtures: Record<string, { facts: { reference: Reference } }> }
).fixtures['yolo-tiny']!.facts.reference;
const FILES = REF.images.map((i) => join(DIR, i.file));

function expectSameDetections(actual: readonly Detection[], expected: Reference['images'][number]['detections'], what: string): void {
  expect(actual.length, what).toBe(expected.length);
  actual.forEach((d, i) => {
    const want = expected[i]!;
    expect(d.class_id, `${what} #${i}`).toBe(want.class_id);
    expect(d.label, `${what} #${i}`).toBe(want.label);
    expect(Math.abs(d.score - want.score), `${what} #${i} score`).toBeLessThan(1e-3);
    d.box.forEach((v, k) => expect(Math.abs(v - (want.box[k] as number)), `${what} #${i} box[${k}]`).toBeLessThan(1));
  });
}

describe('object-detection against the Python reference', () => {
  it('the fixture exercises thresholds, NMS and both classes', () => {
    for (const im of REF.images) {
      expect(im.detections.length, im.file).toBeGreaterThan(0);
      expect(im.detections.length, im.file).toBeLessThan(im.candidates); // NMS removed some
      expect(new Set(im.detections.map((d) => d.label)), im.file).toEqual(new Set(['cat', 'dog']));
    }
  });

  it('yolo-tiny: every image gets the reference detections (classes, scores within 1e-3, boxes within 1 px)', async () => {
    const r = await predict({ model: MODEL, input: { kind: 'images', files: FILES }, threads: 1, conf: REF.conf, iou: REF.iou });
    expect(r.task).toBe('object-detection');
    expect(r.taskReason).toBe('Ultralytics metadata task: detect');
    expect(r.predictions).toHaveLength(REF.images.length);
    r.predictions!.forEach((p, i) => expectSameDetections(p.detections!, REF.images[i]!.detections, REF.images[i]!.file));
  });

  it('--conf keeps only the detections above it; a higher --iou keeps at least as many', async () => {
    const r = await predict({ model: MODEL, input: { kind: 'images', files: FILES }, threads: 1, conf: 0.9 });
    r.predictions!.forEach((p, i) =>
      expectSameDetections(
        p.detections!,
        REF.images[i]!.detections.filter((d) => d.score > 0.9),
        REF.images[i]!.file,
      ),
    );
    const loose = await predict({ model: MODEL, input: { kind: 'images', files: FILES }, threads: 1, iou: 0.9 });
    loose.predictions!.forEach((p, i) => expect(p.detections!.length).toBeGreaterThanOrEqual(REF.images[i]!.detections.length));
  });

  // generate.py's letterbox resizes in float64 and differs from cv2's fixed point by up to max_abs_diff_cv2 per value;
  // modelctl follows cv2 itself, which test/parity/object-detection.test.ts checks byte for byte at test time.
  it('letterboxes as the reference: the same scale and padding, the same pixels up to cv2 rounding', async () => {
    const setup = detectionSetup(await readOnnxSummary(MODEL));
    expect(setup).toEqual({ input: 'images', height: REF.imgsz, width: REF.imgsz, names: { 0: 'cat', 1: 'dog' }, batch: 1 });
    for (const im of REF.images) {
      const rgb = await decodeImage(join(DIR, im.file));
      const g = letterboxGeometry(rgb.width, rgb.height, setup);
      expect(g.scale, im.file).toBeCloseTo(im.letterbox.scale, 12);
      expect([g.left, g.top], im.file).toEqual(im.letterbox.pad);
      const pixels = Array.from(letterbox(rgb, setup), (v) => Math.round(v * 255));
      const resized = g.width !== rgb.width || g.height !== rgb.height;
      const sum = pixels.reduce((a, v) => a + v, 0);
      if (resized)
        expect(Math.abs(sum - im.letterbox.sum), im.file).toBeLessThanOrEqual(g.width * g.height * 3 * im.letterbox.max_abs_diff_cv2);
      else expect(sum, im.file).toBe(im.letterbox.sum);
      if (im.file === REF.inputs.images.file) expect(pixels).toEqual(REF.inputs.images.data.map((v) => Math.round(v * 255)));
    }
  });
});

describe('object-detection pieces', () => {
  it('letterbox arithmetic: Python rounding, centred padding, the odd pixel after', () => {
    expect(letterboxGeometry(640, 480, { width: 640, height: 640 })).toEqual({ scale: 1, width: 640, height: 480, left: 0, top: 80 });
    expect(letterboxGeometry(1280, 720, { width: 640, height: 640 })).toEqual({ scale: 0.5, width: 640, height: 360, left: 0, top: 140 });
    // 96x150 into 64: scale 64/150, width 40.96 -> 41, padding 23 split 11 before, 12 after.
    expect(letterboxGeometry(96, 150, { width: 64, height: 64 })).toMatchObject({ width: 41, height: 64, left: 11, top: 0 });
    // 100x10 into 64: height 6.4 -> 6, padding 58 -> 29 each side.
    expect(letterboxGeometry(100, 10, { width: 64, height: 64 })).toMatchObject({ width: 64, height: 6, left: 0, top: 29 });
    // 1x3000: 0.02 pixels wide rounds to 0, and LetterBox keeps a side at least 1 pixel.
    expect(letterboxGeometry(1, 3000, { width: 64, height: 64 })).toMatchObject({ width: 1, height: 64, left: 31, top: 0 });
    expect([0.5, 1.5, 2.5, -0.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, 0, 2, 3]);
  });

  it('NMS suppresses overlaps within a class only, best score first', () => {
    const boxes = [
      [0, 0, 10, 10], // 0: 0.9 cat
      [1, 1, 11, 11], // 1: 0.8 cat, IoU 81/119 = 0.68 with 0 -> dropped
      [1, 1, 11, 11], // 2: 0.7 dog: another class, kept
      [5, 0, 15, 10], // 3: 0.6 cat, IoU 50/150 = 0.33 with 0 -> kept
      [20, 20, 30, 30], // 4: 0.95 cat, far away
    ];
    expect(nms(boxes, [0.9, 0.8, 0.7, 0.6, 0.95], [0, 0, 1, 0, 0], 0.45)).toEqual([4, 0, 2, 3]);
    expect(nms(boxes, [0.9, 0.8, 0.7, 0.6, 0.95], [0, 0, 1, 0, 0], 0.3)).toEqual([4, 0, 2]);
    expect(nms(boxes, [0.9, 0.8, 0.7, 0.6, 0.95], [0, 0, 1, 0, 0], 0.7)).toEqual([4, 0, 1, 2, 3]);
  });

  it('reads the class names Ultralytics writes, or id2label', () => {
    expect(parseUltralyticsNames("{0: 'person', 1: 'traffic light', 2: \"it's\"}")).toEqual({ 0: 'person', 1: 'traffic light', 2: "it's" });
    expect(parseUltralyticsNames('nothing')).toBeUndefined();
    const summary = {
      inputs: [{ name: 'images', kind: 'tensor' as const, dtype: 'float32', shape: ['batch', 3, 'h', 'w'] }],
      metadataProps: { imgsz: '[320, 480]' },
    };
    expect(detectionSetup(summary, { id2label: { 0: 'a', 1: 'b' } })).toEqual({
      input: 'images',
      height: 320,
      width: 480,
      names: { 0: 'a', 1: 'b' },
    });
  });

  it('refuses a model that is not an image detector and bad thresholds, in one line', async () => {
    await rejects(
      predict({ model: join(FIXTURES, 'iris-logreg', 'model.onnx'), task: 'object-detection', input: { kind: 'images', files: FILES } }),
      'INVALID_INPUT',
      /^the model does not take one image tensor \[batch, 3, height, width\] \(it takes input float32\[\?, 4\]\)$/,
    );
    await rejects(
      predict({ model: MODEL, input: { kind: 'images', files: FILES }, conf: 2 }),
      'USAGE',
      /^--conf must be a number from 0 to 1, not 2$/,
    );
    await rejects(
      predict({ model: MODEL, input: { kind: 'texts', texts: ['a cat'] } }),
      'INVALID_INPUT',
      /^an object-detection model takes image files$/,
    );
  });
});

describe('modelctl predict (object-detection)', () => {
  it('--json prints the detections; the table has IMAGE, CLASS, SCORE, BOX', async () => {
    const json = await cli(['predict', MODEL, ...FILES, '--json', '--threads', '1']);
    expect(json.stderr).toBe('');
    expect(json.exitCode).toBe(0);
    const r = JSON.parse(json.stdout) as { task: string; predictions: Array<{ detections: Detection[] }> };
    expect(r.task).toBe('object-detection');
    r.predictions.forEach((p, i) => expectSameDetections(p.detections, REF.images[i]!.detections, REF.images[i]!.file));

    const table = await cli(['predict', MODEL, FILES[0]!, '--conf', '0.9', '--iou', '0.45', '--table']);
    expect(table.exitCode).toBe(0);
    const lines = table.stdout.split('\n');
    expect(lines[0]).toMatch(/^IMAGE\s+CLASS\s+SCORE\s+BOX/);
    expect(lines.length - 1).toBe(REF.images[0]!.detections.filter((d) => d.score > 0.9).length + (table.stdout.includes('──') ? 1 : 0));

    const bad = await cli(['predict', MODEL, FILES[0]!, '--conf', 'high']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/--conf takes a number from 0 to 1, got "high"/);
  });
});
