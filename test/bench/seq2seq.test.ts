/**
 * bench on the encoder-decoder models (text2text-generation: s2s-t5-tiny and s2s-bart-tiny; automatic-speech-
 * recognition: asr-whisper-tiny; image-to-text: i2t-vit-gpt2-tiny), each exported by the real converter: the
 * encoder's time and rate, time to first token, decode tokens/s, as JSON and as a table. No timed assertions: the
 * fields exist, every run makes exactly --new-tokens tokens, the rates are positive, bad flags exit 2.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { benchSeq2Seq, seq2seqBenchDecoding, syntheticAudio } from '../../src/bench/seq2seq.js';
import { imageToTextParts } from '../../src/predict/image-to-text.js';
import { seq2seqParts } from '../../src/predict/seq2seq.js';
import { speechParts } from '../../src/predict/speech.js';
import { resolveModel } from '../../src/predict/predict.js';
import { Registry } from '../../src/registry/index.js';
import { converterRoot, familyPython } from '../convert/env.js';
import { FIXTURES, cli, fileDir } from '../helpers.js';

const MODELS = ['s2s-t5-tiny', 's2s-bart-tiny', 'asr-whisper-tiny', 'i2t-vit-gpt2-tiny'];

/** One registry home with the four fixtures exported (the converter's venv; null when it is missing outside CI). */
let exported: Promise<string | null> | undefined;
function exportedHome(): Promise<string | null> {
  exported ??= (async () => {
    const root = converterRoot();
    if (!root) return null;
    const home = fileDir('modelctl-bench-s2s-');
    for (const name of MODELS) {
      const r = await cli(['export', join(FIXTURES, name), '--name', name, '--python', familyPython(root, 'hf'), '--json'], { home });
      expect(r.exitCode, r.stderr).toBe(0);
    }
    return home;
  })();
  return exported;
}

interface Stats {
  count: number;
  min: number;
  p50: number;
  max: number;
}

function checkStats(s: Stats, runs: number, what: string): void {
  expect(s.count, what).toBe(runs);
  expect(s.min, what).toBeGreaterThan(0);
  expect(s.max, what).toBeGreaterThanOrEqual(s.p50);
}

/** Each fixture: its task, the flags of its input, the input field and the encoder rate field of its results. */
const CASES = [
  {
    name: 's2s-t5-tiny',
    task: 'text2text-generation',
    flags: ['--prompt-tokens', '5,12'],
    input: 'prompt_tokens',
    rate: 'input_tokens_per_second',
  },
  {
    name: 's2s-bart-tiny',
    task: 'text2text-generation',
    flags: ['--prompt-tokens', '7'],
    input: 'prompt_tokens',
    rate: 'input_tokens_per_second',
  },
  {
    name: 'asr-whisper-tiny',
    task: 'automatic-speech-recognition',
    flags: ['--seconds', '4'],
    input: 'audio_seconds',
    rate: 'audio_seconds_per_second',
  },
  { name: 'i2t-vit-gpt2-tiny', task: 'image-to-text', flags: [], input: 'image_size', rate: 'images_per_second' },
] as const;

describe('bench: encoder-decoder models', () => {
  for (const c of CASES) {
    it(`${c.name}: exactly --new-tokens tokens per run, greedy and beam search, JSON and table`, async () => {
      const home = await exportedHome();
      if (!home) return;
      const r = await cli(['bench', c.name, ...c.flags, '--new-tokens', '9', '--warmup', '1', '--iterations', '3', '--json'], { home });
      expect(r.exitCode, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout);
      expect(doc).toMatchObject({
        model: `${c.name}:1.0.0`,
        task: c.task,
        provider: 'cpu',
        mode: { warmup: 1, iterations: 3, num_beams: 1 },
      });
      expect(doc.host.onnxruntime).toEqual(expect.any(String));
      expect(doc.results.length).toBe(c.name === 's2s-t5-tiny' ? 2 : 1);
      if (c.name === 's2s-t5-tiny') expect(doc.results.map((x: { prompt_tokens: number }) => x.prompt_tokens)).toEqual([5, 12]);
      for (const x of doc.results) {
        expect(x).toMatchObject({ new_tokens: 9, num_beams: 1, runs: 3, generated_tokens: [9, 9, 9] });
        expect(x[c.input]).toBeDefined();
        for (const k of ['encoder_ms', 'time_to_first_token_ms', 'decode_ms']) checkStats(x[k], 3, k);
        // The first token comes after the encoder's run.
        expect(x.time_to_first_token_ms.max).toBeGreaterThanOrEqual(x.encoder_ms.min);
        expect(x[c.rate]).toBeGreaterThan(0);
        expect(x.decode_tokens_per_second).toBeGreaterThan(0);
        expect(x.encoder_length).toBeGreaterThan(0);
        expect(x.decoder_prompt_tokens).toBe(c.task === 'automatic-speech-recognition' ? 4 : 1);
      }
      if (c.task === 'automatic-speech-recognition') expect(doc.results[0].audio_seconds).toBe(4);
      if (c.task === 'image-to-text') expect(doc.results[0].image_size).toEqual([32, 32]);
      // Beam search: still exactly --new-tokens tokens; no time to first token (known only at its end).
      const beams = await cli(
        ['bench', c.name, ...c.flags, '--new-tokens', '3', '--num-beams', '2', '--warmup', '0', '--iterations', '1', '--json'],
        {
          home,
        },
      );
      expect(beams.exitCode, beams.stderr).toBe(0);
      const b = JSON.parse(beams.stdout);
      expect(b.mode.num_beams).toBe(2);
      for (const x of b.results) {
        expect(x).toMatchObject({ new_tokens: 3, num_beams: 2, generated_tokens: [3], time_to_first_token_ms: null });
        expect(x.decode_tokens_per_second).toBeGreaterThan(0);
      }
      // The table: one row per input, with the encoder's rate in its unit.
      const table = await cli(['bench', c.name, '--new-tokens', '2', '--warmup', '0', '--iterations', '1'], { home });
      expect(table.exitCode, table.stderr).toBe(0);
      expect(table.stdout).toMatch(/ENCODER P50 +ENCODER RATE +TTFT P50 +TTFT MAX +DECODE TOK\/S +DECODE P50/);
      const unit = { input_tokens_per_second: 'tok/s', audio_seconds_per_second: 'audio s/s', images_per_second: 'img/s' }[c.rate];
      expect(table.stdout).toContain(unit);
      expect(table.stdout).toMatch(new RegExp(`${c.name}:1\\.0\\.0 +cpu +auto +`));
    }, 300_000);
  }

  it('synthetic audio: seeded, of the length asked, within [-1, 1], not silent', () => {
    const a = syntheticAudio(0.5, 16000);
    expect(a.length).toBe(8000);
    expect(syntheticAudio(0.5, 16000)).toEqual(a);
    expect(syntheticAudio(0.5, 16000, 7)).not.toEqual(a);
    const peak = a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(peak).toBeGreaterThan(0.05);
    expect(peak).toBeLessThanOrEqual(1);
  });

  it('the library reports every run; one new token has no decode rate', async () => {
    const home = await exportedHome();
    if (!home) return;
    const registry = new Registry({ home });
    const events: string[] = [];
    const report = await benchSeq2Seq({
      model: 'asr-whisper-tiny',
      registry,
      resolved: await resolveModel('asr-whisper-tiny', registry),
      seconds: 2,
      newTokens: 1,
      warmup: 1,
      iterations: 2,
      threads: 1,
      onProgress: (e) => events.push(`${e.phase}:${e.done}`),
    });
    expect(events).toEqual(['session:0', 'warmup:0', 'timing:0', 'timing:1']);
    expect(report.threads).toBe(1);
    expect(report.results[0]).toMatchObject({ audio_seconds: 2, generated_tokens: [1, 1], decode_tokens_per_second: null });
  }, 300_000);

  it("predict's preparation with the bench's decoding ignores end tokens for each kind (predict's own stops at them)", async () => {
    const home = await exportedHome();
    if (!home) return;
    // The tiny fixtures seldom choose an end token on the bench's inputs, so the exact counts above alone would not show it.
    const registry = new Registry({ home });
    const settingsOf = async (name: string, generation: Record<string, unknown>) => {
      const m = await resolveModel(name, registry);
      const o = { model: name, registry, generation };
      const parts =
        name === 'asr-whisper-tiny'
          ? await speechParts(name, m, o).then((p) => ({ settings: p.setup.settings, release: p.release }))
          : name === 'i2t-vit-gpt2-tiny'
            ? await imageToTextParts(name, m, o).then((p) => ({ settings: p.setup.settings, release: p.release }))
            : await seq2seqParts(name, m, 'text2text-generation', o);
      await parts.release();
      return parts.settings;
    };
    for (const name of MODELS) {
      expect((await settingsOf(name, {})).eosTokenIds.length, name).toBeGreaterThan(0);
      const bench = await settingsOf(name, seq2seqBenchDecoding(7, 3));
      expect(bench, name).toMatchObject({ eosTokenIds: [], maxNewTokens: 7, doSample: false, numBeams: 3, repetitionPenalty: 1 });
    }
  }, 300_000);

  it('refuses what does not fit: positions, the window, flags of other models', async () => {
    const home = await exportedHome();
    if (!home) return;
    const refused = async (args: string[], message: RegExp): Promise<void> => {
      const r = await cli(['bench', ...args], { home });
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
    };
    // The fixtures' decoders have 64 positions; Whisper's prompt is 4 tokens (start, language, task, no timestamps).
    await refused(
      ['asr-whisper-tiny', '--new-tokens', '61'],
      /--new-tokens 61 and the decoder's 4-token prompt need 65 positions; the decoder has 64/,
    );
    await refused(['s2s-bart-tiny', '--new-tokens', '64'], /need 65 positions; the decoder has 64/);
    await refused(['s2s-bart-tiny', '--prompt-tokens', '65'], /--prompt-tokens 65: the model reads 64 tokens at most/);
    await refused(['asr-whisper-tiny', '--seconds', '31'], /--seconds 31: the model reads 30 s of audio at a time/);
    await refused(['asr-whisper-tiny', '--seconds', '0'], /--seconds takes a number above 0/);
    await refused(['asr-whisper-tiny', '--prompt-tokens', '8'], /--prompt-tokens: not for an automatic-speech-recognition model/);
    await refused(['i2t-vit-gpt2-tiny', '--seconds', '3'], /--seconds: not for an image-to-text model/);
    await refused(['s2s-t5-tiny', '--vs', 'threads=2', '--e2e'], /--vs, --e2e: not for a text2text-generation model/);
    await refused(['s2s-t5-tiny', '--num-beams', '0'], /--num-beams/);
    // The latency bench's models take none of the generative flags.
    const iris = await cli(['register', join(FIXTURES, 'iris-logreg', 'model.onnx'), '--name', 'iris'], { home });
    expect(iris.exitCode, iris.stderr).toBe(0);
    await refused(['iris', '--seconds', '3', '--num-beams', '2'], /--seconds, --num-beams: for generative models/);
  }, 300_000);
});
