#!/usr/bin/env node
// Registry benchmarks, side by side with a peer in the same run:
//   register of a 1 GiB file vs `sha256sum` of the same file (goal: >= 0.8x its throughput)
//   `modelctl list` over 10,000 versions (goal: <= 0.3 s)
//   `modelctl gc` over 100,000 blobs (goal: <= 3 s)
// Usage: npm run build && node bench/registry.mjs [--size-mib 1024] [--runs 5] [--only register,list,gc]
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { bin, median, opt, root, time, work, writeSafetensors } from './lib.mjs';

const sizeMiB = Number(opt('size-mib', '1024'));
const runs = Number(opt('runs', '5'));
const only = new Set(opt('only', 'register,list,gc').split(','));

const { Registry } = await import(join(root, 'dist', 'index.js'));
const { sealManifest, MANIFEST_SCHEMA } = await import(join(root, 'dist', 'registry', 'manifest.js'));

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const results = [];

if (only.has('register')) {
  const file = join(work, 'big.safetensors');
  writeSafetensors(file, sizeMiB * 1024 * 1024);
  execFileSync('sha256sum', [file]); // both sides read from the page cache
  const peer = [];
  const ours = [];
  for (let i = 0; i < runs; i++) {
    peer.push(time('sha256sum', [file]).ms);
    const home = join(work, `home-register-${i}`);
    ours.push(time('node', [bin, 'register', file, '--name', 'big'], { MODELCTL_HOME: home }).ms);
    rmSync(home, { recursive: true, force: true });
  }
  const mib = sizeMiB;
  results.push({
    bench: `register ${mib} MiB vs sha256sum`,
    peer: `${median(peer).toFixed(0)} ms (${(mib / (median(peer) / 1000)).toFixed(0)} MiB/s)`,
    ours: `${median(ours).toFixed(0)} ms (${(mib / (median(ours) / 1000)).toFixed(0)} MiB/s)`,
    ratio: `${(median(peer) / median(ours)).toFixed(2)}x of sha256sum's throughput (goal >= 0.8x)`,
  });
  rmSync(file);
}

/** Writes `count` versions straight through the store (registering 10,000 files one by one would time the wrong thing). */
async function populate(home, versions, blobsPerVersion, extraBlobs) {
  const registry = new Registry({ home });
  const store = registry.store;
  mkdirSync(store.layout.tmpDir, { recursive: true });
  let blobIndex = 0;
  const newBlob = () => {
    const content = `blob ${blobIndex++}`;
    const sha256 = createHash('sha256').update(content).digest('hex');
    mkdirSync(dirname(store.layout.blob(sha256)), { recursive: true });
    writeFileSync(store.layout.blob(sha256), content, { mode: 0o444 });
    return { sha256, size: content.length };
  };
  for (let v = 0; v < versions; v++) {
    const name = `org/model-${Math.floor(v / 10)}`;
    const files = Array.from({ length: blobsPerVersion }, (_, i) => ({ path: `part-${i}.bin`, ...newBlob() }));
    const manifest = sealManifest({
      schema: MANIFEST_SCHEMA,
      name,
      version: `1.0.${v % 10}`,
      format: 'onnx',
      task: 'text-classification',
      files,
      size: files.reduce((n, f) => n + f.size, 0),
      metadata: { parameters: 1000 },
      tags: { team: 'ml' },
      metrics: {},
      lineage: { operation: 'register', tool: 'bench' },
      createdAt: new Date(Date.now() - v * 1000).toISOString(),
    });
    await store.writeManifest(manifest);
    if (v % 10 === 9) await store.writeAliases(name, { latest: manifest.version });
  }
  for (let i = 0; i < extraBlobs; i++) newBlob();
}

if (only.has('list')) {
  const home = join(work, 'home-list');
  await populate(home, 10_000, 1, 0);
  const ours = [];
  const json = [];
  const peer = [];
  for (let i = 0; i < runs; i++) {
    peer.push(time('sh', ['-c', `cat ${home}/models/*/versions/*.json > /dev/null`]).ms);
    ours.push(time('node', [bin, 'list'], { MODELCTL_HOME: home }).ms);
    json.push(time('node', [bin, 'list', '--json'], { MODELCTL_HOME: home }).ms);
  }
  results.push({
    bench: 'list over 10,000 versions',
    peer: `${median(peer).toFixed(0)} ms (cat of every manifest)`,
    ours: `${median(ours).toFixed(0)} ms table, ${median(json).toFixed(0)} ms --json`,
    ratio: `goal <= 300 ms`,
  });
  rmSync(home, { recursive: true, force: true });
}

if (only.has('gc')) {
  const ours = [];
  const peer = [];
  for (let i = 0; i < Math.min(runs, 3); i++) {
    const home = join(work, `home-gc-${i}`);
    // 100,000 blobs: 50,000 referenced by 10,000 versions, 50,000 unreferenced that gc deletes.
    await populate(home, 10_000, 5, 50_000);
    peer.push(time('sh', ['-c', `find ${home}/blobs -type f | wc -l > /dev/null`]).ms);
    ours.push(time('node', [bin, 'gc', '--json'], { MODELCTL_HOME: home }).ms);
    rmSync(home, { recursive: true, force: true });
  }
  results.push({
    bench: 'gc over 100,000 blobs (50,000 unreferenced)',
    peer: `${median(peer).toFixed(0)} ms (find | wc -l over the blobs)`,
    ours: `${median(ours).toFixed(0)} ms`,
    ratio: 'goal <= 3000 ms',
  });
}

rmSync(work, { recursive: true, force: true });
console.log(JSON.stringify({ node: process.version, cpus: (await import('node:os')).cpus().length, runs, results }, null, 2));
