import type { PickleScanner } from './pickle-scan.js';
import { calleeName, type PickleValue } from './pickle-values.js';

/**
 * Reading tensors out of a PyTorch pickle without their data. A tensor is a call to one of torch's _rebuild_*
 * functions whose first argument is a persistent id naming its storage; a storage's id carries its dtype (as the
 * storage class) and element count. Names follow state_dict() conventions so they match what users see.
 */

const STORAGE_DTYPES: Record<string, string> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
  ComplexFloatStorage: 'complex64',
  ComplexDoubleStorage: 'complex128',
};

export const ITEM_SIZES: Record<string, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
  complex64: 8,
  complex128: 16,
  bytes: 1,
};

export interface Storage {
  key: string;
  dtype: string;
  numel: number;
}

export function storageOf(id: PickleValue): Storage | undefined {
  if (id.kind !== 'tuple') return undefined;
  const [tag, type, key, , numel] = id.items;
  if (tag?.kind !== 'str' || tag.value !== 'storage' || type?.kind !== 'global') return undefined;
  if (key?.kind !== 'str' || numel?.kind !== 'int' || typeof numel.value !== 'number') return undefined;
  const dtype = STORAGE_DTYPES[type.name] ?? (type.name === 'UntypedStorage' ? 'bytes' : type.name.replace(/Storage$/, '').toLowerCase());
  return { key: key.value, dtype, numel: numel.value };
}

function tupleItems(value: PickleValue | undefined): PickleValue[] {
  return value?.kind === 'tuple' ? value.items : [];
}

/** The storage key of a rebuilt tensor or parameter, or undefined when the value is not a tensor. */
function tensorStorage(value: PickleValue, depth = 0): string | null | undefined {
  const callee = calleeName(value);
  if (!callee || value.kind !== 'object' || depth > 3) return undefined;
  const args = tupleItems(value.args);
  if (callee === 'torch._utils._rebuild_parameter' || callee === 'torch._utils._rebuild_parameter_with_state') {
    return args[0] ? tensorStorage(args[0], depth + 1) : undefined;
  }
  if (callee === 'torch._tensor._rebuild_from_type_v2' && args[0]) {
    return tensorStorage({ kind: 'object', callable: args[0], args: args[2] ?? { kind: 'opaque' } }, depth + 1);
  }
  if (/^torch\._utils\._rebuild_tensor(_v2|_v3)?$/.test(callee)) {
    const id = args[0]?.kind === 'persid' ? args[0].id : undefined;
    return (id && storageOf(id)?.key) ?? null;
  }
  return undefined;
}

export function entriesOf(value: PickleValue | undefined): Array<[PickleValue, PickleValue]> {
  if (value?.kind === 'dict') return value.entries;
  if (value?.kind === 'object') return value.entries ?? [];
  return [];
}

function keyText(key: PickleValue): string | undefined {
  if (key.kind === 'str') return key.value;
  if (key.kind === 'int') return String(key.value);
  return undefined;
}

export interface TensorRef {
  name: string;
  /** The storage holding its data, when the tensor names one (null when it does not). */
  storage: string | null;
}

const MAX_TENSORS = 200_000;
const MODULE_STATE = new Set(['_parameters', '_buffers', '_modules']);

/**
 * Tensors named the way state_dict() names them: dict keys joined by dots; nn.Module objects (full-model pickles)
 * through their _parameters, _buffers and _modules; other objects (TorchScript modules) through their attributes.
 */
export function collectTensors(value: PickleValue, prefix: string, out: TensorRef[], depth = 0): void {
  if (depth > 16 || out.length >= MAX_TENSORS) return;
  const storage = tensorStorage(value);
  if (storage !== undefined) {
    out.push({ name: prefix.replace(/\.$/, ''), storage });
    return;
  }
  const walk = (entries: Array<[PickleValue, PickleValue]>): void => {
    for (const [k, v] of entries) {
      const key = keyText(k);
      if (key !== undefined) collectTensors(v, `${prefix}${key}.`, out, depth + 1);
    }
  };
  walk(entriesOf(value));
  if (value.kind === 'list' || value.kind === 'tuple') value.items.forEach((v, i) => collectTensors(v, `${prefix}${i}.`, out, depth + 1));
  if (value.kind === 'object' && value.state?.kind === 'dict') {
    const state = value.state.entries;
    const isModule = state.some(([k]) => k.kind === 'str' && MODULE_STATE.has(k.value));
    if (!isModule) walk(state);
    else for (const [k, v] of state) if (k.kind === 'str' && MODULE_STATE.has(k.value)) walk(entriesOf(v));
  }
}

export function storagesOf(scanner: PickleScanner): Map<string, Storage> {
  const storages = new Map<string, Storage>();
  for (const id of scanner.persistentIds) {
    const s = storageOf(id);
    if (s) storages.set(s.key, s);
  }
  return storages;
}
