/**
 * `modelctl predict` on an encoder-decoder model as a person and a script use it: greedy text printed as it comes
 * and beam search's printed at the end both equal the JSON's text, --task picks the pipelines' output name, stop
 * strings cut greedy text, a BART folder exports for generation without --task, and what does not fit is refused in
 * one line.
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { converterRoot, familyPython } from '../convert/env.js';
import { Registry } from '../../src/registry/index.js';
import { FIXTURES, cli, fileDir } from '../helpers.js';
import { postJson, serve } from '../serve/helpers.js';

const firstLine = (text: string): string => text.trim().split('\n')[0] ?? '';

describe('predict text2text-generation from the command line', () => {
  it('prints the text greedy and by beam search, names it by task, and refuses what does not fit', async () => {
    const root = converterRoot();
    if (!root) return;
    const home = fileDir('modelctl-s2s-cli-');
    const out = fileDir('modelctl-s2s-cli-out-');
    const exported = await cli(
      ['export', join(FIXTURES, 's2s-t5-tiny'), '--name', 't5', '--python', familyPython(root, 'hf'), '--out', out],
      { home },
    );
    expect(exported.exitCode, exported.stderr).toBe(0);
    const text = 'héllo wörld, ça va? 東京 🙂';
    const gen = ['--max-new-tokens', '12', '--no-repeat-ngram-size', '2'];

    for (const beams of ['1', '3']) {
      const json = await cli(['predict', 't5', text, ...gen, '--num-beams', beams, '--json'], { home });
      expect(json.exitCode, json.stderr).toBe(0);
      const p = JSON.parse(json.stdout).predictions[0];
      expect(p.num_beams).toBe(Number(beams));
      expect(p.tokens.length).toBeLessThanOrEqual(12);
      expect(typeof p.generated_text).toBe('string');
      const shown = await cli(['predict', 't5', text, ...gen, '--num-beams', beams, '--table'], { home });
      expect(shown.exitCode, shown.stderr).toBe(0);
      expect(shown.stdout).toBe(p.generated_text);
    }

    // --task: the same model, the pipelines' names for its text.
    for (const [task, key] of [
      ['translation', 'translation_text'],
      ['summarization', 'summary_text'],
    ]) {
      const r = await cli(['predict', 't5', text, ...gen, '--task', task as string, '--json'], { home });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(Object.keys(JSON.parse(r.stdout).predictions[0])).toContain(key);
    }

    // Sampling: a seed repeats itself, another seed gives other tokens.
    const sampled = async (seed: string) => {
      const r = await cli(['predict', 't5', text, '--max-new-tokens', '16', '--temperature', '1.5', '--seed', seed, '--json'], { home });
      expect(r.exitCode, r.stderr).toBe(0);
      return JSON.parse(r.stdout).predictions[0];
    };
    const [a, b, other] = [await sampled('7'), await sampled('7'), await sampled('8')];
    expect(a.tokens).toEqual(b.tokens);
    expect(a.seed).toBe(7);
    expect(other.tokens).not.toEqual(a.tokens);

    // serve's task-level predict: the same tokens, beam search in transformers' names.
    const server = await serve({ registry: new Registry({ home }) });
    const url = `${server.url}/v1/models/t5/predict`;
    for (const beams of [1, 3]) {
      const want = JSON.parse((await cli(['predict', 't5', text, ...gen, '--num-beams', String(beams), '--json'], { home })).stdout);
      const served = await postJson(url, { texts: [text], max_new_tokens: 12, no_repeat_ngram_size: 2, num_beams: beams });
      expect(served.status, JSON.stringify(served.body)).toBe(200);
      expect(served.body.predictions[0].tokens).toEqual(want.predictions[0].tokens);
    }
    expect((await postJson(url, { texts: [text], early_stopping: 'soon' })).status).toBe(400);

    // A stop string from inside the greedy text: the text ends right before it.
    const greedy = JSON.parse((await cli(['predict', 't5', text, ...gen, '--json'], { home })).stdout).predictions[0];
    const whole = greedy.generated_text as string;
    const stop = whole.slice(3, 5);
    expect(stop).toHaveLength(2);
    const cut = JSON.parse((await cli(['predict', 't5', text, ...gen, '--stop', stop, '--json'], { home })).stdout).predictions[0];
    expect(cut.finish_reason).toBe('stop');
    expect(cut.generated_text).toBe(whole.slice(0, whole.indexOf(stop)));

    const refusals: Array<[string[], number, string]> = [
      [['t5', '--chat', 'hi'], 2, 'error: --chat is for text-generation models, not text2text-generation'],
      [
        ['t5', text, '--num-beams', '3', '--temperature', '0.7'],
        2,
        'error: beam search does not sample here: give --num-beams 1 to sample, or --no-sample',
      ],
      [
        [join(FIXTURES, 'optimum-bert', 'model.onnx'), 'a text', '--num-beams', '2'],
        2,
        'error: --num-beams is for encoder-decoder models, not text-classification',
      ],
    ];
    for (const [args, code, message] of refusals) {
      const r = await cli(['predict', ...args], { home });
      expect(r.exitCode, r.stderr).toBe(code);
      expect(firstLine(r.stderr)).toBe(message);
    }
    // BART's generation class is also transformers' masked LM class (optimum infers fill-mask): exported for generation.
    const bart = await cli(['export', join(FIXTURES, 's2s-bart-tiny'), '--name', 'bart', '--python', familyPython(root, 'hf'), '--json'], {
      home,
    });
    expect(bart.exitCode, bart.stderr).toBe(0);
    expect(JSON.parse(bart.stdout).task).toBe('text2text-generation');
    // Longer than BART's 64 learned positions: refused before the encoder runs.
    const long = await cli(['predict', 'bart', Array.from({ length: 80 }, (_, i) => `word${i}`).join(' ')], { home });
    expect(long.exitCode).toBe(2);
    expect(firstLine(long.stderr)).toMatch(/^error: the text is \d+ tokens; the model reads 64 at most$/);
    // The encoder alone, without its decoder beside it.
    const alone = join(fileDir('modelctl-s2s-alone-'), 'encoder_model.onnx');
    copyFileSync(join(out, 'encoder_model.onnx'), alone);
    const lonely = await cli(['predict', alone, text], { home });
    expect(lonely.exitCode).toBe(2);
    expect(firstLine(lonely.stderr)).toBe(
      'error: no decoder_model_merged.onnx beside encoder_model.onnx: an encoder-decoder model runs as both',
    );
  }, 300_000);
});
