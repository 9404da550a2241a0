import type { Tensor } from 'onnxruntime-node';
import { ModelctlError } from '../errors.js';
import { makeTensor, runSession, tensorOutputs, type RunContext } from './tensors.js';

/** Padded rows of ids from ./tokenize.ts, and the ONNX input tensors made of them (moved here to keep tokenize.ts short). */
export interface EncodedBatch {
  inputIds: number[][];
  attentionMask: number[][];
  tokenTypeIds: number[][];
  truncated: boolean[];
}

const FEEDS: Record<string, keyof Omit<EncodedBatch, 'truncated'>> = {
  input_ids: 'inputIds',
  attention_mask: 'attentionMask',
  token_type_ids: 'tokenTypeIds',
};

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Ids, masks and type ids straight into the typed array an int64 or int32 input takes, without a flat JS copy or a
 * BigInt per value: a non-negative int64 below 2^31 is its low 32-bit word with a zero high word. Undefined when a
 * row or value does not fit that pattern; makeTensor then builds the tensor (or the error) as it always has.
 */
function idTensor(ctx: RunContext, type: string, rows: readonly number[][], width: number): Tensor | undefined {
  if ((type !== 'int64' || !LITTLE_ENDIAN) && type !== 'int32') return undefined;
  const words = new Int32Array(rows.length * width * (type === 'int64' ? 2 : 1));
  const step = type === 'int64' ? 2 : 1;
  let at = 0;
  for (const row of rows) {
    if (row.length !== width) return undefined;
    for (let i = 0; i < width; i++) {
      const v = row[i] as number;
      if (!(v >= 0 && v <= 0x7fffffff) || !Number.isInteger(v)) return undefined;
      words[at] = v;
      at += step;
    }
  }
  const dims = [rows.length, width];
  return type === 'int64' ? new ctx.Tensor('int64', new BigInt64Array(words.buffer), dims) : new ctx.Tensor('int32', words, dims);
}

/** The tensors the model takes (only those), in its element types; an input a tokenizer cannot fill is an error. */
export function textFeeds(ctx: RunContext, batch: EncodedBatch): Record<string, Tensor> {
  const rows = batch.inputIds.length;
  const width = batch.inputIds[0]?.length ?? 0;
  const feeds: Record<string, Tensor> = {};
  for (const input of ctx.inputs) {
    const key = FEEDS[input.name];
    if (!key) {
      throw new ModelctlError('INVALID_INPUT', `the model takes input ${input.name}, which a tokenizer does not produce`, {
        hint: `a text task fills ${Object.keys(FEEDS).join(', ')}; run the model with --task raw`,
      });
    }
    const type = input.dtype ?? 'int64';
    feeds[input.name] = idTensor(ctx, type, batch[key], width) ?? makeTensor(ctx, input.name, type, [rows, width], batch[key].flat());
  }
  if (!feeds.input_ids)
    throw new ModelctlError('INVALID_INPUT', 'the model has no input_ids input: it does not take text', { hint: 'run it with --task raw' });
  return feeds;
}

/**
 * One run of a per-token head (token classification, masked LM): its `logits` output (else the first tensor
 * output), checked to be [texts, tokens, width]; `needs` and `hint` word the refusal of another shape.
 */
export async function tokenLogits(
  ctx: RunContext,
  batch: EncodedBatch,
  rows: number,
  needs: string,
  hint: string,
): Promise<{ data: ArrayLike<number>; width: number }> {
  const fetch = tensorOutputs(ctx);
  const name = fetch.find((n) => n === 'logits') ?? fetch[0];
  if (!name) throw new ModelctlError('INVALID_INPUT', 'the model has no tensor output');
  const out = (await runSession(ctx, textFeeds(ctx, batch), [name]))[name];
  const dims = out?.dims ?? [];
  const tokens = batch.inputIds[0]?.length ?? 0;
  if (!out || dims.length !== 3 || dims[0] !== rows || dims[1] !== tokens) {
    throw new ModelctlError('INVALID_INPUT', `output ${name} has shape [${dims.join(', ')}]; ${needs}`, { hint });
  }
  return { data: out.data as ArrayLike<number>, width: dims[2] as number };
}
