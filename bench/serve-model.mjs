// Writes the benchmark's ONNX model: an MLP whose weights (3 x 2048x2048 float32, 48 MiB) are read once per run,
// so one run of 32 rows costs little more than one run of one row. That is the case dynamic batching exists for
// (large layers, memory-bound at batch 1); the tiny fixtures are bound by HTTP instead and gain nothing from it.
import { writeFileSync } from 'node:fs';
import { varint } from './lib.mjs';

const field = (num, wire, payload) => Buffer.concat([varint(num * 8 + wire), payload]);
const vint = (num, v) => field(num, 0, varint(v));
const bytes = (num, b) => field(num, 2, Buffer.concat([varint(b.length), b]));
const str = (num, s) => bytes(num, Buffer.from(s));
const msg = (num, parts) => bytes(num, Buffer.concat(parts));

function tensor(name, dims, seed) {
  const count = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(count);
  let x = seed;
  const scale = 1 / Math.sqrt(dims[0]);
  for (let i = 0; i < count; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    data[i] = ((x / 2147483648) * 2 - 1) * scale;
  }
  return Buffer.concat([...dims.map((d) => vint(1, d)), vint(2, 1), str(8, name), bytes(9, Buffer.from(data.buffer))]);
}

function valueInfo(name, dims) {
  const shape = dims.map((d) => msg(1, [typeof d === 'string' ? str(2, d) : vint(1, d)]));
  return [str(1, name), msg(2, [msg(1, [vint(1, 1), msg(2, shape)])])];
}

const node = (inputs, output, op) => [...inputs.map((i) => str(1, i)), str(2, output), str(3, output), str(4, op)];

export function writeMlp(path, { inputs = 64, hidden = 2048, outputs = 8 } = {}) {
  const layers = [[inputs, hidden], [hidden, hidden], [hidden, hidden], [hidden, outputs]];
  const graph = [];
  let prev = 'x';
  layers.forEach((dims, i) => {
    graph.push(msg(5, [tensor(`w${i}`, dims, i + 1)]));
    const mm = `mm${i}`;
    graph.push(msg(1, node([prev, `w${i}`], mm, 'MatMul')));
    if (i < layers.length - 1) {
      graph.push(msg(1, node([mm], `relu${i}`, 'Relu')));
      prev = `relu${i}`;
    } else prev = mm;
  });
  graph.push(msg(1, node([prev], 'y', 'Identity')));
  graph.push(str(2, 'bench_mlp'), msg(11, valueInfo('x', ['batch', inputs])), msg(12, valueInfo('y', ['batch', outputs])));
  const model = Buffer.concat([vint(1, 8), str(2, 'modelctl-bench'), msg(7, graph), msg(8, [str(1, ''), vint(2, 17)])]);
  writeFileSync(path, model);
}
