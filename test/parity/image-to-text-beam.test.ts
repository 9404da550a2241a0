/**
 * image-to-text by beam search and by sampling, on the VisionEncoderDecoder fixture (fixtures/models/i2t-vit-gpt2-tiny)
 * that `modelctl export` turned into encoder_model.onnx + decoder_model_merged.onnx:
 * - --num-beams 3 and 4: the new tokens and the text equal to transformers 4.57's generate(num_beams=N) and
 *   pipeline("image-to-text") (the hf converter environment, as test/parity/image-to-text.test.ts), and the tokens and
 *   sequence score (within 1e-4) equal to transformers 5's generate(num_beams=N), whose image processor makes the
 *   pixels with torchvision as modelctl does (4.57's slow processor resizes with PIL: the same tokens, scores apart by
 *   about 1e-3). With 4 beams the gradient image's tokens are not the greedy ones: the search decides something.
 * - sampling (--seed, --temperature, --top-k, --top-p): the same seed gives the same tokens, run after run, and the
 *   seed comes back in the JSON; beam sampling is refused (exit 2).
 * - serve's task-level predict takes num_beams, do_sample and seed and gives the command line's tokens; settings of
 *   generation_config.json that are not applied come back as "warnings" (the command line prints them on stderr).
 */
import { readFileSync, writeFileSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Registry } from '../../src/registry/index.js';
import { converterRoot, familyPython } from '../convert/env.js';
import { FIXTURES, ROOT, cli, fileDir } from '../helpers.js';
import { postJson, serve } from '../serve/helpers.js';
import { converterReferencePython, parityPython, reference } from './reference.js';

const FOLDER = join(FIXTURES, 'i2t-vit-gpt2-tiny');
const IMAGES = ['gradient.png', 'noise.png'].map((f) => join(ROOT, 'fixtures', 'i2t', 'images', f));
const NEW_TOKENS = 8;

interface RefCase {
  generated_text: string | null;
  tokens: number[];
  sequence_score?: number;
}

interface Prediction {
  generated_text: string;
  tokens: number[];
  num_beams: number;
  sequence_score?: number;
  seed?: number;
}

async function predictions(home: string, args: string[]): Promise<Prediction[]> {
  const r = await cli(['predict', 'captioner', ...IMAGES, '--max-new-tokens', String(NEW_TOKENS), ...args, '--json'], { home });
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout).predictions as Prediction[];
}

describe('image-to-text: beam search and sampling', () => {
  it('beam search equal to generate(num_beams=N); seeded sampling reproducible; serve takes both and reports what it does not apply', async () => {
    const root = converterRoot();
    const hf = converterReferencePython();
    const python = parityPython();
    if (!root || !hf || !python) return;
    const home = fileDir('modelctl-i2t-beam-home-');
    const exported = await cli(['export', FOLDER, '--name', 'captioner', '--python', familyPython(root, 'hf')], { home });
    expect(exported.exitCode, exported.stderr).toBe(0);

    const greedy = await predictions(home, []);
    for (const beams of [3, 4]) {
      const request = { folder: FOLDER, images: IMAGES, max_new_tokens: NEW_TOKENS, num_beams: beams };
      const old = await reference<{ cases: RefCase[] }>(hf, 'image_to_text', request);
      const v5 = await reference<{ cases: RefCase[] }>(python, 'image_to_text', { ...request, pipeline: false });
      const got = await predictions(home, ['--num-beams', String(beams)]);
      expect(got).toHaveLength(IMAGES.length);
      for (const [i, p] of got.entries()) {
        const label = `${IMAGES[i]} ${beams} beams`;
        expect(p.num_beams, label).toBe(beams);
        expect(p.tokens, label).toEqual(old.cases[i]?.tokens);
        expect(p.generated_text, label).toBe(old.cases[i]?.generated_text);
        expect(p.tokens, label).toEqual(v5.cases[i]?.tokens);
        expect(Math.abs((p.sequence_score as number) - (v5.cases[i]?.sequence_score as number)), label).toBeLessThan(1e-4);
      }
      // Four beams find another caption for the gradient than greedy decoding does.
      if (beams === 4) expect(got[0]?.tokens).not.toEqual(greedy[0]?.tokens);
    }

    // Sampling: the same seed, the same tokens; the seed reported; other settings of the sampler taken.
    const sampled = await predictions(home, ['--seed', '7']);
    expect(await predictions(home, ['--seed', '7'])).toEqual(
      sampled.map((p) => expect.objectContaining({ tokens: p.tokens, generated_text: p.generated_text })),
    );
    for (const p of sampled) expect(p.seed).toBe(7);
    // On this fixture seed 8 draws other tokens than seed 7 (and than greedy decoding): the seed reaches the sampler.
    const other = await predictions(home, ['--seed', '8']);
    expect(other.map((p) => p.tokens)).not.toEqual(sampled.map((p) => p.tokens));
    expect(sampled.map((p) => p.tokens)).not.toEqual(greedy.map((p) => p.tokens));
    const warped = ['--temperature', '0.7', '--top-k', '20', '--top-p', '0.9', '--seed', '3'];
    expect((await predictions(home, warped)).map((p) => p.tokens)).toEqual((await predictions(home, warped)).map((p) => p.tokens));
    const beamSampling = await cli(['predict', 'captioner', IMAGES[0] as string, '--num-beams', '2', '--seed', '1'], { home });
    expect(beamSampling.exitCode).toBe(2);
    expect(beamSampling.stderr).toContain('beam search does not sample here');

    // serve: the same decoding from the request's fields.
    const server = await serve({ registry: new Registry({ home }) });
    const image = readFileSync(IMAGES[0] as string).toString('base64');
    const url = `${server.url}/v1/models/captioner/predict`;
    const beam = await postJson(url, { images: [image], max_new_tokens: NEW_TOKENS, num_beams: 4 });
    expect(beam.status, JSON.stringify(beam.body)).toBe(200);
    expect(beam.body.predictions[0].tokens).toEqual((await predictions(home, ['--num-beams', '4']))[0]?.tokens);
    expect(beam.body.warnings).toBeUndefined();
    const sample = await postJson(url, { images: [image], max_new_tokens: NEW_TOKENS, do_sample: true, seed: 7 });
    expect(sample.status, JSON.stringify(sample.body)).toBe(200);
    expect(sample.body.predictions[0].tokens).toEqual(sampled[0]?.tokens);
    expect(sample.body.predictions[0].seed).toBe(7);
    const refused = await postJson(url, { images: [image], num_beams: 2, do_sample: true });
    expect(refused.status).toBe(400);

    // A generation_config.json setting modelctl does not apply (max_time): a warning on the command line's stderr,
    // and "warnings" in serve's answer.
    const copy = join(fileDir('modelctl-i2t-warn-'), 'model');
    cpSync(FOLDER, copy, { recursive: true });
    const configPath = join(copy, 'generation_config.json');
    writeFileSync(configPath, JSON.stringify({ ...JSON.parse(readFileSync(configPath, 'utf8')), max_time: 600 }));
    const warnExport = await cli(['export', copy, '--name', 'timed', '--python', familyPython(root, 'hf')], { home });
    expect(warnExport.exitCode, warnExport.stderr).toBe(0);
    const warned = await cli(['predict', 'timed', IMAGES[0] as string, '--max-new-tokens', '4', '--num-beams', '2', '--json'], { home });
    expect(warned.exitCode, warned.stderr).toBe(0);
    const message =
      "generation_config.json sets max_time, which modelctl does not apply: the output may differ from transformers' generate()";
    expect(warned.stderr).toContain(`warning: ${message}`);
    const servedWarn = await postJson(`${server.url}/v1/models/timed/predict`, { images: [image], max_new_tokens: 4, num_beams: 2 });
    expect(servedWarn.status, JSON.stringify(servedWarn.body)).toBe(200);
    expect(servedWarn.body.warnings).toEqual([message]);
    expect(servedWarn.body.predictions[0].tokens).toEqual(JSON.parse(warned.stdout).predictions[0].tokens);
  }, 900_000);
});
