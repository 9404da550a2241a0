import { ModelctlError } from '../errors.js';
import type { OnnxSummary, OnnxValueInfo } from '../onnx/summary.js';
import { decodeImage, mapImages } from './image.js';
import { cvResizeLinear, roundHalfEven } from './resample.js';
import { runSession, tensorOutputs, type RunContext } from './tensors.js';

/**
 * YOLO detectors in the Ultralytics export layout (YOLOv8 and later, without NMS in the graph): images
 * [batch, 3, H, W] float32 RGB 0..1, letterboxed; one output [batch, 4 + classes, anchors] holding cx, cy, w, h in
 * input pixels and one score per class (no objectness). Post-processing follows Ultralytics' predict:
 * non_max_suppression (a confidence threshold on the best class, class-aware NMS, max_det) and scale_boxes.
 */

export interface Detection {
  label: string;
  class_id: number;
  score: number;
  /** x1, y1, x2, y2 in the original image's pixels, clipped to it. */
  box: [number, number, number, number];
}

export interface DetectionPrediction {
  detections: Detection[];
}

export interface DetectionSetup {
  input: string;
  height: number;
  width: number;
  /** Class id -> name (Ultralytics' metadata "names", or config.json's id2label). */
  names: Record<number, string>;
  /** The batch size a static export takes (Ultralytics exports batch 1 unless dynamic). */
  batch?: number;
}

export interface DetectionOptions {
  /** Minimum score of a detection (default 0.25, Ultralytics' predict default). */
  conf?: number;
  /** IoU above which a lower-scored box of the same class is suppressed (default 0.45). */
  iou?: number;
  /** At most this many detections per image (default 300). */
  maxDet?: number;
}

export { roundHalfEven };

/** Ultralytics' LetterBox geometry (centred, scale up allowed): the scale, the resized size (each side at least 1) and the padding before it. */
export function letterboxGeometry(
  width: number,
  height: number,
  target: { width: number; height: number },
): { scale: number; width: number; height: number; left: number; top: number } {
  const scale = Math.min(target.height / height, target.width / width);
  const w = Math.max(roundHalfEven(width * scale), 1);
  const h = Math.max(roundHalfEven(height * scale), 1);
  const left = roundHalfEven((target.width - w) / 2 - 0.1);
  const top = roundHalfEven((target.height - h) / 2 - 0.1);
  return { scale, width: w, height: h, left, top };
}

/** v / 255 for each 8-bit value, as the float32 the division gives. */
const UNIT = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/** 8-bit RGB letterboxed into target as Ultralytics' LetterBox does (gray 114 around), as float32 channels first in 0..1. */
export function letterbox(
  rgb: { data: Uint8Array; width: number; height: number },
  target: { width: number; height: number },
): Float32Array {
  const g = letterboxGeometry(rgb.width, rgb.height, target);
  const plane = target.width * target.height;
  const out = new Float32Array(3 * plane).fill(114 / 255);
  const same = g.width === rgb.width && g.height === rgb.height;
  const pixels = same ? rgb.data : cvResizeLinear(rgb, g.width, g.height);
  for (let y = 0, from = 0; y < g.height; y++) {
    const row = (y + g.top) * target.width + g.left;
    for (let at = row; at < row + g.width; at++, from += 3) {
      out[at] = UNIT[pixels[from] as number] as number;
      out[plane + at] = UNIT[pixels[from + 1] as number] as number;
      out[2 * plane + at] = UNIT[pixels[from + 2] as number] as number;
    }
  }
  return out;
}

const f32 = Math.fround;

/** Ultralytics' class offset for class-aware NMS: boxes of class c are shifted by c * 7680 pixels (max_wh). */
const MAX_WH = 7680;

/**
 * torchvision's nms_kernel IoU, in float32 as it computes on Ultralytics' float32 boxes, each shifted by its class
 * offset first: an IoU within a rounding of the threshold is decided as the reference decides it.
 */
function iou(a: ArrayLike<number>, b: ArrayLike<number>, shiftA: number, shiftB: number): number {
  const p = (r: ArrayLike<number>, k: number, shift: number): number => f32((r[k] as number) + shift);
  const [ax1, ay1, ax2, ay2] = [p(a, 0, shiftA), p(a, 1, shiftA), p(a, 2, shiftA), p(a, 3, shiftA)];
  const [bx1, by1, bx2, by2] = [p(b, 0, shiftB), p(b, 1, shiftB), p(b, 2, shiftB), p(b, 3, shiftB)];
  const w = Math.max(0, f32(Math.min(ax2, bx2) - Math.max(ax1, bx1)));
  const h = Math.max(0, f32(Math.min(ay2, by2) - Math.max(ay1, by1)));
  const inter = f32(w * h);
  const areaA = f32(f32(ax2 - ax1) * f32(ay2 - ay1));
  const areaB = f32(f32(bx2 - bx1) * f32(by2 - by1));
  return f32(inter / f32(f32(areaA + areaB) - inter));
}

/**
 * Greedy class-aware NMS as Ultralytics runs it (torchvision.ops.nms over boxes shifted by class): indices kept,
 * highest score first, equal scores in input order (torchvision sorts stably).
 */
export function nms(
  boxes: ReadonlyArray<ArrayLike<number>>,
  scores: ArrayLike<number>,
  classes: ArrayLike<number>,
  iouThreshold: number,
): number[] {
  const order = Array.from({ length: boxes.length }, (_, i) => i).sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b);
  const kept: number[] = [];
  const shift = (i: number): number => f32((classes[i] as number) * MAX_WH);
  for (const i of order) {
    const box = boxes[i] as ArrayLike<number>;
    if (kept.some((k) => classes[k] === classes[i] && iou(boxes[k] as ArrayLike<number>, box, shift(k), shift(i)) > iouThreshold)) continue;
    kept.push(i);
  }
  return kept;
}

/** `{0: 'person', 1: "traffic light"}` (the Python dict Ultralytics writes) as numbers to names. */
export function parseUltralyticsNames(text: string): Record<number, string> | undefined {
  const out: Record<number, string> = {};
  const entry = /(\d+)\s*:\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")/g;
  let found = false;
  for (const m of text.matchAll(entry)) {
    out[Number(m[1])] = (m[2] ?? m[3] ?? '').replace(/\\(.)/g, '$1');
    found = true;
  }
  return found ? out : undefined;
}

/** The model's image input and class names, checked before ONNX Runtime loads it. */
export function detectionSetup(summary: Pick<OnnxSummary, 'inputs' | 'metadataProps'>, modelConfig?: unknown): DetectionSetup {
  const inputs: OnnxValueInfo[] = summary.inputs;
  const input = inputs.length === 1 && (inputs[0]!.dtype ?? 'float32') === 'float32' ? inputs[0] : undefined;
  const shape = input?.shape;
  if (!input || !shape || shape.length !== 4 || (typeof shape[1] === 'number' && shape[1] !== 3)) {
    const takes = inputs.map((i) => `${i.name} ${i.dtype ?? '?'}[${(i.shape ?? []).map((d) => d ?? '?').join(', ')}]`).join(', ');
    throw new ModelctlError(
      'INVALID_INPUT',
      `the model does not take one image tensor [batch, 3, height, width] (it takes ${takes || 'nothing'})`,
      { hint: 'object-detection runs YOLO models in the Ultralytics export layout; try --task raw' },
    );
  }
  let [height, width] = [shape[2], shape[3]];
  if (typeof height !== 'number' || typeof width !== 'number' || height <= 0 || width <= 0) {
    // A dynamic export: the size it was exported at, from Ultralytics' imgsz ("[640, 640]").
    const sizes = (summary.metadataProps.imgsz ?? '').match(/\d+/g)?.map(Number) ?? [];
    [height, width] = [sizes[0] ?? 640, sizes[1] ?? sizes[0] ?? 640];
  }
  const id2label = (modelConfig as { id2label?: unknown } | undefined)?.id2label;
  const fromConfig =
    id2label && typeof id2label === 'object'
      ? Object.fromEntries(Object.entries(id2label as Record<string, unknown>).map(([k, v]) => [Number(k), String(v)]))
      : undefined;
  const names =
    (summary.metadataProps.names !== undefined ? parseUltralyticsNames(summary.metadataProps.names) : undefined) ?? fromConfig ?? {};
  const batch = typeof shape[0] === 'number' && shape[0] > 0 ? shape[0] : undefined;
  return { input: input.name, height, width, names, ...(batch !== undefined ? { batch } : {}) };
}

function threshold(value: number | undefined, fallback: number, flag: string): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 0 || v > 1)
    throw new ModelctlError('USAGE', `${flag} must be a number from 0 to 1, not ${String(value)}`, {
      hint: `${flag} ${fallback} is the default`,
    });
  return v;
}

/** Ultralytics' non_max_suppression and scale_boxes for one image's [4 + classes, anchors] slice. */
export function decodeDetections(
  data: ArrayLike<number>,
  rows: number,
  anchors: number,
  offset: number,
  original: { width: number; height: number },
  setup: Pick<DetectionSetup, 'width' | 'height' | 'names'>,
  options: DetectionOptions = {},
): Detection[] {
  const conf = threshold(options.conf, 0.25, '--conf');
  const iouThreshold = threshold(options.iou, 0.45, '--iou');
  const maxDet = options.maxDet ?? 300;
  const at = (r: number, a: number): number => data[offset + r * anchors + a] as number;
  const boxes: Float64Array[] = [];
  const scores: number[] = [];
  const classes: number[] = [];
  for (let a = 0; a < anchors; a++) {
    let best = 4;
    for (let r = 5; r < rows; r++) if (at(r, a) > at(best, a)) best = r;
    const score = at(best, a);
    if (!(score > conf)) continue;
    const [cx, cy, w, h] = [at(0, a), at(1, a), at(2, a), at(3, a)];
    // xywh2xyxy in float32, as on Ultralytics' tensors
    boxes.push(Float64Array.of(f32(cx - w / 2), f32(cy - h / 2), f32(cx + w / 2), f32(cy + h / 2)));
    scores.push(score);
    classes.push(best - 4);
  }
  // Ultralytics' scale_boxes: the gain of each axis from the rounded size LetterBox resized to, not the scale itself,
  // applied in float32 as on its tensors (torch divides a float32 tensor by a Python float as float32): the same bits.
  const g = letterboxGeometry(original.width, original.height, setup);
  const [gainX, gainY] = [g.width / original.width, g.height / original.height];
  const [padX, padY] = [g.left, g.top];
  const clip = (v: number, max: number): number => Math.min(Math.max(v, 0), max);
  return nms(boxes, scores, classes, iouThreshold)
    .slice(0, maxDet)
    .map((i) => {
      const b = boxes[i] as Float64Array;
      const id = classes[i] as number;
      return {
        label: setup.names[id] ?? String(id),
        class_id: id,
        score: scores[i] as number,
        box: [
          clip(f32(f32((b[0] as number) - padX) / f32(gainX)), original.width),
          clip(f32(f32((b[1] as number) - padY) / f32(gainY)), original.height),
          clip(f32(f32((b[2] as number) - padX) / f32(gainX)), original.width),
          clip(f32(f32((b[3] as number) - padY) / f32(gainY)), original.height),
        ],
      };
    });
}

/** One batch of image files through a YOLO detector; one prediction per image, in order. */
export async function detectObjects(
  ctx: RunContext,
  setup: DetectionSetup,
  files: readonly string[],
  options: DetectionOptions = {},
): Promise<DetectionPrediction[]> {
  if (files.length === 0) return [];
  const target = { width: setup.width, height: setup.height };
  const plane = 3 * setup.height * setup.width;
  const pixels = new Float32Array(files.length * plane);
  const sizes = await mapImages(files, async (file, i) => {
    const rgb = await decodeImage(file, undefined, 'opencv');
    pixels.set(letterbox(rgb, target), i * plane);
    return { width: rgb.width, height: rgb.height };
  });
  const name = tensorOutputs(ctx)[0] as string;
  const feeds = { [setup.input]: new ctx.Tensor('float32', pixels, [files.length, 3, setup.height, setup.width]) };
  const out = (await runSession(ctx, feeds, [name]))[name];
  const dims = out?.dims ?? [];
  if (!out || dims.length !== 3 || dims[0] !== files.length || (dims[1] as number) < 5) {
    throw new ModelctlError(
      'INVALID_INPUT',
      `output ${name} has shape [${dims.join(', ')}]; object-detection needs [batch, 4 + classes, anchors]`,
      {
        hint: 'the model is not a YOLO detector in the Ultralytics layout (an export with nms=True or end2end differs): try --task raw',
      },
    );
  }
  const [rows, anchors] = [dims[1] as number, dims[2] as number];
  const data = out.data as Float32Array;
  return files.map((_, i) => ({ detections: decodeDetections(data, rows, anchors, i * rows * anchors, sizes[i]!, setup, options) }));
}
