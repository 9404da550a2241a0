// What the benchmark scripts share: flags, timing of whole commands, medians, protobuf varints, big model files.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const bin = join(root, 'bin', 'modelctl.cjs');
export const work = join(root, 'bench', '.work');

/** The texts the encoder-decoder benchmarks (seq2seq.mjs, beam-reorder.mjs) generate from. */
export const SEQ2SEQ_TEXTS = [
  'translate English to German: the house is wonderful.',
  'summarize: modelctl exports encoder-decoder models as an encoder and a decoder with its cache.',
  'The quick brown fox jumps over the lazy dog.',
  'héllo wörld, ça va? 東京 and 北京 🙂',
  'Beam search keeps the best few sequences at every step.',
  'A language model predicts the next token from the tokens before it.',
  'The user asks a question and the assistant answers it.',
  'modelctl exports models to ONNX and runs them with ONNX Runtime.',
];

/** `--name value` from argv, else the fallback. */
export function opt(name, fallback) {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
}

/** Runs a command to completion; its wall time in ms and its stdout. Throws when it fails. */
export function time(cmd, cmdArgs, env = {}) {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, cmdArgs, {
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 1 << 26,
  });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${cmdArgs.join(' ')} failed: ${r.stderr}`);
  return { ms, stdout: r.stdout.toString() };
}

/**
 * Writes the benchmarks' compute-bound model to `path` with Python's onnx package (built, never downloaded):
 * 256 -> 1024 -> 1024 -> 1024 -> 10, Gemm + Relu, Softmax (probabilities) and ArgMax (label) outputs.
 */
export function buildMlp(python, path) {
  time(python, [
    '-c',
    `import sys, numpy as np, onnx
from onnx import helper, numpy_helper, TensorProto
rng = np.random.default_rng(0)
dims = [256, 1024, 1024, 1024, 10]; nodes = []; inits = []; x = 'input'
for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
    inits += [numpy_helper.from_array((rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32), f'W{i}'), numpy_helper.from_array(np.zeros(b, np.float32), f'B{i}')]
    nodes.append(helper.make_node('Gemm', [x, f'W{i}', f'B{i}'], [f'h{i}'])); x = f'h{i}'
    if i < len(dims) - 2:
        nodes.append(helper.make_node('Relu', [x], [f'r{i}'])); x = f'r{i}'
nodes += [helper.make_node('Softmax', [x], ['probabilities'], axis=1), helper.make_node('ArgMax', [x], ['label'], axis=1, keepdims=0)]
g = helper.make_graph(nodes, 'mlp', [helper.make_tensor_value_info('input', TensorProto.FLOAT, ['N', 256])], [helper.make_tensor_value_info('label', TensorProto.INT64, ['N']), helper.make_tensor_value_info('probabilities', TensorProto.FLOAT, ['N', 10])], inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)]); m.ir_version = 8
onnx.checker.check_model(m); onnx.save(m, sys.argv[1])`,
    path,
  ]);
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export function varint(n) {
  const out = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return Buffer.from(out);
}

/** A real safetensors file of about `bytes` bytes: one float32 tensor of random values, written in chunks. */
export function writeSafetensors(path, bytes) {
  const n = Math.floor(bytes / 4);
  let header = JSON.stringify({ weight: { dtype: 'F32', shape: [n], data_offsets: [0, n * 4] } });
  header += ' '.repeat((8 - (header.length % 8)) % 8);
  const fd = openSync(path, 'w');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  writeSync(fd, len);
  writeSync(fd, header);
  const chunk = randomBytes(8 << 20);
  for (let left = n * 4; left > 0; left -= chunk.length) writeSync(fd, chunk, 0, Math.min(left, chunk.length));
  closeSync(fd);
}
