import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { readOnnxSummary } from '../../src/onnx/summary.js';
import { ROOT, tempDir } from '../helpers.js';
import { checkOnnx, pythonAvailable } from '../python.js';
import { DataType, encodeModel, externalTensor, node, tensor, valueInfo, type Proto } from './build.js';

const { FLOAT } = DataType;
// y = x . W + b, with x of shape [batch, 3]: small enough to compute here, and two ops with two initializers.
const W = Float32Array.from([0.5, -1, 2, 0.25, -3, 1.5]); // [3, 2], row-major
const B = Float32Array.from([10, -20]);
const X = Float32Array.from([1, 2, 3, -4, 0.5, 6]); // [2, 3]

function expectedY(): number[] {
  const y: number[] = [];
  for (let row = 0; row < 2; row++) {
    for (let col = 0; col < 2; col++) {
      let sum = B[col]!;
      for (let k = 0; k < 3; k++) sum += X[row * 3 + k]! * W[k * 2 + col]!;
      y.push(sum);
    }
  }
  return y;
}

function linear(weights: Proto.ITensorProto): Uint8Array {
  return encodeModel({
    producerName: 'modelctl-tests',
    graph: {
      name: 'linear',
      node: [node('MatMul', ['x', 'W'], ['xw']), node('Add', ['xw', 'b'], ['y'])],
      initializer: [weights, tensor('b', FLOAT, [2], B)],
      input: [valueInfo('x', FLOAT, ['batch', 3])],
      output: [valueInfo('y', FLOAT, ['batch', 2])],
    },
    metadata: { author: 'tests', purpose: 'builder' },
  });
}

async function runY(path: string): Promise<number[]> {
  const session = await ort.InferenceSession.create(path);
  try {
    const out = await session.run({ x: new ort.Tensor('float32', X, [2, 3]) });
    expect(out.y?.dims).toEqual([2, 2]);
    return Array.from(out.y!.data as Float32Array);
  } finally {
    await session.release();
  }
}

describe('models built with onnx-proto (test/onnx/build.ts)', () => {
  it('load and run in onnxruntime-node, with raw_data initializers, and read back through the wire-level summary', async () => {
    const path = join(tempDir(), 'linear.onnx');
    writeFileSync(path, linear(tensor('W', FLOAT, [3, 2], W)));
    const y = await runY(path);
    expectedY().forEach((v, i) => expect(y[i]).toBeCloseTo(v, 5));

    expect(await readOnnxSummary(path)).toMatchObject({
      irVersion: 8,
      producerName: 'modelctl-tests',
      graphName: 'linear',
      opsetImports: [{ domain: '', version: 17 }],
      nodeCount: 2,
      initializerCount: 2,
      parameterCount: 8,
      parameterDtypes: { float32: 8 },
      inputs: [{ name: 'x', kind: 'tensor', dtype: 'float32', shape: ['batch', 3] }],
      outputs: [{ name: 'y', kind: 'tensor', dtype: 'float32', shape: ['batch', 2] }],
      metadataProps: { author: 'tests', purpose: 'builder' },
      externalData: [],
    });

    if (!pythonAvailable()) return;
    const [check] = await checkOnnx([path]);
    expect(check?.ok, check?.error ?? '').toBe(true);
    expect(check?.metadata_props).toEqual({ author: 'tests', purpose: 'builder' });
  });

  it('keep an initializer in an external data file at an offset, which onnxruntime-node reads beside the model', async () => {
    const dir = tempDir();
    const offset = 64; // ONNX aligns external tensors; 64 also proves the offset is honoured
    const file = Buffer.alloc(offset + W.byteLength, 0xee);
    Buffer.from(W.buffer).copy(file, offset);
    writeFileSync(join(dir, 'weights.bin'), file);
    const path = join(dir, 'model.onnx');
    writeFileSync(path, linear(externalTensor('W', FLOAT, [3, 2], { location: 'weights.bin', offset, length: W.byteLength })));

    const y = await runY(path);
    expectedY().forEach((v, i) => expect(y[i]).toBeCloseTo(v, 5));
    const s = await readOnnxSummary(path);
    expect(s.externalData).toEqual(['weights.bin']);
    expect(s.parameterCount).toBe(8);

    if (!pythonAvailable()) return;
    const [check] = await checkOnnx([path]);
    expect(check?.ok, check?.error ?? '').toBe(true);
  });
});

describe('onnx-proto stays out of the product', () => {
  it('src/ imports only node builtins and runtime dependencies, so a dev dependency never ships half-declared', () => {
    type Deps = Record<string, string>;
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Deps; devDependencies: Deps };
    expect(pkg.devDependencies['onnx-proto']).toBeDefined();
    expect(pkg.dependencies['onnx-proto']).toBeUndefined();
    const files = (readdirSync(join(ROOT, 'src'), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(50);
    const imported = new Set<string>();
    for (const file of files) {
      for (const [, spec] of readFileSync(join(ROOT, 'src', file), 'utf8').matchAll(/(?:\bfrom|\bimport\()\s*'([^'.][^']*)'/g)) {
        const name = spec!.startsWith('@') ? spec!.split('/').slice(0, 2).join('/') : spec!.split('/')[0]!;
        if (!name.startsWith('node:') && !builtinModules.includes(name)) imported.add(name);
      }
    }
    expect(imported.has('onnxruntime-node'), 'the scan finds imports').toBe(true);
    expect([...imported].filter((name) => !(name in pkg.dependencies))).toEqual([]);
  });
});
