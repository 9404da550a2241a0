// Writes the benchmark's ONNX model: an MLP whose weights (3 x 2048x2048 float32, 48 MiB) are read once per run,
// so one run of 32 rows costs little more than one run of one row. That is the case dynamic batching exists for
// (large layers, memory-bound at batch 1); the tiny fixtures are bound by HTTP instead and gain nothing from it.
import { writeFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

function tensor(name, dims, seed) {
  const count = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(count);
  let x = seed;
  const scale = 1 / Math.sqrt(dims[0]);
  for (let i = 0; i < count; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    data[i] = ((x / 2147483648) * 2 - 1) * scale;
  }
  return { name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer) };
}

function valueInfo(name, dims) {
  const dim = dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d }));
  return { name, type: { tensorType: { elemType: FLOAT, shape: { dim } } } };
}

const node = (inputs, output, opType) => ({ input: inputs, output: [output], name: output, opType });

export function writeMlp(path, { inputs = 64, hidden = 2048, outputs = 8 } = {}) {
  const layers = [
    [inputs, hidden],
    [hidden, hidden],
    [hidden, hidden],
    [hidden, outputs],
  ];
  const initializer = [];
  const nodes = [];
  let prev = 'x';
  layers.forEach((dims, i) => {
    initializer.push(tensor(`w${i}`, dims, i + 1));
    const mm = `mm${i}`;
    nodes.push(node([prev, `w${i}`], mm, 'MatMul'));
    if (i < layers.length - 1) {
      nodes.push(node([mm], `relu${i}`, 'Relu'));
      prev = `relu${i}`;
    } else prev = mm;
  });
  nodes.push(node([prev], 'y', 'Identity'));
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'modelctl-bench',
    graph: {
      name: 'bench_mlp',
      node: nodes,
      initializer,
      input: [valueInfo('x', ['batch', inputs])],
      output: [valueInfo('y', ['batch', outputs])],
    },
    opsetImport: [{ domain: '', version: 17 }],
  });
  writeFileSync(path, onnx.ModelProto.encode(model).finish());
}
