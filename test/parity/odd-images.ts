import { join } from 'node:path';
import sharp from 'sharp';

/**
 * Image files whose decoding the reference libraries do not agree with sharp's defaults on, written by sharp for the
 * image parity tests: a JPEG carrying a Display P3 ICC profile (Pillow and OpenCV ignore profiles; sharp would
 * convert to sRGB) and a 16-bit grey PNG (OpenCV keeps each value's high byte; Pillow clips at 255, so only the
 * Ultralytics comparison takes it).
 */
export async function writeOddImages(source: string, dir: string): Promise<{ p3: string; grey16: string }> {
  const p3 = join(dir, 'display-p3-97x61.jpg');
  await sharp(source).resize(97, 61, { fit: 'fill' }).withIccProfile('p3').jpeg({ quality: 90 }).toFile(p3);
  const grey16 = join(dir, 'grey16-45x70.png');
  const [width, height] = [45, 70];
  const values = new Uint16Array(width * height);
  for (let i = 0; i < values.length; i++) values[i] = (i * 40_503 + 17) % 65_536; // spread over the whole 16-bit range
  await sharp(values, { raw: { width, height, channels: 1, premultiplied: false } })
    .toColourspace('grey16')
    .png()
    .toFile(grey16);
  return { p3, grey16 };
}
