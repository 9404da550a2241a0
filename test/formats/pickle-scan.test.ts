import { describe, expect, it } from 'vitest';
import { BufferSource } from '../../src/onnx/wire.js';
import { Cursor } from '../../src/formats/io.js';
import { dangerousGlobal, torchWeightsOnlyAllows } from '../../src/formats/pickle-globals.js';
import { PickleScanner, type PickleScanOptions } from '../../src/formats/pickle-scan.js';
import { pickleBytes, shortUnicode as u } from './helpers.js';

function scan(bytes: Uint8Array, options?: PickleScanOptions) {
  const scanner = new PickleScanner(new Cursor(new BufferSource(bytes)), options);
  return { scanner, result: scanner.run() };
}

describe('PickleScanner', () => {
  it('builds a symbolic root: dict entries, nested lists and numbers', () => {
    const { result } = scan(
      pickleBytes(0x80, 4, '}', 0x94, '(', u('a'), 'K', 1, u('b'), ']', '(', 'K', 2, 'M', Buffer.from([0x10, 0x27]), 'e', 'u', '.'),
    );
    expect(result.complete).toBe(true);
    expect(result.protocol).toBe(4);
    expect(result.root).toEqual({
      kind: 'dict',
      entries: [
        [
          { kind: 'str', value: 'a' },
          { kind: 'int', value: 1 },
        ],
        [
          { kind: 'str', value: 'b' },
          {
            kind: 'list',
            items: [
              { kind: 'int', value: 2 },
              { kind: 'int', value: 10000 },
            ],
          },
        ],
      ],
    });
  });

  it('resolves STACK_GLOBAL names fetched from the memo', () => {
    const { scanner } = scan(pickleBytes(0x80, 4, u('os'), 0x94, u('x'), 0x94, '0', '0', 'h', 0, u('system'), 0x93, '.'));
    expect(scanner.globals).toEqual([{ module: 'os', name: 'system' }]);
  });

  it('reads LONG1 integers beyond 2^53 exactly (the legacy torch magic number)', () => {
    const { result } = scan(pickleBytes(0x80, 2, 0x8a, 10, Buffer.from([0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]), '.'));
    expect(result.root).toEqual({ kind: 'int', value: 0x1950a86a20f9469cfc6cn });
  });

  it('skips byte payloads by length without keeping them', () => {
    const payload = Buffer.alloc(70_000, 0x2e); // full of STOP opcodes: misreading the payload would end early
    const length = Buffer.alloc(4);
    length.writeUInt32LE(payload.length);
    const { result } = scan(pickleBytes(0x80, 3, 'B', length, payload, '.'));
    expect(result.root).toEqual({ kind: 'bytes', length: payload.length });
  });

  it('stops at an unknown opcode and says where', () => {
    const { result, scanner } = scan(pickleBytes(0x80, 2, 'cmod\nCls\n', 0xfe, 'junk'));
    expect(result.complete).toBe(false);
    expect(result.stopReason).toBe('unknown opcode 0xfe at byte 11');
    expect(scanner.globals).toEqual([{ module: 'mod', name: 'Cls' }]);
  });

  it('stops at the end of a truncated stream', () => {
    const { result } = scan(pickleBytes(0x80, 4, 'X', Buffer.from([0xff, 0, 0, 0]), 'short'));
    expect(result.complete).toBe(false);
    expect(result.stopReason).toMatch(/^pickle ends early/);
  });

  it('stops on a malformed stack instead of throwing', () => {
    const { result } = scan(pickleBytes(0x80, 2, 't', '.'));
    expect(result).toMatchObject({ complete: false, stopReason: 'malformed pickle: no MARK' });
  });

  it('honours its opcode budget', () => {
    const ints = Array.from({ length: 100 }, () => pickleBytes('K', 1));
    const { result } = scan(pickleBytes(0x80, 2, ']', '(', ...ints, 'e', '.'), { maxOpcodes: 50 });
    expect(result).toMatchObject({ complete: false, stopReason: 'stopped after 50 opcodes' });
  });

  it('walks consecutive pickles in one stream, collecting persistent ids', () => {
    const first = pickleBytes(0x80, 2, 'K', 7, '.');
    const second = pickleBytes(0x80, 2, '(', u('storage'), u('0'), 't', 'Q', '.');
    const { scanner } = scan(Buffer.concat([first, second]));
    expect(scanner.run()).toMatchObject({ complete: true, root: { kind: 'persid' } });
    expect(scanner.persistentIds).toEqual([
      {
        kind: 'tuple',
        items: [
          { kind: 'str', value: 'storage' },
          { kind: 'str', value: '0' },
        ],
      },
    ]);
  });
});

describe('global classification', () => {
  it('flags code-running callables and leaves model classes alone', () => {
    const g = (dotted: string) => ({ module: dotted.slice(0, dotted.lastIndexOf('.')), name: dotted.slice(dotted.lastIndexOf('.') + 1) });
    for (const bad of [
      'os.system',
      'posix.system',
      'nt.system',
      'subprocess.Popen',
      'builtins.eval',
      'builtins.exec',
      '__builtin__.getattr',
      'builtins.__import__',
      'runpy._run_code',
    ]) {
      expect(dangerousGlobal(g(bad)), bad).toBe(true);
    }
    for (const ok of [
      'sklearn.ensemble._forest.RandomForestClassifier',
      'numpy.dtype',
      'collections.OrderedDict',
      'builtins.set',
      '_codecs.encode',
    ]) {
      expect(dangerousGlobal(g(ok)), ok).toBe(false);
    }
  });

  it('mirrors torch weights_only: tensors, storages and dtypes pass, modules do not', () => {
    expect(torchWeightsOnlyAllows({ module: 'torch._utils', name: '_rebuild_tensor_v2' })).toBe(true);
    expect(torchWeightsOnlyAllows({ module: 'torch', name: 'BFloat16Storage' })).toBe(true);
    expect(torchWeightsOnlyAllows({ module: 'torch', name: 'float8_e4m3fn' })).toBe(true);
    expect(torchWeightsOnlyAllows({ module: '__builtin__', name: 'set' })).toBe(true);
    expect(torchWeightsOnlyAllows({ module: 'torch.nn.modules.linear', name: 'Linear' })).toBe(false);
    expect(torchWeightsOnlyAllows({ module: 'numpy.core.multiarray', name: '_reconstruct' })).toBe(false);
  });
});
