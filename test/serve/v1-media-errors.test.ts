/**
 * POST /v1/models/{name}/predict with base64 files that are not what the model reads: the answer names the file as
 * the client sent it ("image 2"), never the server's temporary path under the registry home, and says which task
 * takes what with the right article.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Registry } from '../../src/registry/index.js';
import { FIXTURES, tempDir } from '../helpers.js';
import { postJson, serve } from './helpers.js';

const VIT = join(FIXTURES, 'optimum-vit-tiny');

describe('serve /v1 predict: unreadable images and audio', () => {
  it('names the bad file by its place in the request, not by a temporary path', async () => {
    const home = tempDir('modelctl-serve-media-');
    const registry = new Registry({ home });
    await registry.register({ path: VIT, name: 'vit' });
    const s = await serve({ registry });
    const good = readFileSync(join(VIT, 'gradient.png')).toString('base64');
    const notImage = Buffer.from('hello, not an image\n').toString('base64');
    const images = [good, ...Array.from({ length: 10 }, () => good)];
    // The 2nd and the 11th files are text: the first bad one is reported.
    images[1] = notImage;
    images[10] = notImage;
    const r = await postJson(`${s.url}/v1/models/vit/predict`, { images });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('INVALID_INPUT');
    expect(r.body.error).toMatch(/^image 2 is not an image sharp can read/);
    expect(JSON.stringify(r.body)).not.toContain(home);
    expect(JSON.stringify(r.body)).not.toContain('serve-images');
    const last = await postJson(`${s.url}/v1/models/vit/predict`, { images: images.map((v, i) => (i === 1 ? good : v)) });
    expect(last.status).toBe(400);
    expect(last.body.error).toMatch(/^image 11 is not an image sharp can read/);
    // Texts for an image model: "an image-classification model".
    const texts = await postJson(`${s.url}/v1/models/vit/predict`, { texts: ['hi'] });
    expect(texts.status).toBe(400);
    expect(texts.body.error).toBe('an image-classification model takes "images": base64 strings');
  });
});
