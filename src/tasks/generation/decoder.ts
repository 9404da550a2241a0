import type { Tensor } from 'onnxruntime-node';
import { ModelctlError } from '../../errors.js';
import type { OnnxValueInfo } from '../../onnx/summary.js';
import { floatData, runSession, type RunContext } from '../tensors.js';

/**
 * A decoder-only ONNX export (optimum's text-generation-with-past) run with its KV cache: the prompt goes through
 * once (prefill, with empty past_key_values.*), then one token per run, each run fed the present.* outputs of the
 * one before as its past_key_values.*. attention_mask covers the past and the new tokens; position_ids, when the
 * graph takes them, count on from the prompt (the cumulative mask minus one, as generate() derives them).
 */

interface PastSlot {
  input: string;
  output: string;
  dtype: 'float32' | 'float16';
  /** [heads, head_dim]: the fixed dimensions around the sequence axis (dims 1 and 3). */
  heads: number;
  headDim: number;
}

export interface DecoderLayout {
  slots: PastSlot[];
  positionIds: boolean;
  attentionMask: boolean;
  logits: string;
}

const PAST = /^past_key_values\.(\d+)\.(key|value)$/;

/** The KV-cache interface of the graph, or an error naming what a text-generation model lacks. */
export function decoderLayout(inputs: readonly OnnxValueInfo[], outputs: readonly OnnxValueInfo[]): DecoderLayout {
  const names = new Set(inputs.map((i) => i.name));
  const outNames = new Set(outputs.map((o) => o.name));
  if (!names.has('input_ids') || !outNames.has('logits')) {
    throw new ModelctlError('INVALID_INPUT', 'a text-generation model takes input_ids and gives logits; this one does not', {
      hint: 'export the causal language model with `modelctl export FOLDER` (task text-generation), or run it with --task raw',
    });
  }
  const slots: PastSlot[] = [];
  for (const i of inputs) {
    const m = PAST.exec(i.name);
    if (!m) continue;
    const output = `present.${m[1]}.${m[2]}`;
    const heads = i.shape?.[1];
    const headDim = i.shape?.[3];
    if (!outNames.has(output) || typeof heads !== 'number' || typeof headDim !== 'number' || i.shape?.length !== 4) {
      throw new ModelctlError(
        'INVALID_INPUT',
        `cache input ${i.name} has no matching ${output} output of [batch, heads, length, head_dim]`,
        {
          hint: 'modelctl runs the KV cache of optimum exports (past_key_values.N.key/value in, present.N.key/value out)',
        },
      );
    }
    if (i.dtype !== 'float32' && i.dtype !== 'float16')
      throw new ModelctlError('INVALID_INPUT', `cache input ${i.name} is ${String(i.dtype)}: float32 or float16 expected`);
    slots.push({ input: i.name, output, dtype: i.dtype, heads, headDim });
  }
  const known = new Set(['input_ids', 'attention_mask', 'position_ids', ...slots.map((s) => s.input)]);
  const unknown = inputs.filter((i) => !known.has(i.name)).map((i) => i.name);
  if (unknown.length > 0) {
    throw new ModelctlError('INVALID_INPUT', `the text-generation model takes inputs modelctl does not feed: ${unknown.join(', ')}`, {
      hint: 'export it again with `modelctl export` (one decoder with past_key_values inputs), or run it with --task raw',
    });
  }
  return { slots, positionIds: names.has('position_ids'), attentionMask: names.has('attention_mask'), logits: 'logits' };
}

/**
 * One sequence's decoder state: the cache tensors and how many positions they hold.
 *
 * Nothing of the cache is copied in JavaScript: the present.* tensors a run returns are handed, as they are, to the
 * next run as its past_key_values.* (the graph itself appends the new position to them). onnxruntime-node 1.30 does
 * take pre-allocated outputs, but it returns a fresh copy of each output even then, so double-buffered outputs would
 * save no copy and are not used. The attention mask is a view of one buffer of ones that grows by doubling, and the
 * logits of the last position a view of the run's output, not copies.
 */
export class DecoderState {
  private past = new Map<string, Tensor>();
  private ones = new BigInt64Array(0);
  /** Positions in the cache (tokens already run). */
  length = 0;

  constructor(
    private readonly ctx: RunContext,
    private readonly layout: DecoderLayout,
  ) {}

  private int64(values: number[], dims: number[]): Tensor {
    return new this.ctx.Tensor(
      'int64',
      BigInt64Array.from(values, (v) => BigInt(v)),
      dims,
    );
  }

  /** [1, total] ones, over a buffer kept from run to run. */
  private mask(total: number): Tensor {
    if (this.ones.length < total) this.ones = new BigInt64Array(Math.max(total, 2 * this.ones.length, 64)).fill(1n);
    return new this.ctx.Tensor('int64', this.ones.subarray(0, total), [1, total]);
  }

  private emptyPast(slot: PastSlot): Tensor {
    const dims = [1, slot.heads, 0, slot.headDim];
    return slot.dtype === 'float16'
      ? new this.ctx.Tensor('float16', new Uint16Array(0), dims)
      : new this.ctx.Tensor('float32', new Float32Array(0), dims);
  }

  /**
   * Runs `ids` after what the cache holds; returns the logits of the last position (a view of this run's output,
   * which the caller may change: nothing else reads it). Without a cache in the graph, the whole sequence so far is
   * run again each time.
   */
  async feed(ids: readonly number[], history: readonly number[]): Promise<Float32Array> {
    const cached = this.layout.slots.length > 0;
    const run = cached ? ids : history;
    const start = cached ? this.length : 0;
    const total = start + run.length;
    const feeds: Record<string, Tensor> = { input_ids: this.int64([...run], [1, run.length]) };
    if (this.layout.attentionMask) feeds.attention_mask = this.mask(total);
    if (this.layout.positionIds)
      feeds.position_ids = this.int64(
        Array.from({ length: run.length }, (_, i) => start + i),
        [1, run.length],
      );
    for (const slot of this.layout.slots) feeds[slot.input] = this.past.get(slot.input) ?? this.emptyPast(slot);
    const fetch = [this.layout.logits, ...this.layout.slots.map((s) => s.output)];
    const out = await runSession(this.ctx, feeds, fetch);
    for (const slot of this.layout.slots) {
      const present = out[slot.output];
      if (!present) throw new ModelctlError('INVALID_INPUT', `the model gave no ${slot.output}`);
      const old = this.past.get(slot.input);
      if (old && old !== present) old.dispose?.();
      this.past.set(slot.input, present);
    }
    this.length = total;
    const logits = out[this.layout.logits];
    const dims = logits?.dims ?? [];
    if (!logits || dims.length !== 3 || dims[1] !== run.length) {
      throw new ModelctlError('INVALID_INPUT', `output logits has shape [${dims.join(', ')}]; [1, ${run.length}, vocab] expected`, {
        hint: 'the model is not a causal language model: run it with --task raw',
      });
    }
    const vocab = dims[2] as number;
    return floatData(logits, 'output logits', (run.length - 1) * vocab, run.length * vocab);
  }

  dispose(): void {
    for (const t of this.past.values()) t.dispose?.();
    this.past.clear();
  }
}
