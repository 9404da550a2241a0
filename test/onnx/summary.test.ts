import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ModelctlError } from '../../src/errors.js';
import { readOnnxMetadata, readOnnxSummary, readOnnxSummaryFromBuffer } from '../../src/onnx/summary.js';
import { FIXTURES, tempDir } from '../helpers.js';
import { DataType, NEWER_TYPES, encodeInOrder, entriesOf, node, onnx, tensor, valueInfo } from './build.js';
import { lengthDelimited, lengthPrefix } from './pb.js';

const { FLOAT, INT64 } = DataType;

function handBuilt(options: { ir?: number; initializerAsInput?: boolean } = {}): Uint8Array {
  const graph = onnx.GraphProto.encode({
    node: [node('MatMul', ['x', 'W'], ['y'])],
    name: 'g',
    initializer: [tensor('W', FLOAT, [3, 2], new Float32Array(6)), tensor('steps', INT64, [], new BigInt64Array(1))],
    input: [valueInfo('x', FLOAT, ['batch', 3]), ...(options.initializerAsInput ? [valueInfo('W', FLOAT, [3, 2])] : [])],
    output: [valueInfo('y', FLOAT, ['batch', -1])],
  }).finish();
  // Field 99 is not in onnx.proto, so onnx-proto cannot write it: framed by hand to show readers skip unknown fields.
  const graphWithUnknown = Buffer.concat([graph, lengthDelimited(99, 'an unknown field is skipped')]);
  return Buffer.concat([
    encodeInOrder({ irVersion: options.ir ?? 8, producerName: 'handmade', producerVersion: '0.1' }),
    lengthDelimited(7, graphWithUnknown),
    encodeInOrder({
      opsetImport: [
        { domain: '', version: 17 },
        { domain: 'ai.onnx.ml', version: 3 },
      ],
      metadataProps: entriesOf({ author: 'tests' }),
    }),
  ]);
}

describe('ONNX summary at the wire level', () => {
  it('reads a hand-built model', () => {
    const s = readOnnxSummaryFromBuffer(handBuilt());
    expect(s).toMatchObject({
      irVersion: 8,
      producerName: 'handmade',
      producerVersion: '0.1',
      graphName: 'g',
      opsetImports: [
        { domain: '', version: 17 },
        { domain: 'ai.onnx.ml', version: 3 },
      ],
      nodeCount: 1,
      initializerCount: 2,
      parameterCount: 7,
      parameterDtypes: { float32: 6, int64: 1 },
      metadataProps: { author: 'tests' },
      externalData: [],
    });
    expect(s.inputs).toEqual([{ name: 'x', kind: 'tensor', dtype: 'float32', shape: ['batch', 3] }]);
    expect(s.outputs).toEqual([{ name: 'y', kind: 'tensor', dtype: 'float32', shape: ['batch', -1] }]);
  });

  it('names the element types added after ONNX 1.10 (float8, int4, ...), and unknown codes by number', () => {
    const codes = [...Object.values(NEWER_TYPES), 99];
    const bytes = encodeInOrder({
      irVersion: 10,
      graph: {
        initializer: codes.map((code) => tensor(`t${code}`, code, [2, 3], new Uint8Array(6))),
        input: [valueInfo('q', NEWER_TYPES.INT4, [4])],
        output: [valueInfo('r', NEWER_TYPES.FLOAT8E5M2, [])],
      },
    });
    const s = readOnnxSummaryFromBuffer(bytes);
    expect(s.parameterDtypes).toEqual({
      float8e4m3fn: 6,
      float8e4m3fnuz: 6,
      float8e5m2: 6,
      float8e5m2fnuz: 6,
      uint4: 6,
      int4: 6,
      float4e2m1: 6,
      float8e8m0: 6,
      uint2: 6,
      int2: 6,
      type99: 6,
    });
    expect(s.parameterCount).toBe(6 * codes.length);
    expect(s.inputs).toEqual([{ name: 'q', kind: 'tensor', dtype: 'int4', shape: [4] }]);
    expect(s.outputs).toEqual([{ name: 'r', kind: 'tensor', dtype: 'float8e5m2', shape: [] }]);
  });

  it('leaves initializers out of the inputs of IR < 4 models', () => {
    const s = readOnnxSummaryFromBuffer(handBuilt({ ir: 3, initializerAsInput: true }));
    expect(s.inputs.map((i) => i.name)).toEqual(['x']);
  });

  it('reads every ONNX fixture exactly as the onnx package reports it', async () => {
    const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as {
      fixtures: Record<
        string,
        { format: string; entry: string; parameters: number | null; dtypes: Record<string, number> | null; facts: Record<string, any> }
      >;
    };
    const onnxFixtures = Object.entries(expected.fixtures).filter(([, e]) => e.format === 'onnx');
    expect(onnxFixtures.map(([n]) => n).sort()).toEqual([
      'iris-logreg',
      'onnx-external',
      'onnx-handbuilt',
      'optimum-bert',
      'optimum-bert-embed',
      'optimum-bert-ner',
      'optimum-bert-qa',
      'optimum-vit-tiny',
      'sklearn-zipmap',
      'yolo-tiny',
    ]);
    for (const [name, e] of onnxFixtures) {
      const s = await readOnnxSummary(join(FIXTURES, name, e.entry));
      const f = e.facts;
      const io = (v: { name: string; kind: string; elem_type: string; shape: unknown[] | null }) => ({
        name: v.name,
        kind: v.kind.replace(/_type$/, ''),
        ...(v.elem_type ? { dtype: v.elem_type } : {}),
        ...(v.shape ? { shape: v.shape } : {}),
      });
      expect(s, name).toMatchObject({
        irVersion: f.ir_version,
        producerName: f.producer_name,
        producerVersion: f.producer_version,
        domain: f.domain,
        modelVersion: f.model_version,
        docString: f.doc_string,
        graphName: f.graph_name,
        nodeCount: f.node_count,
        initializerCount: f.initializer_count,
        metadataProps: f.metadata_props,
        externalData: [...new Set((f.external_data as Array<{ location: string }>).map((x) => x.location))],
      });
      expect(Object.fromEntries(s.opsetImports.map((o) => [o.domain, o.version])), name).toEqual(f.opset_import);
      expect(s.inputs, name).toEqual(f.inputs.map(io));
      expect(s.outputs, name).toEqual(f.outputs.map(io));
      expect(s.parameterCount, name).toBe(e.parameters ?? 0);
      expect(s.parameterDtypes, name).toEqual(e.dtypes ?? {});
    }
  });

  it('errors, never crashes, on truncated and mutated bytes', () => {
    const base = handBuilt();
    const iris = join(FIXTURES, 'iris-logreg', 'model.onnx');
    const samples = [base, ...(existsSync(iris) ? [new Uint8Array(readFileSync(iris))] : [])];
    fc.assert(
      fc.property(
        fc.constantFrom(...samples),
        fc.nat(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        (sample, cut, flips) => {
          const bytes = sample.slice(0, cut % (sample.length + 1));
          for (const [at, value] of flips) if (bytes.length > 0) bytes[at % bytes.length] = value;
          try {
            const s = readOnnxSummaryFromBuffer(bytes);
            expect(s.irVersion).toBeGreaterThan(0);
          } catch (err) {
            expect(err).toBeInstanceOf(ModelctlError);
            expect((err as ModelctlError).code).toBe('CORRUPT_MODEL');
            expect((err as ModelctlError).message).not.toContain('\n');
          }
        },
      ),
      { numRuns: 3000, seed: 42 },
    );
  });

  it('errors on random bytes and on an empty file, and does not read a huge declared length into memory', async () => {
    const dir = tempDir();
    for (const bytes of [new Uint8Array(0), Uint8Array.from({ length: 4096 }, (_, i) => (i * 31 + 7) % 256)]) {
      expect(() => readOnnxSummaryFromBuffer(bytes)).toThrow(ModelctlError);
    }
    // A producer_name that claims 2^40 bytes: rejected by bounds, not allocated.
    const lie = Uint8Array.from([0x08, 0x08, 0x12, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0x41]);
    writeFileSync(join(dir, 'lie.onnx'), lie);
    await expect(readOnnxSummary(join(dir, 'lie.onnx'))).rejects.toThrow(/runs past the end/);
  });
});

describe('ONNX summary of a file over 2 GiB', () => {
  it('reads a 3 GiB model (sparse on disk) without reading its weights', async () => {
    const { openSync, writeSync, ftruncateSync, closeSync } = await import('node:fs');
    const n = 3 * 2 ** 28; // float32 elements: 3 GiB of raw data
    const rawLen = n * 4;
    // onnx-proto writes every part but the 3 GiB payload; only the frames around the payload are written by hand.
    const tensorHead = onnx.TensorProto.encode({ dims: [n], dataType: FLOAT, name: 'W' }).finish();
    const rawTag = lengthPrefix(9, rawLen);
    const tensorLen = tensorHead.length + rawTag.length + rawLen;
    const tail = onnx.GraphProto.encode({ node: [node('Identity', ['W'], ['y'])], output: [valueInfo('y', FLOAT, [n])] }).finish();
    const initHead = Buffer.concat([lengthPrefix(5, tensorLen), tensorHead, rawTag]);
    const graphLen = initHead.length + rawLen + tail.length;
    const head = Buffer.concat([encodeInOrder({ irVersion: 8 }), lengthPrefix(7, graphLen), initHead]);
    const after = encodeInOrder({ opsetImport: [{ domain: '', version: 17 }], metadataProps: entriesOf({ k: 'v' }) });
    const file = join(tempDir(), 'big.onnx');
    const fd = openSync(file, 'w');
    writeSync(fd, head);
    ftruncateSync(fd, head.length + rawLen);
    writeSync(fd, Buffer.concat([tail, after]), 0, tail.length + after.length, head.length + rawLen);
    closeSync(fd);
    const rss = process.memoryUsage().rss;
    const s = await readOnnxSummary(file);
    expect(s).toMatchObject({
      irVersion: 8,
      parameterCount: n,
      parameterDtypes: { float32: n },
      initializerCount: 1,
      nodeCount: 1,
      metadataProps: { k: 'v' },
    });
    expect(s.outputs[0]?.shape).toEqual([n]);
    const top = await readOnnxMetadata(file);
    expect(top).toMatchObject({
      irVersion: 8,
      opsetImports: [{ domain: '', version: 17 }],
      metadataProps: { k: 'v' },
      nodeCount: 0,
      inputs: [],
    });
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 2 ** 20);
  });
});
