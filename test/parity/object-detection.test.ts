import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { predict } from '../../src/predict/predict.js';
import { decodeImage } from '../../src/tasks/image.js';
import { letterbox, type Detection } from '../../src/tasks/object-detection.js';
import { FIXTURES, cli, tempDir } from '../helpers.js';
import { writeOddImages } from './odd-images.js';
import { parityPython, reference } from './reference.js';

/**
 * Object detection against Ultralytics' own predict (YOLO(model.onnx, task="detect").predict, computed at test time
 * in .venv-parity) on yolo-tiny: the fixture's two drawn images and real photos of odd sizes and aspect ratios
 * (scikit-learn's china.jpg and flower.jpg, crops and resizes of them as PNG and JPEG, 20x13 to 1000x333, one
 * stored sideways with an EXIF orientation, one CMYK JPEG, one JPEG with a Display P3 profile, a 16-bit grey PNG).
 * Issue 16's tolerances: classes equal, boxes IoU >= 0.99, scores within 1e-4.
 */

const DIR = join(FIXTURES, 'yolo-tiny');
const MODEL = join(DIR, 'model.onnx');
const [CONF, IOU, IMGSZ] = [0.25, 0.45, 64];

interface Answer {
  results: Array<{ file: string; width: number; height: number; detections: Detection[] }>;
  letterboxed: Array<{ file: string; size: number; pixels: number[] }>;
}

function iou(a: readonly number[], b: readonly number[]): number {
  const w = Math.max(0, Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!));
  const h = Math.max(0, Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!));
  const area = (r: readonly number[]): number => (r[2]! - r[0]!) * (r[3]! - r[1]!);
  const union = area(a) + area(b) - w * h;
  // A box clipped to nothing on one side (zero area) matches only the same degenerate box.
  return union > 0 ? (w * h) / union : a.every((v, k) => Math.abs(v - b[k]!) < 1e-4) ? 1 : 0;
}

/**
 * Pairs each reference detection with modelctl's of the same class whose score is within 1e-4 and whose box
 * overlaps most (the order of two near-equal scores is not part of the contract); returns the worst IoU and
 * score difference, and what stayed unpaired on either side.
 */
function compare(actual: readonly Detection[], expected: readonly Detection[]): { minIou: number; maxScore: number; unpaired: string[] } {
  const free = [...actual];
  let [minIou, maxScore] = [1, 0];
  const unpaired: string[] = [];
  for (const want of expected) {
    let best = -1;
    free.forEach((d, k) => {
      if (d.class_id !== want.class_id || d.label !== want.label || Math.abs(d.score - want.score) > 1e-4) return;
      if (best < 0 || iou(d.box, want.box) > iou(free[best]!.box, want.box)) best = k;
    });
    if (best < 0) {
      unpaired.push(`reference ${want.label} ${want.score} [${want.box.join(', ')}]`);
      continue;
    }
    const [got] = free.splice(best, 1) as [Detection];
    minIou = Math.min(minIou, iou(got.box, want.box));
    maxScore = Math.max(maxScore, Math.abs(got.score - want.score));
  }
  for (const d of free) unpaired.push(`modelctl ${d.label} ${d.score} [${d.box.join(', ')}]`);
  return { minIou, maxScore, unpaired };
}

describe('object-detection parity with Ultralytics 8.4 predict', () => {
  it('letterboxes bit for bit as LetterBox (cv2.INTER_LINEAR) on photos and random sizes, at 64 and 101 pixels', {
    timeout: 240_000,
  }, async () => {
    const python = parityPython();
    if (!python) return;
    const photos = tempDir();
    const odd = await writeOddImages(join(DIR, 'wide.png'), tempDir());
    const answer = await reference<Answer>(python, 'yolo_predict', {
      model: MODEL,
      images: [join(DIR, 'wide.png'), join(DIR, 'tall.png'), odd.p3, odd.grey16],
      photos,
      imgsz: IMGSZ,
      conf: CONF,
      iou: IOU,
      letterbox: { sizes: [IMGSZ, 101], noise: { count: 24, seed: 16 } },
    });
    expect(answer.letterboxed.length).toBe(2 * (answer.results.length + 24));
    const mismatched: string[] = [];
    for (const want of answer.letterboxed) {
      const got = Array.from(letterbox(await decodeImage(want.file, undefined, 'opencv'), { width: want.size, height: want.size }), (v) =>
        Math.round(v * 255),
      );
      // ours is channels first, LetterBox's rows of RGB pixels
      const plane = want.size * want.size;
      const diff = want.pixels.reduce((n, v, i) => n + (got[((i % 3) * plane + Math.floor(i / 3)) as number] === v ? 0 : 1), 0);
      if (diff > 0) mismatched.push(`${want.file} at ${want.size}: ${diff} values differ`);
    }
    expect(mismatched).toEqual([]);
  });

  it('the same detections as Ultralytics on drawn images and real photos (library and CLI)', { timeout: 240_000 }, async () => {
    const python = parityPython();
    if (!python) return;
    const photos = tempDir();
    const odd = await writeOddImages(join(DIR, 'wide.png'), tempDir());
    const answer = await reference<Answer>(python, 'yolo_predict', {
      model: MODEL,
      images: [join(DIR, 'wide.png'), join(DIR, 'tall.png'), odd.p3, odd.grey16],
      photos,
      imgsz: IMGSZ,
      conf: CONF,
      iou: IOU,
    });
    const files = answer.results.map((r) => r.file);
    expect(files.length).toBe(14);
    // The case is not trivial: every image has detections, both classes appear, sizes vary up and down.
    expect(answer.results.every((r) => r.detections.length > 0)).toBe(true);
    expect(new Set(answer.results.flatMap((r) => r.detections.map((d) => d.label)))).toEqual(new Set(['cat', 'dog']));
    expect(answer.results.some((r) => Math.max(r.width, r.height) < IMGSZ)).toBe(true);
    // A JPEG stored sideways with EXIF orientation 6: Ultralytics (cv2.imdecode) turns it upright, as sharp does.
    expect(answer.results.find((r) => r.file.includes('exif6'))).toMatchObject({ width: 100, height: 201 });

    const lib = await predict({ model: MODEL, input: { kind: 'images', files }, threads: 1, conf: CONF, iou: IOU });
    const run = await cli(['predict', MODEL, ...files, '--json', '--threads', '1', '--conf', String(CONF), '--iou', String(IOU)]);
    expect(run.exitCode, run.stderr).toBe(0);
    const viaCli = (JSON.parse(run.stdout) as { predictions: Array<{ detections: Detection[] }> }).predictions;
    expect(viaCli.map((p) => p.detections)).toEqual(lib.predictions!.map((p) => p.detections));

    const report = answer.results.map((want, i) => ({ file: want.file, ...compare(lib.predictions![i]!.detections!, want.detections) }));
    for (const r of report) {
      expect(r.unpaired, r.file).toEqual([]);
      expect(r.minIou, r.file).toBeGreaterThanOrEqual(0.99);
      expect(r.maxScore, r.file).toBeLessThanOrEqual(1e-4);
    }
  });
});
