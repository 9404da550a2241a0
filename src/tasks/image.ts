import { readFile } from 'node:fs/promises';
import type { KernelEnum, Sharp, SharpOptions } from 'sharp';
import { ModelctlError, fsError } from '../errors.js';
import { type Rgb, torchResamples, torchResize } from './resample.js';

/**
 * Images to model inputs as a Hugging Face image processor (preprocessor_config.json) makes them: decoded by sharp,
 * oriented by EXIF as transformers' load_image does, made RGB, resized, centre-cropped, rescaled, normalized, laid
 * out channels first, as transformers 5's default (torchvision) backend does. Decoding is sharp's (libvips, which
 * decodes JPEG and PNG to the same pixels as Pillow); the resize is torchvision's arithmetic (resample.ts): see RESAMPLE.
 */

type SharpFn = (input?: Buffer | Uint8Array, options?: SharpOptions) => Sharp;
let loading: Promise<SharpFn> | undefined;

/** sharp (libvips) is imported on first use: text and tabular predictions should not pay for loading it. */
export function loadSharp(): Promise<SharpFn> {
  loading ??= import('sharp').then(
    (m) => m.default as unknown as SharpFn,
    (err: unknown) => {
      loading = undefined;
      const code = (err as NodeJS.ErrnoException | undefined)?.code;
      const missing = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
      const first = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
      throw new ModelctlError(
        'MISSING_DEPENDENCY',
        missing ? 'sharp is not installed: image models need it' : `sharp could not be loaded: ${first}`,
        {
          hint: `reinstall modelctl's dependencies (npm ci): sharp's prebuilt @img/sharp-${process.platform}-${process.arch} package must be installed for this platform`,
          cause: err,
        },
      );
    },
  );
  return loading;
}

/** The fields of preprocessor_config.json that shape pixel_values; the defaults are transformers' BaseImageProcessor's. */
export interface ImageProcessorConfig {
  doConvertRgb: boolean;
  doResize: boolean;
  size: { height: number; width: number } | { shortestEdge: number; longestEdge?: number };
  /** ConvNeXT: resize the shortest edge to shortest_edge / crop_pct, then crop shortest_edge square. */
  cropPct?: number;
  resample: number;
  doCenterCrop: boolean;
  cropSize?: { height: number; width: number };
  doRescale: boolean;
  rescaleFactor: number;
  doNormalize: boolean;
  imageMean: [number, number, number];
  imageStd: [number, number, number];
}

/**
 * PIL's resampling filters (the integers of `resample`). NEAREST, BILINEAR and BICUBIC, what image processors use,
 * are computed as torchvision computes them on uint8 images (resample.ts), which transformers 5 calls: pixel_values
 * equal the Python processor's. LANCZOS, BOX and HAMMING go through these sharp kernels and are not matched
 * (sharp's resampling is not torchvision's: pixel values differ by units to tens of 1/255).
 */
const RESAMPLE: Record<number, keyof KernelEnum> = {
  0: 'nearest',
  1: 'lanczos3', // PIL.Image.LANCZOS (a = 3)
  2: 'linear', // BILINEAR
  3: 'cubic', // BICUBIC: both are Catmull-Rom (a = -0.5)
  4: 'linear', // BOX
  5: 'linear', // HAMMING
};

function num(value: unknown, field: string, where: string, positive = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || (positive && value <= 0)) {
    throw new ModelctlError('INVALID_INPUT', `${where}: ${field} is ${JSON.stringify(value)}, not a ${positive ? 'positive ' : ''}number`);
  }
  return value;
}

function edge(value: unknown, field: string, where: string): number {
  const n = num(value, field, where, true);
  if (!Number.isSafeInteger(n)) throw new ModelctlError('INVALID_INPUT', `${where}: ${field} is ${n}, not a whole number of pixels`);
  return n;
}

function triple(value: unknown, fallback: number, field: string, where: string): [number, number, number] {
  if (value === undefined || value === null) return [fallback, fallback, fallback];
  const list = typeof value === 'number' ? [value, value, value] : value;
  if (!Array.isArray(list) || list.length !== 3)
    throw new ModelctlError('INVALID_INPUT', `${where}: ${field} must be a number or 3 numbers (one per RGB channel)`);
  return list.map((v) => num(v, field, where)) as [number, number, number];
}

function flag(value: unknown, fallback: boolean): boolean {
  return typeof value === 'boolean' ? value : fallback;
}

/** `{height, width}`, `{shortest_edge[, longest_edge]}`, or a bare number (square, or the shortest edge when the image is then cropped). */
function readSize(value: unknown, squareByDefault: boolean, field: string, where: string): ImageProcessorConfig['size'] {
  if (typeof value === 'number')
    return squareByDefault
      ? { height: edge(value, field, where), width: edge(value, field, where) }
      : { shortestEdge: edge(value, field, where) };
  const s = (value ?? {}) as Record<string, unknown>;
  if (s.height !== undefined || s.width !== undefined)
    return { height: edge(s.height, `${field}.height`, where), width: edge(s.width, `${field}.width`, where) };
  if (s.shortest_edge !== undefined) {
    return {
      shortestEdge: edge(s.shortest_edge, `${field}.shortest_edge`, where),
      ...(s.longest_edge !== undefined ? { longestEdge: edge(s.longest_edge, `${field}.longest_edge`, where) } : {}),
    };
  }
  throw new ModelctlError('INVALID_INPUT', `${where}: ${field} ${JSON.stringify(value)} is neither {height, width} nor {shortest_edge}`, {
    hint: 'predict supports image processors that resize to a fixed size or by the shortest edge',
  });
}

/** preprocessor_config.json as transformers reads it (a missing field takes BaseImageProcessor's default). */
export function parseImageProcessorConfig(raw: unknown, where: string): ImageProcessorConfig {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ModelctlError('INVALID_INPUT', `${where} is not a JSON object`);
  const c = raw as Record<string, unknown>;
  const doCenterCrop = flag(c.do_center_crop, false);
  // Old configs give sizes as one number: square for ViT-like processors, the shortest edge for those that crop.
  const size = readSize(c.size ?? { height: 224, width: 224 }, !doCenterCrop, 'size', where);
  const resample = c.resample === undefined || c.resample === null ? 2 : num(c.resample, 'resample', where);
  if (RESAMPLE[resample] === undefined)
    throw new ModelctlError('INVALID_INPUT', `${where}: resample ${resample} is not a PIL resampling filter (0-5)`);
  const cropSize = doCenterCrop ? readSize(c.crop_size ?? { height: 224, width: 224 }, true, 'crop_size', where) : undefined;
  if (cropSize && !('height' in cropSize)) throw new ModelctlError('INVALID_INPUT', `${where}: crop_size must be {height, width}`);
  const cropPct = c.crop_pct === undefined || c.crop_pct === null ? undefined : num(c.crop_pct, 'crop_pct', where, true);
  return {
    doConvertRgb: flag(c.do_convert_rgb, true),
    doResize: flag(c.do_resize, true),
    size,
    ...(cropPct !== undefined && 'shortestEdge' in size ? { cropPct } : {}),
    resample,
    doCenterCrop,
    ...(cropSize ? { cropSize } : {}),
    doRescale: flag(c.do_rescale, true),
    rescaleFactor: c.rescale_factor === undefined || c.rescale_factor === null ? 1 / 255 : num(c.rescale_factor, 'rescale_factor', where),
    doNormalize: flag(c.do_normalize, true),
    imageMean: triple(c.image_mean, 0.5, 'image_mean', where),
    imageStd: triple(c.image_std, 0.5, 'image_std', where),
  };
}

/** transformers' get_resize_output_image_size for a shortest edge (the long side truncated, as int() does). */
function shortestEdgeSize(width: number, height: number, shortest: number, longest?: number): { width: number; height: number } {
  const [short, long] = width <= height ? [width, height] : [height, width];
  let newShort = shortest;
  let newLong = Math.trunc((shortest * long) / short);
  if (longest !== undefined && newLong > longest) {
    newShort = Math.trunc((longest * newShort) / newLong);
    newLong = longest;
  }
  return width <= height ? { width: newShort, height: newLong } : { width: newLong, height: newShort };
}

/** The size the resize step produces for an image of width x height (before any centre crop). */
export function resizedSize(
  config: ImageProcessorConfig,
  width: number,
  height: number,
): { width: number; height: number; crop?: { width: number; height: number } } {
  const { size } = config;
  if ('height' in size) return { width: size.width, height: size.height };
  if (config.cropPct !== undefined) {
    // ConvNextImageProcessor: below 384 pixels, resize to shortest_edge / crop_pct and crop back to shortest_edge.
    if (size.shortestEdge >= 384) return { width: size.shortestEdge, height: size.shortestEdge };
    const r = shortestEdgeSize(width, height, Math.trunc(size.shortestEdge / config.cropPct));
    return { ...r, crop: { width: size.shortestEdge, height: size.shortestEdge } };
  }
  return shortestEdgeSize(width, height, size.shortestEdge, size.longestEdge);
}

/** The height and width of pixel_values: fixed by the config when it resizes to a fixed size or crops, else per image. */
export function outputSize(config: ImageProcessorConfig): { height: number; width: number } | undefined {
  if (config.doCenterCrop && config.cropSize && 'height' in config.cropSize) return config.cropSize;
  if (config.doResize && 'height' in config.size) return config.size;
  if (config.doResize && config.cropPct !== undefined && 'shortestEdge' in config.size)
    return { height: config.size.shortestEdge, width: config.size.shortestEdge };
  return undefined;
}

/**
 * The torchvision backend's center_crop on 8-bit pixels: the top-left corner at ((h - ch) // 2, (w - cw) // 2), and
 * an image smaller than the crop padded with zeros (black), (c - size) // 2 before it and the rest after.
 */
function centerCrop(img: Rgb, width: number, height: number): Rgb {
  if (img.width === width && img.height === height) return img;
  const out = new Uint8Array(width * height * 3);
  const start = (size: number, crop: number): number => (crop > size ? -Math.floor((crop - size) / 2) : Math.floor((size - crop) / 2));
  const top = start(img.height, height);
  const left = start(img.width, width);
  for (let y = 0; y < height; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= img.height) continue;
    for (let x = 0; x < width; x++) {
      const sx = x + left;
      if (sx < 0 || sx >= img.width) continue;
      out.set(img.data.subarray((sy * img.width + sx) * 3, (sy * img.width + sx) * 3 + 3), (y * width + x) * 3);
    }
  }
  return { data: out, width, height };
}

/** For LANCZOS, BOX and HAMMING: the sharp kernel (for shrinking) and interpolator (for enlarging) closest to each. */
const INTERPOLATOR: Record<number, 'nearest' | 'bilinear' | 'bicubic'> = {
  0: 'nearest',
  1: 'bicubic',
  2: 'bilinear',
  3: 'bicubic',
  4: 'bilinear',
  5: 'bilinear',
};

/** Edge pixels repeated around the image before enlarging: PIL clamps its filter window at the edges. */
const PAD = 2;

/**
 * NEAREST, BILINEAR and BICUBIC as torchvision (resample.ts); the other filters PIL-like with sharp. Shrinking goes through libvips' reduce, which like Pillow widens the filter by the
 * scale (antialiasing). Enlarging cannot: libvips' reduce then narrows the kernel to almost nearest-neighbour, so it
 * goes through an affine transform with pixel centres mapped as PIL maps them ((x + 0.5) * scale - 0.5), over an
 * image whose edges are repeated so that the border pixels are not blended with black.
 */
async function resample(img: Rgb, width: number, height: number, filter: number): Promise<Rgb> {
  if (torchResamples(filter)) return torchResize(img, width, height, filter);
  const sharp = await loadSharp();
  const raw = (i: Rgb): SharpOptions => ({ raw: { width: i.width, height: i.height, channels: 3 } });
  const done = async (s: Sharp): Promise<Rgb> => {
    const { data, info } = await s.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height };
  };
  let out = img;
  const [w, h] = [Math.min(width, out.width), Math.min(height, out.height)];
  if (w < out.width || h < out.height) {
    out = await done(
      sharp(out.data, raw(out)).resize({ width: w, height: h, fit: 'fill', kernel: RESAMPLE[filter] ?? 'linear', fastShrinkOnLoad: false }),
    );
  }
  if (width > out.width || height > out.height) {
    const [sx, sy] = [width / out.width, height / out.height];
    const padded = await done(sharp(out.data, raw(out)).extend({ top: PAD, bottom: PAD, left: PAD, right: PAD, extendWith: 'copy' }));
    const moved = await done(
      sharp(padded.data, raw(padded)).affine(
        [
          [sx, 0],
          [0, sy],
        ],
        { interpolator: INTERPOLATOR[filter] ?? 'bilinear', idx: 0.5 - PAD, idy: 0.5 - PAD, odx: -0.5, ody: -0.5 },
      ),
    );
    out = await done(sharp(moved.data, raw(moved)).extract({ left: 0, top: 0, width, height }));
  }
  return out;
}

function notAnImage(file: string, err: unknown): ModelctlError {
  const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0]?.trim();
  return new ModelctlError('INVALID_INPUT', `${file} is not an image sharp can read${reason ? ` (${reason})` : ''}`, {
    hint: 'give PNG, JPEG, WebP, GIF, TIFF, AVIF or SVG files',
    cause: err,
  });
}

/**
 * How CMYK pixels become RGB: as Pillow's convert("RGB") (transformers' load_image) or as OpenCV's imread
 * (Ultralytics). Both ignore any ICC profile and round differently, so each task takes its reference's.
 */
export type CmykToRgb = 'pillow' | 'opencv';

/** CMYK ink values (as Pillow reads them, Adobe's inversion undone) to RGB, in place of sharp's ICC conversion. */
function cmykToRgb(cmyk: Buffer, pixels: number, how: CmykToRgb): Buffer {
  const rgb = Buffer.allocUnsafe(pixels * 3);
  for (let i = 0, o = 0; o < rgb.length; i += 4) {
    const white = 255 - (cmyk[i + 3] as number);
    for (let c = 0; c < 3; c++, o++) {
      const ink = (cmyk[i + c] as number) * white;
      // Pillow divides by 255 rounding to nearest; OpenCV shifts by 8.
      rgb[o] = white - (how === 'pillow' ? (ink + 128 + ((ink + 128) >> 8)) >> 8 : ink >> 8);
    }
  }
  return rgb;
}

/**
 * An image file decoded to 8-bit RGB, oriented by its EXIF tag; alpha is dropped, as PIL's convert("RGB") does.
 * Embedded ICC profiles are ignored, as Pillow and OpenCV ignore them (sharp would convert a Display P3 photo to
 * sRGB: up to 30/255 from what the reference libraries read). 16-bit images keep their high byte, as OpenCV does
 * (Pillow clips a 16-bit grey PNG at 255 instead).
 */
export async function decodeImage(file: string, bytes?: Buffer, cmyk: CmykToRgb = 'pillow'): Promise<Rgb> {
  const sharp = await loadSharp();
  let input = bytes;
  if (input === undefined) {
    try {
      input = await readFile(file);
    } catch (err) {
      throw fsError(err, file);
    }
  }
  try {
    const image = sharp(input, { failOn: 'error', ignoreIcc: true }).autoOrient();
    if ((await image.metadata()).space === 'cmyk') {
      const { data, info } = await image
        .pipelineColourspace('cmyk')
        .toColourspace('cmyk')
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true });
      if (info.channels !== 4) throw new Error(`CMYK decoded to ${info.channels} channels`);
      return { data: cmykToRgb(data, info.width * info.height, cmyk), width: info.width, height: info.height };
    }
    const { data, info } = await image.removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { data, width: info.width, height: info.height };
  } catch (err) {
    throw notAnImage(file, err);
  }
}

/**
 * How many images of a batch are read and preprocessed at once. sharp decodes on libuv's thread pool (4 threads
 * unless UV_THREADPOOL_SIZE says otherwise) while the resampling runs on this thread: 4 at a time keep the pool busy
 * beside it and hold at most 4 decoded photos. Measured on 2 busy cores, batch 32 of photos: 1 at a time 143
 * images/s, 2 at a time 152-164, 4 at a time 177-209.
 */
export const IMAGE_CONCURRENCY = 4;

/**
 * `fn` over every file, at most `limit` at once; the results in the files' order. When some fail, the error thrown
 * is the one of the first failing file in that order, as one after the other would give (files after it are not
 * started, files before it are finished).
 */
export async function mapImages<T>(
  files: readonly string[],
  fn: (file: string, index: number) => Promise<T>,
  limit = IMAGE_CONCURRENCY,
): Promise<T[]> {
  const out = new Array<T>(files.length);
  let next = 0;
  let failed = files.length;
  let error: unknown;
  const worker = async (): Promise<void> => {
    while (next < failed) {
      const i = next++;
      try {
        out[i] = await fn(files[i] as string, i);
      } catch (err) {
        if (i < failed) [failed, error] = [i, err];
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), files.length) }, worker));
  if (failed < files.length) throw error;
  return out;
}

/** One image as the processor makes it: float32, channels first [3, H, W], and its H and W. */
export async function preprocessImage(
  file: string,
  config: ImageProcessorConfig,
  bytes?: Buffer,
): Promise<{ data: Float32Array; height: number; width: number }> {
  // RGB always: the model takes 3 channels, and do_convert_rgb only says whether the Python processor converts
  // grey or RGBA images itself (when false, such images fail there).
  let img = await decodeImage(file, bytes);
  if (config.doResize) {
    const target = resizedSize(config, img.width, img.height);
    if (target.width !== img.width || target.height !== img.height) img = await resample(img, target.width, target.height, config.resample);
    if (target.crop) img = centerCrop(img, target.crop.width, target.crop.height);
  }
  if (config.doCenterCrop && config.cropSize && 'height' in config.cropSize)
    img = centerCrop(img, config.cropSize.width, config.cropSize.height);
  const { width, height } = img;
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  const scale = config.doRescale ? config.rescaleFactor : 1;
  const value = new Float32Array(256); // the value of each byte: the same float32 as computing it per pixel
  for (let c = 0; c < 3; c++) {
    const mean = config.doNormalize ? (config.imageMean[c] as number) : 0;
    const std = config.doNormalize ? (config.imageStd[c] as number) : 1;
    for (let v = 0; v < 256; v++) value[v] = (v * scale - mean) / std;
    for (let i = 0, at = c * plane; i < plane; i++, at++) out[at] = value[img.data[i * 3 + c] as number] as number;
  }
  return { data: out, height, width };
}
