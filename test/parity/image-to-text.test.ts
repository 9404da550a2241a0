/**
 * image-to-text against transformers 4.57's pipeline("image-to-text") (transformers 5 has none; the reference runs in
 * the hf converter environment) on the PyTorch VisionEncoderDecoder that `modelctl export` turned into
 * encoder_model.onnx + decoder_model_merged.onnx (fixtures/models/i2t-vit-gpt2-tiny, built by fixtures/i2t/build.py),
 * greedy on both sides: for both fixture images the new tokens equal to what generate() gives and the text equal to
 * the pipeline's, from the command line and from serve's task-level predict; an input that is not an image refused.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Registry } from '../../src/registry/index.js';
import { converterRoot, familyPython } from '../convert/env.js';
import { FIXTURES, ROOT, cli, fileDir } from '../helpers.js';
import { postJson, serve } from '../serve/helpers.js';
import { converterReferencePython, reference } from './reference.js';

const FOLDER = join(FIXTURES, 'i2t-vit-gpt2-tiny');
const IMAGES = ['gradient.png', 'noise.png'].map((f) => join(ROOT, 'fixtures', 'i2t', 'images', f));
const NEW_TOKENS = 8;

interface RefCase {
  generated_text: string;
  tokens: number[];
  margin: number;
}

describe('image-to-text: modelctl (VisionEncoderDecoder encoder + merged decoder) against transformers’ pipeline', () => {
  it('exports as one version of two ONNX files, validated; greedy tokens and text equal to the pipeline’s', async () => {
    const root = converterRoot();
    const python = converterReferencePython();
    if (!root || !python) return;
    const home = fileDir('modelctl-i2t-home-');
    const exported = await cli(['export', FOLDER, '--name', 'captioner', '--python', familyPython(root, 'hf'), '--json'], { home });
    expect(exported.exitCode, exported.stderr).toBe(0);
    const doc = JSON.parse(exported.stdout);
    expect(doc.task).toBe('image-to-text');
    expect(doc.manifest.metadata.onnxParts).toEqual({ encoder: 'encoder_model.onnx', decoder: 'decoder_model_merged.onnx' });
    expect(doc.validation).toMatchObject({ passed: true });
    expect(Object.keys(doc.validation.steps)).toEqual(['encoder', 'decoder_first_step', 'decoder_cached_step']);
    const files = doc.manifest.files.map((f: { path: string }) => f.path);
    for (const f of ['preprocessor_config.json', 'generation_config.json', 'tokenizer.json']) expect(files).toContain(f);

    const ref = await reference<{ cases: RefCase[] }>(python, 'image_to_text', {
      folder: FOLDER,
      images: IMAGES,
      max_new_tokens: NEW_TOKENS,
    });
    const r = await cli(['predict', 'captioner', ...IMAGES, '--max-new-tokens', String(NEW_TOKENS), '--json'], { home });
    expect(r.exitCode, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout);
    expect(got.task).toBe('image-to-text');
    expect(got.predictions).toHaveLength(IMAGES.length);
    for (const [i, want] of ref.cases.entries()) {
      // The random model's best and second-best scores are apart at every greedy step: equal tokens mean something.
      expect(want.margin, IMAGES[i]).toBeGreaterThan(1e-3);
      expect(want.tokens, IMAGES[i]).toHaveLength(NEW_TOKENS);
      expect(got.predictions[i].tokens, IMAGES[i]).toEqual(want.tokens);
      expect(got.predictions[i].generated_text, IMAGES[i]).toBe(want.generated_text);
    }
    // The two images are described differently: the encoder's states reach the decoder.
    expect(ref.cases[0]?.tokens).not.toEqual(ref.cases[1]?.tokens);

    // serve's task-level predict: the image as base64, the pipeline's tokens again.
    const server = await serve({ registry: new Registry({ home }) });
    const served = await postJson(`${server.url}/v1/models/captioner/predict`, {
      images: [readFileSync(IMAGES[1] as string).toString('base64')],
      max_new_tokens: NEW_TOKENS,
    });
    expect(served.status, JSON.stringify(served.body)).toBe(200);
    expect(served.body.predictions[0].tokens).toEqual(ref.cases[1]?.tokens);
    expect(served.body.predictions[0].generated_text).toBe(ref.cases[1]?.generated_text);

    // Not an image: a text file (under an image's name too) and a text given as --input are refused, one line each.
    const dir = fileDir('modelctl-i2t-bad-');
    const fake = join(dir, 'fake.png');
    writeFileSync(fake, 'just some text\n');
    const bad = await cli(['predict', 'captioner', fake], { home });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain(`${fake} is not an image`);
    const text = await cli(['predict', 'captioner', '--input', '["a caption"]'], { home });
    expect(text.exitCode).toBe(2);
    expect(text.stderr).toContain('image-to-text model takes image files');
    const speech = await cli(['predict', 'captioner', IMAGES[0] as string, '--language', 'en'], { home });
    expect(speech.exitCode).toBe(2);
    expect(speech.stderr).toContain('--language is for speech recognition models, not image-to-text');
  }, 600_000);
});
