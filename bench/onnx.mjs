#!/usr/bin/env node
// ONNX benchmarks, side by side with a peer in the same run:
//   embed-metadata on a 1 GiB ONNX file vs `cp` of it (goal: <= 1.2x cp's time)
//   reading the metadata of a ~2 GiB model: modelctl's wire-level reader vs Python onnx.load (goal: <= 20 ms, <= 100 MB RSS)
// Usage: npm run build && node bench/onnx.mjs [--runs 5] [--python fixtures/.venv/bin/python]
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { bin, median, opt, root, time, varint, work } from './lib.mjs';

const runs = Number(opt('runs', '5'));
const python = opt(
  'python',
  [join(root, '.venv-test', 'bin', 'python'), join(root, 'fixtures', '.venv', 'bin', 'python')].find(existsSync),
);

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
// The file is streamed, so the raw payload never sits in memory: onnx-proto encodes every other part, and only the
// tag and length in front of the graph, the initializer and its raw_data are written here, computed beforehand.
const lengthPrefix = (num, length) => Buffer.concat([varint(num * 8 + 2), varint(length)]);

/** A valid ONNX model, y = Identity(W), whose single float32 initializer W makes the file `bytes` long (about). */
function writeBigOnnx(path, bytes) {
  const n = Math.floor(bytes / 4);
  const rawLen = n * 4;
  const tensorHead = onnx.TensorProto.encode({ dims: [n], dataType: FLOAT, name: 'W' }).finish();
  const rawTag = lengthPrefix(9, rawLen);
  const tensorLen = tensorHead.length + rawTag.length + rawLen;
  const output = { name: 'y', type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimValue: n }] } } } };
  const graphTail = onnx.GraphProto.encode({
    node: [{ input: ['W'], output: ['y'], opType: 'Identity' }],
    name: 'big',
    output: [output],
  }).finish();
  const initHead = Buffer.concat([lengthPrefix(5, tensorLen), tensorHead, rawTag]);
  const graphLen = initHead.length + rawLen + graphTail.length;
  const head = Buffer.concat([
    onnx.ModelProto.encode({ irVersion: 8, producerName: 'bench' }).finish(),
    lengthPrefix(7, graphLen),
    initHead,
  ]);
  const rest = onnx.ModelProto.encode({
    opsetImport: [{ domain: '', version: 17 }],
    metadataProps: [{ key: 'author', value: 'bench' }],
  }).finish();
  const tail = Buffer.concat([graphTail, rest]);
  const fd = openSync(path, 'w');
  writeSync(fd, head);
  const chunk = randomBytes(8 << 20);
  for (let left = rawLen; left > 0; left -= chunk.length) writeSync(fd, chunk, 0, Math.min(left, chunk.length));
  writeSync(fd, tail);
  closeSync(fd);
}

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const results = [];

{
  const src = join(work, 'one-gib.onnx');
  writeBigOnnx(src, 1024 ** 3);
  execFileSync('cat', [src], { stdio: ['ignore', 'ignore', 'ignore'] }); // page cache, for both sides
  const cp = [];
  const embed = [];
  const inProcess = [];
  const lib = `
    const { embedOnnxFile } = await import(${JSON.stringify(join(root, 'dist', 'onnx', 'embed.js'))});
    const t = process.hrtime.bigint();
    await embedOnnxFile(process.argv[1], process.argv[2], { task: 'feature-extraction' }, { set: { note: 'bench' }, durable: false });
    console.log(Number(process.hrtime.bigint() - t) / 1e6);`;
  for (let i = 0; i < runs; i++) {
    const a = join(work, `cp-${i}.onnx`);
    const b = join(work, `embed-${i}.onnx`);
    const c = join(work, `lib-${i}.onnx`);
    cp.push(time('cp', [src, a]).ms);
    rmSync(a);
    embed.push(time('node', [bin, 'embed-metadata', src, '--task', 'feature-extraction', '--set', 'note=bench', '--out', b]).ms);
    rmSync(b);
    inProcess.push(Number(time('node', ['--input-type=module', '-e', lib, src, c]).stdout));
    rmSync(c);
  }
  results.push({
    bench: 'embed-metadata on a 1 GiB ONNX file vs cp',
    peer: `cp: ${median(cp).toFixed(0)} ms`,
    ours: `CLI, whole process: ${median(embed).toFixed(0)} ms (${(median(embed) / median(cp)).toFixed(2)}x); library call embedOnnxFile: ${median(inProcess).toFixed(0)} ms (${(median(inProcess) / median(cp)).toFixed(2)}x)`,
    ratio: 'goal <= 1.2x cp',
  });
  rmSync(src);
}

{
  const src = join(work, 'two-gib.onnx');
  // Just under 2 GiB: protobuf (and so onnx.load, the peer) refuses a single message of 2 GiB or more.
  writeBigOnnx(src, 2 * 1024 ** 3 - 64 * 1024 ** 2);
  execFileSync('node', [bin, 'embed-metadata', src, '--task', 'feature-extraction']);
  const probe = `
    const t0 = process.hrtime.bigint();
    const rss0 = process.memoryUsage().rss;
    const { readOnnxSummary, readOnnxMetadata } = await import(${JSON.stringify(join(root, 'dist', 'onnx', 'summary.js'))});
    const { decodeHfMetadata } = await import(${JSON.stringify(join(root, 'dist', 'onnx', 'metadata.js'))});
    const t1 = process.hrtime.bigint();
    const top = await readOnnxMetadata(${JSON.stringify(src)});
    const m = decodeHfMetadata(top.metadataProps);
    const t2 = process.hrtime.bigint();
    const s = await readOnnxSummary(${JSON.stringify(src)});
    const t3 = process.hrtime.bigint();
    console.log(JSON.stringify({ readMs: Number(t2 - t1) / 1e6, summaryMs: Number(t3 - t2) / 1e6, importMs: Number(t1 - t0) / 1e6, rssMB: process.memoryUsage().rss / 2 ** 20, rss0MB: rss0 / 2 ** 20, task: m?.task, params: s.parameterCount }));`;
  const ours = [];
  for (let i = 0; i < runs; i++) ours.push(JSON.parse(time('node', ['--input-type=module', '-e', probe]).stdout));
  const cli = [];
  for (let i = 0; i < runs; i++) cli.push(time('node', [bin, 'info', src, '--json']).ms);
  let peer = 'python onnx not found (pass --python)';
  if (python) {
    const code = `import time, resource, onnx\nt = time.perf_counter()\nm = onnx.load(${JSON.stringify(src)}, load_external_data=False)\nprops = {p.key: p.value for p in m.metadata_props}\nms = (time.perf_counter() - t) * 1000\nprint(f"{ms:.0f} ms, {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB max RSS, task={props.get('hf_pipeline_task')}")`;
    peer = `python onnx.load: ${time(python, ['-c', code]).stdout.trim()}`;
  }
  const read = median(ours.map((o) => o.readMs));
  results.push({
    bench: 'read the metadata of a 1.94 GiB ONNX model',
    peer,
    ours: `${read.toFixed(2)} ms in-process (readOnnxMetadata + decodeHfMetadata; the full summary: ${median(ours.map((o) => o.summaryMs)).toFixed(2)} ms), max RSS ${Math.max(...ours.map((o) => o.rssMB)).toFixed(0)} MB; \`modelctl info PATH --json\` whole process ${median(cli).toFixed(0)} ms`,
    ratio: 'goal <= 20 ms and <= 100 MB RSS',
  });
  rmSync(src);
}

rmSync(work, { recursive: true, force: true });
console.log(JSON.stringify({ node: process.version, runs, results }, null, 2));
