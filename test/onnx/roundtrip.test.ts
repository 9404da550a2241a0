import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { decodeHfMetadata } from '../../src/onnx/metadata.js';
import { embedOnnxFile } from '../../src/onnx/embed.js';
import { readOnnxSummary } from '../../src/onnx/summary.js';
import { parseNpy } from '../../src/inputs/npy.js';
import { FIXTURES, tempDir } from '../helpers.js';
import { checkOnnx, pythonAvailable } from '../python.js';

type Ref = Record<string, { dtype: string; shape: number[]; data: unknown }>;
interface Fixture {
  entry: string;
  files: Array<{ path: string }>;
  facts: { metadata_props: Record<string, string>; reference?: { inputs?: Ref } };
}

const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as {
  fixtures: Record<string, Fixture & { format: string }>;
};

/** Inputs for one model run: the reference inputs the source framework used (iris keeps them in reference.json). */
function inputsOf(name: string, f: Fixture): Record<string, ort.Tensor> {
  let ref = f.facts.reference?.inputs;
  if (!ref && (name === 'iris-logreg' || name === 'sklearn-zipmap')) {
    const iris = JSON.parse(readFileSync(join(FIXTURES, name, 'reference.json'), 'utf8')) as { input_name: string; input: number[][] };
    ref = { [iris.input_name]: { dtype: 'float32', shape: [iris.input.length, iris.input[0]!.length], data: iris.input } };
  }
  const npy = (f.facts.reference as { pixel_values_file?: string } | undefined)?.pixel_values_file;
  if (!ref && npy) {
    // Image models keep their processor output as a .npy file beside the model.
    const t = parseNpy(readFileSync(join(FIXTURES, name, npy)));
    return { pixel_values: new ort.Tensor('float32', Float32Array.from(t.data as number[]), t.dims) };
  }
  if (!ref) throw new Error(`${name} has no reference inputs in expected.json`);
  return Object.fromEntries(
    Object.entries(ref).map(([input, t]) => {
      const flat = [t.data].flat(Infinity) as number[];
      const data = t.dtype === 'int64' ? BigInt64Array.from(flat.map((x) => BigInt(x))) : Float32Array.from(flat);
      return [input, new ort.Tensor(t.dtype as 'float32' | 'int64', data, t.shape)];
    }),
  );
}

async function run(path: string, feeds: Record<string, ort.Tensor>): Promise<Record<string, unknown[]>> {
  const session = await ort.InferenceSession.create(path);
  // onnxruntime-node returns tensors only, not a ZipMap's sequence of maps.
  const tensors = (await readOnnxSummary(path)).outputs.filter((o) => o.kind === 'tensor').map((o) => o.name);
  try {
    const out = await session.run(feeds, tensors);
    return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, Array.from(t.data as ArrayLike<unknown>)]));
  } finally {
    await session.release();
  }
}

const onnxFixtures = Object.entries(expected.fixtures).filter(([, f]) => f.format === 'onnx');

describe('embed-metadata round trip on ONNX files made by other tools', () => {
  it('covers the onnx package, skl2onnx, optimum and a hand-built file', () => {
    expect(onnxFixtures.map(([n]) => n).sort()).toEqual(
      expect.arrayContaining(['iris-logreg', 'onnx-external', 'onnx-handbuilt', 'optimum-bert']),
    );
  });

  it.each(onnxFixtures.map(([n]) => n))(
    '%s: the checker passes, ONNX Runtime gives identical outputs, graph bytes unchanged',
    async (name) => {
      const f = expected.fixtures[name]!;
      const dir = tempDir();
      // The model and its companions (external data) side by side, as the runtime expects them.
      for (const file of f.files) if (!file.path.includes('/')) copyFileSync(join(FIXTURES, name, file.path), join(dir, file.path));
      const input = join(dir, f.entry);
      const output = join(dir, `embedded-${f.entry}`);
      const before = readFileSync(input);
      const result = await embedOnnxFile(
        input,
        output,
        { task: 'feature-extraction', modelConfig: { model_type: 'test', note: 'é'.repeat(20_000) } },
        { set: { origin: 'roundtrip' } },
      );
      expect(readFileSync(input).equals(before), 'the input is never modified').toBe(true);

      const after = readFileSync(output);
      const g = result.graphRange;
      const og = result.outputGraphRange;
      expect(after.subarray(og.start, og.end).equals(before.subarray(g.start, g.end)), 'graph bytes identical').toBe(true);

      const summary = await readOnnxSummary(output);
      for (const [k, v] of Object.entries(f.facts.metadata_props)) expect(summary.metadataProps[k], `non-hf prop ${k} kept`).toBe(v);
      expect(summary.metadataProps.origin).toBe('roundtrip');
      const decoded = decodeHfMetadata(summary.metadataProps);
      expect(decoded?.task).toBe('feature-extraction');
      expect((decoded!.modelConfig as { note: string }).note).toBe('é'.repeat(20_000));
      expect(decoded?.checksum.ok).toBe(true);

      const feeds = inputsOf(name, f);
      expect(await run(output, feeds)).toEqual(await run(input, feeds));

      if (!pythonAvailable()) return;
      const [orig, embedded] = await checkOnnx([input, output]);
      expect(orig?.ok, orig?.error ?? '').toBe(true);
      expect(embedded?.ok, embedded?.error ?? '').toBe(true);
      expect(embedded?.graph_sha256).toBe(orig?.graph_sha256);
      expect(embedded?.metadata_props?.hf_metadata_version).toBe('2.0');
    },
  );
});
