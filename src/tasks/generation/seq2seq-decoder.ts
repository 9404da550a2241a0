import type { Tensor } from 'onnxruntime-node';
import { ModelctlError } from '../../errors.js';
import type { OnnxValueInfo } from '../../onnx/summary.js';
import { floatData, floatTensor, runSession, type RunContext } from '../tensors.js';

/**
 * The decoder of an encoder-decoder export (optimum's decoder_model_merged.onnx) run with its KV cache, for a batch of
 * rows (one for greedy decoding, num_beams for beam search) over one encoded input:
 *
 * - inputs: input_ids [rows, 1], encoder_hidden_states [rows, source, hidden], encoder_attention_mask [rows, source]
 *   (not Whisper's),
 *   past_key_values.N.decoder.key/value (self-attention cache), past_key_values.N.encoder.key/value (cross-attention
 *   keys and values of the encoder states), use_cache_branch [1] (false: the first step, the past inputs ignored).
 * - outputs: logits and present.N.decoder/encoder.key/value.
 * - a VisionEncoderDecoder's GPT-2 decoder recomputes cross-attention each step: its cache is past_key_values.N.key/value
 *   and present.N.key/value, the self-attention cache only (taken here as the "decoder" part).
 *
 * The first step computes the cross-attention cache from the encoder states; it is kept for every later step (its
 * rows are all the same input, so reordering beams leaves it unchanged). The self-attention cache grows by one
 * position a step and is reordered with the beams.
 */

interface Slot {
  input: string;
  output: string;
  part: 'decoder' | 'encoder';
  dtype: 'float32' | 'float16';
  heads: number;
  headDim: number;
}

export interface Seq2SeqDecoderLayout {
  slots: Slot[];
  hidden: number;
  /** encoder_hidden_states' element type (float16 in a `*_fp16.onnx` decoder). */
  hiddenType: 'float32' | 'float16';
  /** Whether the decoder takes encoder_attention_mask (a text encoder's; Whisper's decoder, over fixed 30 s windows, has none). */
  mask: boolean;
}

const PAST = /^past_key_values\.(\d+)\.(?:(decoder|encoder)\.)?(key|value)$/;
const FIXED = ['input_ids', 'encoder_hidden_states', 'use_cache_branch'];
const OPTIONAL = ['encoder_attention_mask'];

function refuse(message: string): ModelctlError {
  return new ModelctlError('INVALID_INPUT', message, {
    hint: 'export the encoder-decoder model with `modelctl export FOLDER`: encoder_model.onnx and decoder_model_merged.onnx',
  });
}

/** The merged decoder's interface, or an error naming what it lacks. */
export function seq2seqDecoderLayout(inputs: readonly OnnxValueInfo[], outputs: readonly OnnxValueInfo[]): Seq2SeqDecoderLayout {
  const names = new Set(inputs.map((i) => i.name));
  const outNames = new Set(outputs.map((o) => o.name));
  const lacking = FIXED.filter((n) => !names.has(n));
  if (lacking.length > 0 || !outNames.has('logits'))
    throw refuse(`the decoder lacks ${[...lacking, ...(outNames.has('logits') ? [] : ['the logits output'])].join(', ')}`);
  const slots: Slot[] = [];
  for (const i of inputs) {
    const m = PAST.exec(i.name);
    if (!m) {
      if (!FIXED.includes(i.name) && !OPTIONAL.includes(i.name))
        throw refuse(`the decoder takes an input modelctl does not feed: ${i.name}`);
      continue;
    }
    const output = i.name.replace(/^past_key_values\./, 'present.');
    const heads = i.shape?.[1];
    const headDim = i.shape?.[3];
    const dtype = i.dtype;
    if (!outNames.has(output) || typeof heads !== 'number' || typeof headDim !== 'number' || (dtype !== 'float32' && dtype !== 'float16'))
      throw refuse(`cache input ${i.name} has no float32 or float16 ${output} output of [batch, heads, length, head_dim]`);
    slots.push({ input: i.name, output, part: (m[2] ?? 'decoder') as Slot['part'], dtype, heads, headDim });
  }
  if (slots.length === 0) throw refuse('the decoder has no past_key_values inputs');
  const states = inputs.find((i) => i.name === 'encoder_hidden_states');
  const hidden = states?.shape?.[2];
  return {
    slots,
    hidden: typeof hidden === 'number' ? hidden : -1,
    hiddenType: states?.dtype === 'float16' ? 'float16' : 'float32',
    mask: names.has('encoder_attention_mask'),
  };
}

/** How a step reorders the rows of each layer's cache (the same plan for every layer). */
export interface RowPlan {
  /** The rows to save first: one of each cycle of rows that take each other's places. */
  save: number[];
  /** In order, [to, from, saved]: row `to` takes row `from`, or, when saved >= 0, the saved copy number `saved`. */
  copies: Array<[number, number, number]>;
}

/**
 * The plan that leaves row r holding what row sources[r] held, or null when every row keeps its own. Only the rows
 * that change are written, each once, and each after every row that reads it has been written; what this order
 * cannot settle are cycles (rows taking each other's places), and one row of each is saved first.
 */
export function rowPlan(sources: readonly number[]): RowPlan | null {
  const pending = sources.map((s, r) => s !== r);
  if (!pending.includes(true)) return null;
  const readers = sources.map(() => 0);
  for (const [r, s] of sources.entries()) if (pending[r]) readers[s] = (readers[s] as number) + 1;
  const save: number[] = [];
  const copies: RowPlan['copies'] = [];
  const savedAt = new Map<number, number>();
  // Writes row `to` (no pending row reads it any more); returns the row it read.
  const write = (to: number): number => {
    const from = sources[to] as number;
    pending[to] = false;
    copies.push([to, from, savedAt.get(from) ?? -1]);
    readers[from] = (readers[from] as number) - 1;
    return from;
  };
  const ready = sources.flatMap((_, r) => (pending[r] && readers[r] === 0 ? [r] : []));
  for (let to = ready.pop(); to !== undefined; to = ready.pop()) {
    const from = write(to);
    if (pending[from] && readers[from] === 0) ready.push(from);
  }
  // The rows left form cycles, each row read by the next one: one is saved, then the cycle is walked back to it.
  for (const [r] of sources.entries()) {
    if (!pending[r]) continue;
    savedAt.set(r, save.length);
    save.push(r);
    for (let row = r; pending[row]; ) row = write(row);
  }
  return { save, copies };
}

/**
 * Applies `plan` to `data` ([rows, size] in one buffer) in place: each row that changes is written by one copy
 * within the buffer (copyWithin), or from `scratch` for the saved rows; `scratch` is returned (grown when too small)
 * to be kept for the next call. A float16 cache's half bits (Uint16Array) pass through the float32 scratch exactly.
 */
export function applyRowPlan(data: Float32Array | Uint16Array, size: number, plan: RowPlan, scratch: Float32Array): Float32Array {
  const need = plan.save.length * size;
  const buffer = scratch.length >= need ? scratch : new Float32Array(Math.max(need, 2 * scratch.length));
  for (const [k, row] of plan.save.entries()) buffer.set(data.subarray(row * size, (row + 1) * size), k * size);
  for (const [to, from, saved] of plan.copies) {
    if (saved >= 0) data.set(buffer.subarray(saved * size, (saved + 1) * size), to * size);
    else data.copyWithin(to * size, from * size, (from + 1) * size);
  }
  return buffer;
}

export class Seq2SeqDecoderState {
  private readonly past = new Map<string, Tensor>();
  private readonly hidden: Tensor;
  private readonly mask: Tensor;
  private readonly branch: [Tensor, Tensor];
  private started = false;
  /** Where rows are saved while the self-attention cache is reordered (kept from step to step). */
  private scratch: Float32Array = new Float32Array(0);

  /**
   * `encoderStates` is the encoder's last_hidden_state [1, source, hidden] (float32, see seq2seq.ts' encoderStates);
   * it is repeated for each of `rows`, in the element type the decoder takes.
   */
  constructor(
    private readonly ctx: RunContext,
    private readonly layout: Seq2SeqDecoderLayout,
    encoderStates: Tensor,
    readonly rows: number,
  ) {
    const [, source, hidden] = encoderStates.dims as [number, number, number];
    const one = encoderStates.data as Float32Array;
    let states = one;
    if (rows > 1) {
      states = new Float32Array(rows * one.length);
      for (let r = 0; r < rows; r++) states.set(one, r * one.length);
    }
    this.hidden = floatTensor(ctx, layout.hiddenType, states, [rows, source, hidden]);
    this.mask = new ctx.Tensor('int64', new BigInt64Array(rows * source).fill(1n), [rows, source]);
    this.branch = [new ctx.Tensor('bool', Uint8Array.of(0), [1]), new ctx.Tensor('bool', Uint8Array.of(1), [1])];
  }

  /**
   * Runs one token per row (after reordering the self-attention cache so that row r continues row sources[r]);
   * returns each row's next-token logits (views of the run's output, which the caller may change).
   *
   * Nothing of the cache is copied in JavaScript but the rows of beams that change places: the present.N.decoder.*
   * outputs are the next step's past inputs as they are, the cross-attention cache of the first step is fed again
   * unchanged, and after the first step present.N.encoder.* are not fetched at all (the graph passes them through;
   * fetching them would only have onnxruntime-node copy them out every step).
   */
  async step(tokens: readonly number[], sources: readonly number[] | null): Promise<Float32Array[]> {
    if (tokens.length !== this.rows) throw new Error(`${tokens.length} tokens for ${this.rows} rows`);
    // Beams that each continue themselves leave the cache as it is; otherwise only the rows that change are copied,
    // in place (the present.* tensors are this process's own copies, read by nothing else).
    const plan = sources && this.started ? rowPlan(sources) : null;
    if (plan) {
      if (sources?.length !== this.rows) throw new Error(`${sources?.length} beam sources for ${this.rows} rows`);
      for (const slot of this.layout.slots) {
        if (slot.part !== 'decoder') continue;
        const data = (this.past.get(slot.input) as Tensor).data as Float32Array | Uint16Array;
        this.scratch = applyRowPlan(data, data.length / this.rows, plan, this.scratch);
      }
    }
    const feeds: Record<string, Tensor> = {
      input_ids: new this.ctx.Tensor(
        'int64',
        BigInt64Array.from(tokens, (t) => BigInt(t)),
        [this.rows, 1],
      ),
      encoder_hidden_states: this.hidden,
      ...(this.layout.mask ? { encoder_attention_mask: this.mask } : {}),
      use_cache_branch: this.branch[this.started ? 1 : 0],
    };
    for (const slot of this.layout.slots)
      feeds[slot.input] =
        this.past.get(slot.input) ?? floatTensor(this.ctx, slot.dtype, new Float32Array(0), [this.rows, slot.heads, 0, slot.headDim]);
    // The cross-attention cache of the first step is the one every later step reads.
    const wanted = this.layout.slots.filter((s) => !this.started || s.part === 'decoder');
    const out = await runSession(this.ctx, feeds, ['logits', ...wanted.map((s) => s.output)]);
    for (const slot of wanted) {
      const present = out[slot.output];
      if (!present) throw refuse(`the decoder gave no ${slot.output}`);
      const old = this.past.get(slot.input);
      if (old && old !== present) old.dispose?.();
      this.past.set(slot.input, present);
    }
    this.started = true;
    const logits = out.logits as Tensor;
    const dims = logits.dims;
    if (dims.length !== 3 || dims[0] !== this.rows || dims[1] !== 1)
      throw refuse(`the decoder's logits have shape [${dims.join(', ')}]; [${this.rows}, 1, vocab] expected`);
    const vocab = dims[2] as number;
    const data = floatData(logits, "the decoder's logits");
    return Array.from({ length: this.rows }, (_, r) => data.subarray(r * vocab, (r + 1) * vocab));
  }

  dispose(): void {
    for (const t of this.past.values()) t.dispose?.();
    this.past.clear();
  }
}
