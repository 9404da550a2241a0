/**
 * The two resampling steps whose exact arithmetic the reference pipelines fix, applied to 8-bit RGB that sharp
 * decoded: OpenCV's cv2.resize(INTER_LINEAR), which Ultralytics' LetterBox calls, and torchvision's antialiased
 * uint8 resize, which transformers 5's image processors call (their default torchvision backend). sharp (libvips)
 * resamples differently (an integer box shrink before its reduce, other fixed-point rounding) and cannot be made to
 * agree: after its best options pixel values stayed up to 19 units of 1/255 away at 32x32, which moved a ViT's
 * logits by 1.3, and a unit of difference in a letterbox moved a YOLO detector's scores by 5e-3. Only this one step
 * is ours; decoding, orientation and colour stay sharp's.
 */

export interface Rgb {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Python's round(): half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return (Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r) + 0; // + 0: no -0 for round(-0.1)
}

/**
 * One axis of cv2.resize(INTER_LINEAR) on 8-bit images: source pixel centres mapped in float32, weights in 11-bit
 * fixed point rounded half to even. Columns outside the image are clamped to the edge pixel with weight 0; rows
 * are not (OpenCV clamps the row indices only, keeping both weights).
 */
function cvAxis(dst: number, src: number, clampWeights: boolean): { i0: Int32Array; i1: Int32Array; w0: Int32Array; w1: Int32Array } {
  const i0 = new Int32Array(dst);
  const i1 = new Int32Array(dst);
  const w0 = new Int32Array(dst);
  const w1 = new Int32Array(dst);
  const scale = 1 / (dst / src); // OpenCV: 1 / inv_scale, inv_scale = dst / src
  for (let d = 0; d < dst; d++) {
    const f = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    let t = f - s; // exact in float32: the fraction bits of f
    if (clampWeights && s < 0) [s, t] = [0, 0];
    if (clampWeights && s >= src - 1) [s, t] = [src - 1, 0];
    i0[d] = Math.min(Math.max(s, 0), src - 1);
    i1[d] = Math.min(Math.max(s + 1, 0), src - 1);
    w0[d] = roundHalfEven(Math.fround(Math.fround(1 - t) * 2048));
    w1[d] = roundHalfEven(Math.fround(t * 2048));
  }
  return { i0, i1, w0, w1 };
}

/**
 * cv2.resize(INTER_LINEAR) of 8-bit RGB, bit for bit as OpenCV computes it (checked against cv2 5.1 on 216 random
 * sizes up and down): a horizontal pass in integers, then the vertical pass of OpenCV's SIMD kernel, which shifts
 * both rows right by 4 and keeps the high 16 bits of each product before rounding (not the exact sum).
 */
export function cvResizeLinear(rgb: Rgb, width: number, height: number): Uint8Array {
  const xs = cvAxis(width, rgb.width, true);
  const ys = cvAxis(height, rgb.height, false);
  const row = width * 3;
  const src = rgb.data;
  const srcRow = rgb.width * 3;
  // Each output row blends two source rows, and consecutive outputs share them (the row indices never go down): two
  // rows of horizontal sums are kept, each made once, instead of one for every source row.
  const rows = [new Int32Array(row), new Int32Array(row)];
  const made = [-1, -1];
  const columns = new Int32Array(width * 4); // i0 * 3, i1 * 3, w0, w1 per output column, read in one stream
  for (let x = 0; x < width; x++)
    columns.set([(xs.i0[x] as number) * 3, (xs.i1[x] as number) * 3, xs.w0[x] as number, xs.w1[x] as number], x * 4);
  const sums = (y: number): Int32Array => {
    const slot = made[0] === y ? 0 : made[1] === y ? 1 : (made[0] as number) <= (made[1] as number) ? 0 : 1; // else the older
    const h = rows[slot] as Int32Array;
    if (made[slot] === y) return h;
    const line = y * srcRow;
    for (let x = 0, k = 0; x < width; x++, k += 3) {
      const a = line + (columns[x * 4] as number);
      const b = line + (columns[x * 4 + 1] as number);
      const wa = columns[x * 4 + 2] as number;
      const wb = columns[x * 4 + 3] as number;
      h[k] = (src[a] as number) * wa + (src[b] as number) * wb;
      h[k + 1] = (src[a + 1] as number) * wa + (src[b + 1] as number) * wb;
      h[k + 2] = (src[a + 2] as number) * wa + (src[b + 2] as number) * wb;
    }
    made[slot] = y;
    return h;
  };
  const out = new Uint8ClampedArray(height * row); // clamps to 0..255 as OpenCV's saturate_cast
  for (let y = 0; y < height; y++) {
    const y0 = ys.i0[y] as number;
    const y1 = ys.i1[y] as number;
    // the newer row first: sums() may overwrite the older of the two slots, never the one just asked for
    const h1 = sums(y1);
    const h0 = y0 === y1 ? h1 : sums(y0);
    const b0 = ys.w0[y] as number;
    const b1 = ys.w1[y] as number;
    const at = y * row;
    for (let k = 0; k < row; k++)
      out[at + k] = (((((h0[k] as number) >> 4) * b0) >> 16) + ((((h1[k] as number) >> 4) * b1) >> 16) + 2) >> 2;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** torch's antialiasing filters, by PIL's resample integers: bilinear (2) and bicubic (3, Keys a = -0.5). */
const FILTERS: Record<number, { support: number; fn: (x: number) => number }> = {
  2: { support: 1, fn: (x) => (Math.abs(x) < 1 ? 1 - Math.abs(x) : 0) },
  3: {
    support: 2,
    fn: (v) => {
      const [x, a] = [Math.abs(v), -0.5];
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
      return 0;
    },
  },
};

/** The resample integers torchResize computes as torchvision does; the others (LANCZOS, BOX, HAMMING) are not matched. */
export function torchResamples(filter: number): boolean {
  return filter === 0 || FILTERS[filter] !== undefined;
}

interface Taps {
  first: Int32Array;
  count: Int32Array;
  /** count weights per output, at o * stride */
  weights: Int32Array;
  stride: number;
  precision: number;
}

/**
 * One axis of torch's _upsample_bilinear2d_aa / _upsample_bicubic2d_aa for uint8 (PIL's ImagingResample as ported to
 * ATen): a window of scale x support input pixels around each output centre, weights normalised in float64, then
 * made int16 with the most fractional bits that keep the largest weight under 2^15, rounded half away from zero.
 */
function torchAxis(src: number, dst: number, filter: { support: number; fn: (x: number) => number }): Taps {
  const scale = src / dst;
  const support = scale >= 1 ? filter.support * scale : filter.support;
  const invscale = scale >= 1 ? 1 / scale : 1;
  const stride = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(dst);
  const count = new Int32Array(dst);
  const real = new Float64Array(dst * stride);
  let max = 0;
  for (let o = 0; o < dst; o++) {
    const center = scale * (o + 0.5);
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const n = Math.min(Math.max(Math.min(Math.trunc(center + support + 0.5), src) - lo, 0), stride);
    let total = 0;
    for (let j = 0; j < n; j++) {
      const w = filter.fn((j + lo - center + 0.5) * invscale);
      real[o * stride + j] = w;
      total += w;
    }
    for (let j = 0; j < n && total !== 0; j++) {
      real[o * stride + j] = (real[o * stride + j] as number) / total;
      max = Math.max(max, real[o * stride + j] as number);
    }
    first[o] = lo;
    count[o] = n;
  }
  let precision = 0;
  for (; precision < 22; precision++) if (Math.trunc(0.5 + max * 2 ** (precision + 1)) >= 1 << 15) break;
  const weights = new Int32Array(dst * stride);
  for (let k = 0; k < weights.length; k++) {
    const v = (real[k] as number) * 2 ** precision;
    weights[k] = v < 0 ? Math.trunc(-0.5 + v) : Math.trunc(0.5 + v);
  }
  return { first, count, weights, stride, precision };
}

/**
 * The horizontal pass: each row of `width` RGB pixels to `dst` pixels, sums in integers, rounded, clamped to 0..255
 * (a Uint8ClampedArray stores integers clamped). The taps' fields are read into locals once: the loops below are
 * where a big photo's time goes (37 taps per output pixel from 4000 to 224 pixels wide, 73 for bicubic).
 */
function horizontal(src: Uint8Array, width: number, rows: number, taps: Taps, dst: number): Uint8Array {
  const out = new Uint8ClampedArray(rows * dst * 3);
  const { first, count, weights, stride, precision } = taps;
  const half = precision > 0 ? 1 << (precision - 1) : 0;
  let to = 0;
  for (let y = 0; y < rows; y++) {
    const line = y * width * 3;
    for (let o = 0; o < dst; o++) {
      let at = line + (first[o] as number) * 3;
      let w = o * stride;
      const end = w + (count[o] as number);
      let r = half;
      let g = half;
      let b = half;
      // int32 arithmetic is exact here: |sum| <= 255 * 1.3 * 2^22 (bicubic's lobes, the largest precision) < 2^31
      for (; w < end; w++, at += 3) {
        const k = weights[w] as number;
        r = (r + Math.imul(src[at] as number, k)) | 0;
        g = (g + Math.imul(src[at + 1] as number, k)) | 0;
        b = (b + Math.imul(src[at + 2] as number, k)) | 0;
      }
      out[to] = r >> precision;
      out[to + 1] = g >> precision;
      out[to + 2] = b >> precision;
      to += 3;
    }
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** The vertical pass: `dst` rows, each a weighted sum of whole input rows (`line` values long). */
function vertical(src: Uint8Array, line: number, taps: Taps, dst: number): Uint8Array {
  const out = new Uint8ClampedArray(dst * line);
  const { first, count, weights, stride, precision } = taps;
  const half = precision > 0 ? 1 << (precision - 1) : 0;
  const sums = new Int32Array(line);
  for (let o = 0; o < dst; o++) {
    const n = count[o] as number;
    const w = o * stride;
    sums.fill(half);
    for (let j = 0; j < n; j++) {
      const k = weights[w + j] as number;
      const row = ((first[o] as number) + j) * line;
      for (let x = 0; x < line; x++) sums[x] = (sums[x] as number) + (src[row + x] as number) * k;
    }
    const at = o * line;
    for (let x = 0; x < line; x++) out[at + x] = (sums[x] as number) >> precision;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/**
 * torchvision.transforms.v2.functional.resize of a uint8 image (antialias=True, as transformers calls it): for
 * bilinear and bicubic the horizontal pass, rounded to 8 bits, then the vertical one; NEAREST is torch's
 * nearest-exact (the source pixel whose centre is nearest, halves up), which transformers maps PIL's NEAREST to.
 */
export function torchResize(img: Rgb, width: number, height: number, filter: number): Rgb {
  if (img.width === width && img.height === height) return img;
  if (filter === 0) {
    const out = new Uint8Array(width * height * 3);
    const index = (o: number, src: number, dst: number): number =>
      Math.min(Math.floor(Math.fround(Math.fround(Math.fround(Math.fround(src / dst) * (o + 0.5)) - 0.5) + 0.5)), src - 1);
    for (let y = 0; y < height; y++) {
      const sy = index(y, img.height, height);
      for (let x = 0; x < width; x++) {
        const from = (sy * img.width + index(x, img.width, width)) * 3;
        out.set(img.data.subarray(from, from + 3), (y * width + x) * 3);
      }
    }
    return { data: out, width, height };
  }
  const filterOf = FILTERS[filter] ?? (FILTERS[2] as (typeof FILTERS)[number]);
  let data = img.data;
  if (width !== img.width) data = horizontal(data, img.width, img.height, torchAxis(img.width, width, filterOf), width);
  if (height !== img.height) data = vertical(data, width * 3, torchAxis(img.height, height, filterOf), height);
  return { data, width, height };
}
