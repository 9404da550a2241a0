import { ModelctlError } from '../errors.js';
import type { OnnxValueInfo } from '../onnx/summary.js';

/**
 * Synthetic inputs from a model's input specs, for timing: every dimension resolved, values of the right element
 * type and in a range the model accepts (token ids inside the vocabulary, attention masks of ones, token types of
 * zeros, position ids counting up, floats in [0, 1)). Values come from a seeded generator, so that two runs, and the
 * two sides of `--vs`, feed the same bytes. Plain typed arrays: the runner wraps them in ONNX Runtime tensors.
 */

export type SyntheticData =
  | Float32Array
  | Float64Array
  | Uint16Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | string[];

export interface SyntheticInput {
  name: string;
  /** onnxruntime-node's element type name ("float32", "int64", "float16", "bool", "string", ...). */
  type: string;
  dims: number[];
  data: SyntheticData;
  /** Why the values are what they are ("token ids in [0, 177)"), for the report. */
  fill: string;
}

export interface ShapeRequest {
  /** The size of a symbolic (or unknown) first dimension. */
  batch: number;
  /** The size of symbolic sequence dimensions (sequence_length, seq_len, ...). Default: 128, capped by the model. */
  seqLen?: number;
  /** Whole shapes by input name: numbers, or names resolved like the model's symbolic dimensions ("batch"). */
  inputShapes?: Record<string, Array<number | string>>;
  /** Sizes by symbolic dimension name (`--shape height=224`). */
  dims?: Record<string, number>;
}

/** Facts from the model's config.json that keep synthetic values valid. */
export interface ModelHints {
  vocabSize?: number;
  typeVocabSize?: number;
  maxPositions?: number;
  imageSize?: number;
  numChannels?: number;
}

export const DEFAULT_SEQ_LEN = 128;
/** Integer inputs nothing more is known about (counts, indices) get small non-negative values. */
const GENERIC_INT_RANGE = 10;
/** Token ids when the vocabulary size is unknown: small enough for any real vocabulary. */
const UNKNOWN_VOCAB = 100;

const SEQ_DIM = /seq|sequence|length|tokens|time/i;
const HEIGHT_DIM = /height/i;
const WIDTH_DIM = /width/i;
const CHANNEL_DIM = /channel/i;

function positiveInt(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : undefined;
}

/**
 * The hints a transformers config.json gives (text and vision models). An encoder-decoder's config (a
 * VisionEncoderDecoder's) keeps its encoder's image size and channels under "encoder": bench times the encoder file.
 */
export function hintsFromConfig(config: unknown): ModelHints {
  const c = config && typeof config === 'object' ? (config as Record<string, unknown>) : {};
  const encoder = c.encoder && typeof c.encoder === 'object' ? (c.encoder as Record<string, unknown>) : {};
  const image = c.image_size ?? encoder.image_size;
  const hints: ModelHints = {};
  const set = (key: keyof ModelHints, v: unknown) => {
    const n = positiveInt(v);
    if (n !== undefined) hints[key] = n;
  };
  set('vocabSize', c.vocab_size);
  set('typeVocabSize', c.type_vocab_size);
  set('maxPositions', c.max_position_embeddings);
  set('imageSize', Array.isArray(image) ? image[0] : image);
  set('numChannels', c.num_channels ?? encoder.num_channels);
  return hints;
}

/** The sequence length used: the flag, else 128, never beyond the model's position embeddings. */
export function sequenceLength(request: ShapeRequest, hints: ModelHints): number {
  if (request.seqLen !== undefined) {
    if (hints.maxPositions !== undefined && request.seqLen > hints.maxPositions) {
      throw new ModelctlError('USAGE', `--seq-len ${request.seqLen} is longer than the model's ${hints.maxPositions} positions`, {
        hint: `use --seq-len ${hints.maxPositions} or less`,
      });
    }
    return request.seqLen;
  }
  return Math.min(DEFAULT_SEQ_LEN, hints.maxPositions ?? DEFAULT_SEQ_LEN);
}

/** Every dimension of one input as a number, or a usage error naming the flag that fixes it. */
export function resolveShape(input: OnnxValueInfo, request: ShapeRequest, hints: ModelHints = {}): number[] {
  const given = request.inputShapes?.[input.name];
  const shape = given ?? input.shape;
  if (shape === undefined) {
    throw new ModelctlError('USAGE', `input ${input.name} has no declared shape`, {
      hint: `give it: --shape ${input.name}=DIMS (e.g. ${input.name}=1,16)`,
    });
  }
  if (given && input.shape && given.length !== input.shape.length) {
    throw new ModelctlError('USAGE', `--shape ${input.name} has ${given.length} dimensions; the model's input has ${input.shape.length}`, {
      hint: `the model declares [${input.shape.map((d) => d ?? '?').join(', ')}]`,
    });
  }
  return shape.map((d, i) => {
    if (typeof d === 'number' && d > 0) return d;
    const name = typeof d === 'string' ? d : '';
    const named = name !== '' ? request.dims?.[name] : undefined;
    if (named !== undefined) return named;
    if (i === 0) return request.batch;
    if (name !== '' && SEQ_DIM.test(name)) return sequenceLength(request, hints);
    if (name !== '' && (HEIGHT_DIM.test(name) || WIDTH_DIM.test(name)) && hints.imageSize !== undefined) return hints.imageSize;
    if (name !== '' && CHANNEL_DIM.test(name) && hints.numChannels !== undefined) return hints.numChannels;
    const label = name !== '' ? name : `${i}`;
    throw new ModelctlError(
      'USAGE',
      `dimension ${name !== '' ? `"${name}"` : i} of input ${input.name} is not fixed by the model or the flags`,
      {
        hint:
          name !== ''
            ? `give its size: --shape ${label}=N, or the whole shape: --shape ${input.name}=DIMS`
            : `give the whole shape: --shape ${input.name}=DIMS`,
      },
    );
  });
}

/** mulberry32: a small, fast, seeded generator; the same seed gives the same inputs on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** IEEE 754 half precision bits of a float (round to nearest even), for float16 inputs. */
export function toHalfBits(value: number): number {
  const f32 = new Float32Array([value]);
  const x = new Uint32Array(f32.buffer)[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rest > mid || (rest === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  e = half >>> 10;
  return sign | half;
}

type Role = 'ids' | 'mask' | 'types' | 'positions' | 'other';

function roleOf(name: string): Role {
  const n = name.toLowerCase();
  if (/token_type|segment/.test(n)) return 'types';
  if (/position_ids|positions/.test(n)) return 'positions';
  if (/mask/.test(n)) return 'mask';
  if (/input_ids|token_ids|decoder_input_ids|^ids$/.test(n)) return 'ids';
  return 'other';
}

const INT_TYPES: Record<
  string,
  { make: (n: number) => Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array; full: [number, number] }
> = {
  int8: { make: (n) => new Int8Array(n), full: [-128, 127] },
  uint8: { make: (n) => new Uint8Array(n), full: [0, 255] },
  int16: { make: (n) => new Int16Array(n), full: [-32768, 32767] },
  uint16: { make: (n) => new Uint16Array(n), full: [0, 65535] },
  int32: { make: (n) => new Int32Array(n), full: [-(2 ** 31), 2 ** 31 - 1] },
  uint32: { make: (n) => new Uint32Array(n), full: [0, 2 ** 32 - 1] },
};

/** Integer values for one role: [low, high) with a per-element function for position ids. */
function intPlan(
  role: Role,
  type: string,
  hints: ModelHints,
  dims: number[],
): { value: (i: number, rnd: () => number) => number; fill: string } {
  const last = dims.at(-1) ?? 1;
  const uniform = (lo: number, hi: number) => (_: number, rnd: () => number) => lo + Math.floor(rnd() * (hi - lo));
  switch (role) {
    case 'ids': {
      const vocab = hints.vocabSize ?? UNKNOWN_VOCAB;
      return {
        value: uniform(0, vocab),
        fill: `token ids in [0, ${vocab})${hints.vocabSize === undefined ? ' (vocabulary size unknown)' : ''}`,
      };
    }
    case 'mask':
      return { value: () => 1, fill: 'ones (attend to every position)' };
    case 'types':
      return { value: () => 0, fill: 'zeros (one segment)' };
    case 'positions':
      return { value: (i) => i % last, fill: `positions 0..${last - 1}` };
    default: {
      // 8-bit inputs are pixels or quantized data: their whole range is valid.
      if (type === 'uint8' || type === 'int8') {
        const [lo, hi] = (INT_TYPES[type] as { full: [number, number] }).full;
        return { value: uniform(lo, hi + 1), fill: `uniform integers in [${lo}, ${hi}]` };
      }
      return { value: uniform(0, GENERIC_INT_RANGE), fill: `uniform integers in [0, ${GENERIC_INT_RANGE})` };
    }
  }
}

const UNSUPPORTED = /^(bfloat16|float8|int4|uint4|int2|uint2|float4|complex)/;

/** One input's values. */
function checkTensor(input: OnnxValueInfo): void {
  if (input.kind !== 'tensor') {
    throw new ModelctlError('INVALID_INPUT', `input ${input.name} is a ${input.kind}, not a tensor: bench cannot make one up`, {
      hint: 'bench models whose inputs are tensors',
    });
  }
}

export function synthesize(input: OnnxValueInfo, dims: number[], hints: ModelHints, rnd: () => number): SyntheticInput {
  checkTensor(input);
  const type = input.dtype ?? 'float32';
  const n = dims.reduce((a, b) => a * b, 1);
  const role = roleOf(input.name);
  const base = { name: input.name, type, dims };
  if (type === 'float32' || type === 'float64') {
    const data = type === 'float32' ? new Float32Array(n) : new Float64Array(n);
    const ones = role === 'mask';
    for (let i = 0; i < n; i++) data[i] = ones ? 1 : rnd();
    return { ...base, data, fill: ones ? 'ones (attend to every position)' : 'uniform floats in [0, 1)' };
  }
  if (type === 'float16') {
    const data = new Uint16Array(n);
    const ones = role === 'mask';
    for (let i = 0; i < n; i++) data[i] = toHalfBits(ones ? 1 : rnd());
    return { ...base, data, fill: ones ? 'ones (attend to every position)' : 'uniform half floats in [0, 1)' };
  }
  if (type === 'bool') {
    const data = new Uint8Array(n);
    const ones = role === 'mask';
    for (let i = 0; i < n; i++) data[i] = ones || rnd() < 0.5 ? 1 : 0;
    return { ...base, data, fill: ones ? 'true (attend to every position)' : 'random booleans' };
  }
  if (type === 'string') {
    return { ...base, data: Array.from({ length: n }, (_, i) => `benchmark input ${i}`), fill: 'short strings' };
  }
  if (type === 'int64' || type === 'uint64') {
    const plan = intPlan(role, type, hints, dims);
    const data = type === 'int64' ? new BigInt64Array(n) : new BigUint64Array(n);
    for (let i = 0; i < n; i++) data[i] = BigInt(plan.value(i, rnd));
    return { ...base, data, fill: plan.fill };
  }
  const int = INT_TYPES[type];
  if (int) {
    const plan = intPlan(role, type, hints, dims);
    const data = int.make(n);
    for (let i = 0; i < n; i++) data[i] = plan.value(i, rnd);
    return { ...base, data, fill: plan.fill };
  }
  throw new ModelctlError(
    'INVALID_INPUT',
    `input ${input.name} has element type ${type}, which onnxruntime-node cannot take from JavaScript`,
    {
      hint: UNSUPPORTED.test(type)
        ? 'bench a float32 or float16 export of the model'
        : 'bench a model whose inputs are numeric, bool or string tensors',
    },
  );
}

/** Values for every input of a model, resolved against the request. */
export function syntheticInputs(
  inputs: readonly OnnxValueInfo[],
  request: ShapeRequest,
  hints: ModelHints = {},
  seed = 42,
): SyntheticInput[] {
  for (const name of Object.keys(request.inputShapes ?? {})) {
    if (!inputs.some((i) => i.name === name)) {
      throw new ModelctlError('USAGE', `--shape names input ${name}, which the model does not have`, {
        hint: `its inputs: ${inputs.map((i) => i.name).join(', ')}`,
      });
    }
  }
  const rnd = seededRandom(seed);
  return inputs.map((input) => {
    checkTensor(input);
    return synthesize(input, resolveShape(input, request, hints), hints, rnd);
  });
}

/**
 * `--shape NAME=DIMS` flags: NAME an input (DIMS its whole shape: numbers, or names such as "batch" resolved like
 * the model's symbolic dimensions) or a symbolic dimension (DIMS one number).
 */
export function parseShapeFlags(flags: readonly string[], inputs: readonly OnnxValueInfo[]): Pick<ShapeRequest, 'inputShapes' | 'dims'> {
  const inputShapes: Record<string, Array<number | string>> = {};
  const dims: Record<string, number> = {};
  for (const flag of flags) {
    const eq = flag.indexOf('=');
    const name = eq > 0 ? flag.slice(0, eq) : '';
    const parts =
      eq > 0
        ? flag
            .slice(eq + 1)
            .split(/[,x]/)
            .map((p) => p.trim())
        : [];
    const bad = parts.length === 0 || parts.some((p) => p === '' || (/^\d+$/.test(p) ? Number(p) < 1 : !/^[A-Za-z_][\w.-]*$/.test(p)));
    if (name === '' || bad) {
      throw new ModelctlError('USAGE', `--shape takes NAME=DIMS, got "${flag}"`, {
        hint: 'e.g. --shape input_ids=1,128, --shape pixel_values=batch,3,224,224 or --shape sequence_length=64',
      });
    }
    const values = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : p));
    if (inputs.some((i) => i.name === name)) inputShapes[name] = values;
    else if (values.length === 1 && typeof values[0] === 'number') dims[name] = values[0];
    else {
      throw new ModelctlError('USAGE', `--shape ${name}: the model has no input of that name, and a dimension takes one number`, {
        hint: `its inputs: ${inputs.map((i) => `${i.name} [${(i.shape ?? []).map((d) => d ?? '?').join(', ')}]`).join(', ')}`,
      });
    }
  }
  return { inputShapes, dims };
}
