import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage, mapImages, parseImageProcessorConfig, preprocessImage, resizedSize } from '../../src/tasks/image.js';
import { FIXTURES, tempDir } from '../helpers.js';
import { expectClose, rejects } from './helpers.js';
import { VIT_DIR, VIT_REF, processorPixels, vitImage, vitPath } from './image-fixture.js';

const CONFIG = parseImageProcessorConfig(
  JSON.parse(readFileSync(join(VIT_DIR, 'preprocessor_config.json'), 'utf8')),
  'preprocessor_config.json',
);

describe('image preprocessing against transformers’ ViT image processor', () => {
  it('reads the config optimum wrote: 32x32, bilinear, rescale 1/255, normalize with mean and std 0.5', () => {
    expect(CONFIG).toMatchObject({
      doResize: true,
      size: { height: 32, width: 32 },
      resample: 2,
      doRescale: true,
      doNormalize: true,
      doCenterCrop: false,
      imageMean: [0.5, 0.5, 0.5],
      imageStd: [0.5, 0.5, 0.5],
    });
    expect(CONFIG.rescaleFactor).toBeCloseTo(1 / 255, 12);
  });

  // modelctl resizes as transformers 5's default torchvision backend (test/parity checks that exactly); these
  // pixel_values come from the PIL backend (ViTImageProcessorPil), whose fixed-point weights have other precision:
  // a unit of 1/255 at most (7.8e-3 once normalized to [-1, 1]; 1 unit measured on gradient.png), under 2e-2.
  it.each(['gradient.png', 'checker.png'])('%s (resized) is within 2e-2 of the processor’s pixel_values', async (file) => {
    const ref = vitImage(file);
    const { data, height, width } = await preprocessImage(vitPath(file), CONFIG);
    expect([3, height, width]).toEqual(ref.pixel_values.shape);
    expectClose(Array.from(data), processorPixels(file), 2e-2, file);
    for (const s of ref.pixel_values.samples)
      expect(Math.abs((data[s.at[0] * height * width + s.at[1] * width + s.at[2]] as number) - s.value)).toBeLessThan(2e-2);
    // The sum over 3072 values stays close too: no systematic shift.
    expect(Math.abs(Array.from(data).reduce((a, b) => a + b, 0) - ref.pixel_values.sum)).toBeLessThan(3072 * 2e-3);
  });

  it('the JPEG (decoded by libjpeg in PIL, by sharp here) stays within 2e-2 as well', async () => {
    const { data } = await preprocessImage(vitPath('gradient.jpg'), CONFIG);
    expectClose(Array.from(data), processorPixels('gradient.jpg'), 2e-2, 'gradient.jpg');
  });

  it('an image already 32x32 is not resampled: within 1e-5 of the processor (float32 rounding only)', async () => {
    expect(vitImage('exact.png').size).toEqual([32, 32]);
    const { data } = await preprocessImage(vitPath('exact.png'), CONFIG);
    expectClose(Array.from(data), processorPixels('exact.png'), 1e-5, 'exact.png');
    expect(VIT_REF.images.map((i) => i.file)).toEqual(['gradient.png', 'checker.png', 'gradient.jpg', 'exact.png']);
  });

  it('grey and RGBA images become RGB (alpha dropped, as PIL’s convert("RGB")); WebP is read too', async () => {
    const dir = tempDir();
    const rgba = Buffer.alloc(32 * 32 * 4);
    for (let i = 0; i < 32 * 32; i++) rgba.set([200, 100, 50, i % 256], i * 4);
    await sharp(rgba, { raw: { width: 32, height: 32, channels: 4 } })
      .png()
      .toFile(join(dir, 'rgba.png'));
    await sharp(Buffer.alloc(32 * 32, 128), { raw: { width: 32, height: 32, channels: 1 } })
      .png()
      .toFile(join(dir, 'grey.png'));
    await sharp(rgba, { raw: { width: 32, height: 32, channels: 4 } })
      .webp({ lossless: true })
      .toFile(join(dir, 'rgba.webp'));
    for (const f of ['rgba.png', 'rgba.webp']) {
      const { data } = await preprocessImage(join(dir, f), CONFIG);
      // Pixel 128 is half transparent: its colour is kept as it is, not blended with a background.
      expect([data[128], data[1024 + 128], data[2048 + 128]].map((v) => Number(v!.toFixed(5)))).toEqual(
        [200, 100, 50].map((v) => Number(((v / 255 - 0.5) / 0.5).toFixed(5))),
      );
    }
    const grey = await decodeImage(join(dir, 'grey.png'));
    expect([grey.width, grey.height, grey.data.length]).toEqual([32, 32, 32 * 32 * 3]);
  });

  it('a file that is not an image: INVALID_INPUT, one line naming the file; a missing file: PATH_NOT_FOUND', async () => {
    const dir = tempDir();
    const fake = join(dir, 'photo.png');
    writeFileSync(fake, 'not a picture at all\n');
    for (const file of [fake, join(FIXTURES, 'bad', 'not-a-model.txt'), join(FIXTURES, 'bad', 'empty.onnx')]) {
      const err = await rejects(
        preprocessImage(file, CONFIG),
        'INVALID_INPUT',
        new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not an image sharp can read`),
      );
      expect(err.message).not.toMatch(/\n/);
    }
    await rejects(preprocessImage(join(dir, 'missing.png'), CONFIG), 'PATH_NOT_FOUND');
  });
});

describe('a batch of images preprocessed concurrently (mapImages)', () => {
  const later = <T>(ms: number, value: () => T): Promise<T> =>
    new Promise((resolve, reject) =>
      setTimeout(() => {
        try {
          resolve(value());
        } catch (err) {
          reject(err);
        }
      }, ms),
    );

  it('keeps the files’ order whatever order they finish in, with at most `limit` at once', async () => {
    const files = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    let running = 0;
    let most = 0;
    const out = await mapImages(
      files,
      async (file, i) => {
        running++;
        most = Math.max(most, running);
        const value = await later((files.length - i) * 3, () => `${file}${i}`);
        running--;
        return value;
      },
      3,
    );
    expect(out).toEqual(['a0', 'b1', 'c2', 'd3', 'e4', 'f5', 'g6']);
    expect(most).toBe(3);
  });

  it('throws the error of the first failing file in order, even when a later one fails first; none after it starts', async () => {
    const started: number[] = [];
    const run = mapImages(
      ['ok', 'slow-bad', 'fast-bad', 'after'],
      (file, i) => {
        started.push(i);
        if (file === 'slow-bad')
          return later(40, () => {
            throw new Error('slow-bad failed');
          });
        if (file === 'fast-bad') return Promise.reject(new Error('fast-bad failed'));
        return later(1, () => file);
      },
      3,
    );
    await expect(run).rejects.toThrow(/^slow-bad failed$/);
    expect(started).toEqual([0, 1, 2]);
  });

  it('real files: the first unreadable one in order is reported, not the one that fails soonest', async () => {
    const dir = tempDir();
    const fake = join(dir, 'photo.png');
    writeFileSync(fake, 'not a picture at all\n');
    const files = [vitPath('gradient.png'), fake, join(dir, 'missing.png'), vitPath('checker.png')];
    for (let round = 0; round < 3; round++)
      await rejects(
        mapImages(files, (f) => preprocessImage(f, CONFIG)),
        'INVALID_INPUT',
        /photo\.png is not an image sharp can read/,
      );
    const ok = await mapImages([vitPath('gradient.png'), vitPath('checker.png'), vitPath('exact.png')], (f) => preprocessImage(f, CONFIG));
    const alone = [];
    for (const f of ['gradient.png', 'checker.png', 'exact.png']) alone.push(await preprocessImage(vitPath(f), CONFIG));
    expect(ok).toEqual(alone);
  });
});

describe('image processor configs', () => {
  it('shortest_edge keeps the aspect ratio (the long side truncated, as transformers does), then crop_size crops', async () => {
    const clip = parseImageProcessorConfig(
      { do_resize: true, size: { shortest_edge: 16 }, do_center_crop: true, crop_size: { height: 16, width: 16 }, resample: 3 },
      'clip',
    );
    expect(resizedSize(clip, 48, 40)).toEqual({ width: 19, height: 16 });
    expect(resizedSize(clip, 20, 30)).toEqual({ width: 16, height: 24 });
    const { height, width } = await preprocessImage(vitPath('gradient.png'), clip);
    expect([height, width]).toEqual([16, 16]);
    // A crop larger than the image pads it with black, as transformers' center_crop does.
    const big = parseImageProcessorConfig(
      { do_resize: false, do_center_crop: true, crop_size: { height: 36, width: 36 }, do_normalize: false, do_rescale: false },
      'pad',
    );
    const padded = await preprocessImage(vitPath('exact.png'), big);
    expect([padded.height, padded.width, padded.data[0], padded.data[36 * 2 + 2]]).toEqual(
      [36, 36, 0, processorPixels('exact.png')[0]! * 127.5 + 127.5].map((v) => Math.round(v)),
    );
  });

  it('legacy numeric sizes, ConvNeXT’s crop_pct, and defaults', () => {
    expect(parseImageProcessorConfig({ size: 224 }, 'x').size).toEqual({ height: 224, width: 224 });
    expect(parseImageProcessorConfig({ size: 224, do_center_crop: true, crop_size: 224 }, 'x').size).toEqual({ shortestEdge: 224 });
    const convnext = parseImageProcessorConfig({ size: { shortest_edge: 224 }, crop_pct: 0.875 }, 'x');
    expect(resizedSize(convnext, 400, 300)).toEqual({ width: 341, height: 256, crop: { width: 224, height: 224 } });
    const defaults = parseImageProcessorConfig({}, 'x');
    expect(defaults).toMatchObject({ doConvertRgb: true, size: { height: 224, width: 224 }, resample: 2, imageMean: [0.5, 0.5, 0.5] });
  });

  it('refuses what it cannot follow with one line naming the field', () => {
    expect(() => parseImageProcessorConfig({ size: { longest_edge: 10 } }, 'p.json')).toThrow(
      /^p\.json: size \{"longest_edge":10\} is neither \{height, width\} nor \{shortest_edge\}$/,
    );
    expect(() => parseImageProcessorConfig({ resample: 9 }, 'p.json')).toThrow(/resample 9 is not a PIL resampling filter/);
    expect(() => parseImageProcessorConfig({ image_mean: [0.5, 0.5] }, 'p.json')).toThrow(/image_mean must be a number or 3 numbers/);
    expect(() => parseImageProcessorConfig([], 'p.json')).toThrow(/p\.json is not a JSON object/);
  });
});
