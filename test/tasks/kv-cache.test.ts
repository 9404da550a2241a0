/**
 * The KV cache is handed from run to run without copies: on the tiny GPT-2 and T5 that `modelctl export` made from
 * fixtures/models (real onnxruntime-node sessions, every run observed as it passes), the past_key_values.* fed to
 * step n+1 are the very tensors (same objects, same buffers) step n returned as present.*; an encoder-decoder's
 * cross-attention cache is the first step's tensor on every later step and is not fetched again; and the tokens are
 * those predict gives (which the parity tests hold to transformers' generate()).
 */
import { join } from 'node:path';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { prepareGeneration } from '../../src/predict/generation.js';
import { predict, resolveModel } from '../../src/predict/predict.js';
import { readOnnxSummary } from '../../src/onnx/summary.js';
import { onnxPartPaths } from '../../src/registry/companion-files.js';
import { Registry } from '../../src/registry/index.js';
import { loadOrt, openSession } from '../../src/runtime/index.js';
import { seq2seqSettings } from '../../src/tasks/generation/seq2seq-config.js';
import { seq2seqDecoderLayout } from '../../src/tasks/generation/seq2seq-decoder.js';
import { generateSeq2Seq } from '../../src/tasks/seq2seq.js';
import type { RunContext } from '../../src/tasks/tensors.js';
import { checkDecoder, generate, settingsFor } from '../../src/tasks/text-generation.js';
import { converterRoot, familyPython } from '../convert/env.js';
import { FIXTURES, cli, fileDir } from '../helpers.js';

interface Call {
  feeds: Record<string, Tensor>;
  fetch: string[];
  out: Record<string, Tensor>;
  /** The buffer under each feed and output at the time of the run (tensors are disposed once generation ends). */
  buffers: Map<Tensor, ArrayBufferLike>;
}

function buffersOf(...maps: Array<Record<string, Tensor>>): Map<Tensor, ArrayBufferLike> {
  const out = new Map<Tensor, ArrayBufferLike>();
  for (const m of maps) for (const t of Object.values(m)) if (t.type !== 'string') out.set(t, (t.data as Float32Array).buffer);
  return out;
}

/** A context over a real session whose runs are recorded (feeds, names fetched, outputs) as they pass through. */
async function observed(path: string): Promise<{ ctx: RunContext; calls: Call[]; close: () => Promise<void> }> {
  const summary = await readOnnxSummary(path);
  const opened = await openSession(path, { threads: 1 });
  const real = opened.session;
  const calls: Call[] = [];
  const session = {
    inputNames: real.inputNames,
    outputNames: real.outputNames,
    run: async (feeds: InferenceSession.FeedsType, fetch: InferenceSession.FetchesType) => {
      const out = await real.run(feeds, fetch);
      const f = feeds as Record<string, Tensor>;
      const o = out as Record<string, Tensor>;
      calls.push({ feeds: f, fetch: [...(fetch as string[])], out: o, buffers: buffersOf(f, o) });
      return out;
    },
  } as RunContext['session'];
  const ort = await loadOrt();
  return { ctx: { session, Tensor: ort.Tensor, inputs: summary.inputs, outputs: summary.outputs }, calls, close: () => real.release() };
}

async function exported(folder: string, name: string): Promise<Registry | undefined> {
  const root = converterRoot();
  if (!root) return undefined;
  const home = fileDir('modelctl-kv-');
  const r = await cli(['export', join(FIXTURES, folder), '--name', name, '--python', familyPython(root, 'hf')], { home });
  expect(r.exitCode, r.stderr).toBe(0);
  return new Registry({ home });
}

describe('the KV cache goes from one run to the next without a copy', () => {
  it('text-generation: step n+1 is fed the present.* tensors step n returned', async () => {
    const registry = await exported('gen-gpt2-tiny', 'gpt2');
    if (!registry) return;
    const m = await resolveModel('gpt2', registry);
    const base = await prepareGeneration('gpt2', m, registry);
    const { ctx, calls, close } = await observed(m.path);
    try {
      const setup = { ...base, layout: checkDecoder(ctx) };
      expect(setup.layout.slots.length).toBeGreaterThan(0);
      const settings = settingsFor(setup, { maxNewTokens: 12, doSample: false, stopAtEos: false });
      const prompt = 'The quick brown fox';
      const mine = await generate(ctx, setup, { text: prompt }, settings, { model: 'gpt2' });
      expect(mine.tokens).toHaveLength(12);
      // The prefill and one run per new token but the last.
      expect(calls).toHaveLength(12);
      for (let n = 1; n < calls.length; n++) {
        const before = calls[n - 1] as Call;
        const now = calls[n] as Call;
        for (const slot of setup.layout.slots) {
          const fed = now.feeds[slot.input] as Tensor;
          const returned = before.out[slot.output] as Tensor;
          expect(fed, `${slot.input} at run ${n}`).toBe(returned);
          expect(now.buffers.get(fed)).toBe(before.buffers.get(returned));
        }
        // The attention mask is a view of one buffer kept from run to run.
        const mask = now.feeds.attention_mask as Tensor;
        expect(mask.dims).toEqual([1, mine.prompt_tokens + n]);
        expect(now.buffers.get(mask)).toBe(before.buffers.get(before.feeds.attention_mask as Tensor));
      }
      // The same tokens as predict's own run.
      const r = await predict({
        model: 'gpt2',
        registry,
        input: { kind: 'texts', texts: [prompt] },
        threads: 1,
        generation: { maxNewTokens: 12, doSample: false, stopAtEos: false },
      });
      expect(r.predictions?.[0]).toMatchObject({ tokens: mine.tokens });
    } finally {
      await close();
    }
  });

  it('seq2seq: the self-attention cache is handed on, the cross-attention cache is the first step’s, fetched once', async () => {
    const registry = await exported('s2s-t5-tiny', 't5');
    if (!registry) return;
    const m = await resolveModel('t5', registry);
    const base = await prepareGeneration('t5', m, registry);
    const decoderFile = m.manifest?.files.find((f) => f.path === onnxPartPaths(m.manifest!)?.decoder);
    expect(decoderFile).toBeDefined();
    const encoder = await observed(m.path);
    const decoder = await observed(registry.store.layout.blob(decoderFile!.sha256));
    try {
      const layout = seq2seqDecoderLayout(decoder.ctx.inputs, decoder.ctx.outputs);
      const settings = seq2seqSettings({ maxNewTokens: 10, doSample: false, stopAtEos: false }, base.generationConfig, base.modelConfig);
      const text = 'translate English to German: the house is wonderful.';
      const mine = await generateSeq2Seq(
        encoder.ctx,
        { tokenizer: base.tokenizer, decoder: decoder.ctx, layout },
        text,
        settings,
        'text2text-generation',
      );
      expect(mine.tokens).toHaveLength(10);
      const calls = decoder.calls;
      expect(calls).toHaveLength(10);
      const first = calls[0] as Call;
      expect(first.fetch).toEqual(['logits', ...layout.slots.map((s) => s.output)]);
      for (let n = 1; n < calls.length; n++) {
        const before = calls[n - 1] as Call;
        const now = calls[n] as Call;
        expect(now.fetch).toEqual(['logits', ...layout.slots.filter((s) => s.part === 'decoder').map((s) => s.output)]);
        for (const slot of layout.slots) {
          const fed = now.feeds[slot.input] as Tensor;
          const source = slot.part === 'decoder' ? before.out[slot.output] : first.out[slot.output];
          expect(fed, `${slot.input} at step ${n}`).toBe(source);
        }
        expect(now.feeds.encoder_hidden_states).toBe(first.feeds.encoder_hidden_states);
      }
      const r = await predict({
        model: 't5',
        registry,
        input: { kind: 'texts', texts: [text] },
        threads: 1,
        task: 'text2text-generation',
        generation: { maxNewTokens: 10, doSample: false, stopAtEos: false },
      });
      expect(r.predictions?.[0]).toMatchObject({ tokens: mine.tokens });
    } finally {
      await encoder.close();
      await decoder.close();
    }
  });
});
