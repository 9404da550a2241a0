/**
 * predict given the decoder file of an encoder-decoder version checked out into a folder (optimum's
 * decoder_model_merged.onnx beside config.json): a usage error naming the encoder file to give, not ONNX Runtime's
 * "input ... is missing in feeds".
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { converterRoot, familyPython } from '../convert/env.js';
import { FIXTURES, ROOT, cli, fileDir } from '../helpers.js';

describe('predict on the files of a checked-out encoder-decoder version', () => {
  it('runs from encoder_model.onnx and refuses decoder_model_merged.onnx with the encoder to give', async () => {
    const root = converterRoot();
    if (!root) return;
    const home = fileDir('modelctl-decoder-file-home-');
    const out = fileDir('modelctl-decoder-file-out-');
    const exported = await cli(['export', join(FIXTURES, 's2s-t5-tiny'), '--name', 't5', '--python', familyPython(root, 'hf'), '--json'], {
      home,
    });
    expect(exported.exitCode, exported.stderr).toBe(0);
    // Several files need a folder: --out named like one file is refused, and nothing more is registered.
    const named = join(fileDir('modelctl-decoder-file-named-'), 'model.onnx');
    const refused = await cli(
      ['export', join(FIXTURES, 's2s-t5-tiny'), '--name', 't5b', '--python', familyPython(root, 'hf'), '--out', named],
      {
        home,
      },
    );
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain(
      `error: the model exports as 2 files (encoder_model.onnx, decoder_model_merged.onnx): --out takes a folder, not ${named}`,
    );
    expect(existsSync(named)).toBe(false);
    expect((await cli(['list', '--json'], { home })).stdout).not.toContain('t5b');
    const checkout = await cli(['checkout', 't5', out], { home });
    expect(checkout.exitCode, checkout.stderr).toBe(0);
    expect(existsSync(join(out, 'decoder_model_merged.onnx'))).toBe(true);
    const encoder = await cli(
      ['predict', join(out, 'encoder_model.onnx'), 'translate English to German: hi', '--max-new-tokens', '3', '--json'],
      {
        home,
      },
    );
    expect(encoder.exitCode, encoder.stderr).toBe(0);
    expect(JSON.parse(encoder.stdout).predictions[0].tokens).toHaveLength(3);
    const decoder = await cli(['predict', join(out, 'decoder_model_merged.onnx'), 'hi', '--max-new-tokens', '3'], { home });
    expect(decoder.exitCode).toBe(2);
    expect(decoder.stderr.split('\n')).toEqual([
      'error: decoder_model_merged.onnx is the decoder of an encoder-decoder model; predict opens its encoder',
      `hint: give ${join(out, 'encoder_model.onnx')} (the decoder_model_merged.onnx beside it is found), or a registry version`,
    ]);
  });

  it('refuses a captioner’s decoder file the same way, whatever task its folder suggests (it was taken for an image classifier)', async () => {
    const root = converterRoot();
    if (!root) return;
    const home = fileDir('modelctl-decoder-file-home-');
    const out = fileDir('modelctl-decoder-file-out-');
    const exported = await cli(['export', join(FIXTURES, 'i2t-vit-gpt2-tiny'), '--name', 'cap', '--python', familyPython(root, 'hf')], {
      home,
    });
    expect(exported.exitCode, exported.stderr).toBe(0);
    expect((await cli(['checkout', 'cap', out], { home })).exitCode).toBe(0);
    const image = join(ROOT, 'fixtures', 'i2t', 'images', readdirSync(join(ROOT, 'fixtures', 'i2t', 'images'))[0] as string);
    const decoder = await cli(['predict', join(out, 'decoder_model_merged.onnx'), image], { home });
    expect(decoder.exitCode).toBe(2);
    expect(decoder.stderr).toContain(
      'error: decoder_model_merged.onnx is the decoder of an encoder-decoder model; predict opens its encoder',
    );
  });
});
