import { BufferSource, type ByteSource } from '../onnx/wire.js';
import { addCount, singleFile, type FileContext, type FormatFacts } from './context.js';
import { Cursor, corrupt, decodeUtf8, throwIfAborted, withSource } from './io.js';
import { dangerWarning, dottedNames, topLevelClass, torchWeightsOnlyAllows } from './pickle-globals.js';
import { PickleScanner, type PickleResult } from './pickle-scan.js';
import { detectTaskFromClasses } from './task.js';
import { ITEM_SIZES, collectTensors, entriesOf, storagesOf, type TensorRef } from './torch-tensors.js';
import type { Inspection } from './types.js';
import { ZipError, listZip, readZipEntry, type ZipEntry } from './zip.js';

/**
 * PyTorch checkpoints, both layouts torch.save writes: the zip archive (<prefix>/data.pkl plus one entry per
 * storage) and the legacy stream (five pickles in a row, then raw storages). Only the pickles are read. Each
 * storage appears as a persistent id ("storage", <dtype>Storage, key, location, numel), which gives the element
 * count and dtype of every storage without touching the data; tensor names come from the state-dict structure.
 */

/** LONG1 0x1950a86a20f9469cfc6c, the first pickle of a legacy torch.save file, as it appears after PROTO 2. */
const LEGACY_MAGIC = Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]);
const LEGACY_MAGIC_NUMBER = 0x1950a86a20f9469cfc6cn;

export function isLegacyTorch(head: Uint8Array): boolean {
  return head.length >= LEGACY_MAGIC.length && LEGACY_MAGIC.every((b, i) => head[i] === b);
}

/** Top-level checkpoint keys whose tensors are training state, not model weights. */
const TRAINING_STATE =
  /^(optimizer|optimizers|optim|optimizer_state_dict|optimizer_states|scheduler|lr_scheduler|lr_schedulers|scaler|grad_scaler)$/;

function facts(where: string, scanner: PickleScanner, result: PickleResult, extra: Record<string, unknown>): FormatFacts {
  const storages = storagesOf(scanner);
  const tensors: TensorRef[] = [];
  if (result.root) collectTensors(result.root, '', tensors);
  const isTraining = (t: TensorRef): boolean => TRAINING_STATE.test(t.name.split('.')[0] ?? '');
  const model = tensors.filter((t) => !isTraining(t));
  // Parameters are the storages model tensors use; a checkpoint's optimizer moments are not parameters. When the
  // structure names no tensors (an unusual layout), every storage counts.
  const used = new Set(model.map((t) => t.storage));
  const counted = [...storages.values()].filter((s) => s.dtype !== 'bytes' && (tensors.length === 0 || used.has(s.key)));
  const dtypes: Record<string, number> = {};
  let parameters = 0;
  for (const s of counted) {
    parameters += s.numel;
    addCount(dtypes, s.dtype, s.numel);
  }
  const trainingTensors = tensors.length - model.length;
  const refused = dottedNames(scanner.globals.filter((g) => !torchWeightsOnlyAllows(g)));
  const topClass = topLevelClass(result.root, scanner.globals);
  const warnings: string[] = [];
  const danger = dangerWarning(where, scanner.globals);
  if (danger) warnings.push(danger);
  if (refused.length > 0 && extra.serialization !== 'torchscript') {
    const shown = refused.slice(0, 5).join(', ') + (refused.length > 5 ? ', ...' : '');
    warnings.push(
      `${where} pickles more than tensors (${shown}): torch.load(weights_only=True) refuses it, and loading it without that runs code from those modules`,
    );
  }
  const task = detectTaskFromClasses(topClass, dottedNames(scanner.globals));
  return {
    metadata: {
      ...extra,
      ...(result.protocol !== undefined ? { protocol: result.protocol } : {}),
      ...(topClass ? { topClass } : {}),
      storages: storages.size,
      tensors: model.length,
      tensorNames: model.slice(0, 100).map((t) => t.name),
      ...(trainingTensors > 0 ? { trainingStateTensors: trainingTensors } : {}),
      weightsOnlyLoadable: refused.length === 0,
      ...(refused.length > 0 ? { nonTensorGlobals: refused.slice(0, 50) } : {}),
    },
    ...(counted.length > 0 ? { parameters, dtypes } : {}),
    warnings,
    pickle: true,
    ...(task ? { task } : {}),
  };
}

function scanPickle(source: ByteSource, where: string, signal: AbortSignal | undefined): { scanner: PickleScanner; result: PickleResult } {
  const scanner = new PickleScanner(new Cursor(source), { checkAbort: () => throwIfAborted(signal) });
  const result = scanner.run();
  if (!result.complete) throw corrupt(where, `its pickle is damaged (${result.stopReason})`);
  return { scanner, result };
}

/** Facts about a torch.save zip archive that is already open; throws ZipError when the archive is damaged. */
export function pytorchZipFacts(source: ByteSource, entries: ZipEntry[], where: string, signal?: AbortSignal): FormatFacts {
  const pkl = entries.find((e) => /^([^/]+\/)?data\.pkl$/.test(e.name));
  if (!pkl) throw corrupt(where, 'zip archive without a data.pkl entry is not a PyTorch checkpoint');
  const prefix = pkl.name.slice(0, pkl.name.length - 'data.pkl'.length);
  const names = new Set(entries.map((e) => e.name));
  const torchscript = names.has(`${prefix}constants.pkl`) || entries.some((e) => e.name.startsWith(`${prefix}code/`));
  const small = (name: string): string | undefined => {
    const e = entries.find((x) => x.name === `${prefix}${name}`);
    return e && e.size < 1024 ? decodeUtf8(readZipEntry(source, e)).trim() : undefined;
  };
  const version = small('version') ?? small('.data/version');
  const byteorder = small('byteorder');
  const storageEntries = entries.filter((e) => e.name.startsWith(`${prefix}data/`) && !e.name.endsWith('/')).length;
  const { scanner, result } = scanPickle(new BufferSource(readZipEntry(source, pkl)), where, signal);
  return facts(where, scanner, result, {
    serialization: torchscript ? 'torchscript' : 'zip',
    archivePrefix: prefix.replace(/\/$/, ''),
    ...(version ? { formatVersion: version } : {}),
    ...(byteorder ? { byteorder } : {}),
    storageEntries,
  });
}

function legacyFacts(source: ByteSource, where: string, signal?: AbortSignal): FormatFacts {
  const cursor = new Cursor(source);
  const scanner = new PickleScanner(cursor, { checkAbort: () => throwIfAborted(signal) });
  const next = (what: string): PickleResult => {
    const r = scanner.run();
    if (!r.complete) throw corrupt(where, `legacy PyTorch file: the ${what} pickle is damaged (${r.stopReason})`);
    return r;
  };
  const magic = next('magic number').root;
  if (magic?.kind !== 'int' || magic.value !== LEGACY_MAGIC_NUMBER) throw corrupt(where, 'legacy PyTorch magic number is wrong');
  const protocol = next('protocol version').root;
  const sysInfo = next('system info').root;
  const result = next('object');
  const keys = next('storage keys').root;
  // The raw storages follow the pickles, each an 8-byte element count and its bytes: a cut file falls short.
  const storages = storagesOf(scanner);
  let needed = 0;
  for (const key of keys?.kind === 'list' ? keys.items : []) {
    const s = key.kind === 'str' ? storages.get(key.value) : undefined;
    const size = s ? ITEM_SIZES[s.dtype] : undefined;
    if (!s || size === undefined) {
      needed = Number.NaN;
      break;
    }
    needed += 8 + s.numel * size;
  }
  const available = source.size - cursor.pos;
  if (needed > available) {
    throw corrupt(where, `legacy PyTorch file is truncated: its storages need ${needed} bytes after the pickles, ${available} remain`);
  }
  const littleEndian = entriesOf(sysInfo).find(([k]) => k.kind === 'str' && k.value === 'little_endian')?.[1];
  return facts(where, scanner, result, {
    serialization: 'legacy',
    ...(protocol?.kind === 'int' ? { formatVersion: String(protocol.value) } : {}),
    ...(littleEndian?.kind === 'bool' ? { byteorder: littleEndian.value ? 'little' : 'big' } : {}),
  });
}

export function inspectPytorchZip(ctx: FileContext, source: ByteSource, entries: ZipEntry[]): Inspection {
  return singleFile(ctx, 'pytorch', pytorchZipFacts(source, entries, ctx.display, ctx.signal));
}

export function inspectPytorchLegacy(ctx: FileContext): Inspection {
  return singleFile(
    ctx,
    'pytorch',
    withSource(ctx.abs, (source) => legacyFacts(source, ctx.display, ctx.signal)),
  );
}

/** Parameter facts of a PyTorch file inside a folder (pytorch_model.bin shards), either layout. */
export function pytorchFileFacts(abs: string, where: string, head: Uint8Array, signal?: AbortSignal): FormatFacts {
  return withSource(abs, (source) => {
    if (isLegacyTorch(head)) return legacyFacts(source, where, signal);
    try {
      return pytorchZipFacts(source, listZip(source), where, signal);
    } catch (err) {
      if (err instanceof ZipError) throw corrupt(where, `damaged PyTorch archive: ${err.message}`);
      throw err;
    }
  });
}
