#!/usr/bin/env node
// Verify-on-use (issue 14): what checking a registry model's blobs before use adds to a cold predict, side by side in
// one run with a build of the commit before the check (no check at all), on the iris fixture and on a model with
// ~1 GiB of external data (goal: under 1 ms added when nothing changed); and what --verify (a full re-hash) costs,
// beside sha256sum of the same bytes.
// Usage: npm run build && node bench/verify.mjs [--size-mib 1024] [--runs 11] [--baseline REV]
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, rmSync, symlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { bin, median, opt, root, time, varint, work } from './lib.mjs';

const sizeMiB = Number(opt('size-mib', '1024'));
const runs = Number(opt('runs', '11'));
const git = (...args) => execFileSync('git', args, { cwd: root }).toString().trim();
// The commit before verify-on-use: the parent of the first commit that added src/registry/verify.ts.
const added = git('log', '--diff-filter=A', '--format=%H', '--', 'src/registry/verify.ts').split('\n').filter(Boolean).at(-1);
const baselineRev = opt('baseline', added ? `${added}^` : undefined);
if (!baselineRev) throw new Error('say which commit to compare with: --baseline REV');

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

// The baseline: the same sources at that commit, built beside this tree with the same node_modules.
const base = join(work, 'baseline');
mkdirSync(base);
execFileSync('sh', ['-c', `git archive ${git('rev-parse', baselineRev)} | tar -x -C "${base}"`], { cwd: root });
symlinkSync(join(root, 'node_modules'), join(base, 'node_modules'));
execFileSync('npm', ['run', 'build', '--silent'], { cwd: base, stdio: ['ignore', 'ignore', 'inherit'] });
const builds = {
  'no check': { dist: join(base, 'dist'), bin: join(base, 'bin', 'modelctl.cjs') },
  check: { dist: join(root, 'dist'), bin },
};

// Protobuf by hand (as bench/onnx.mjs): ids (int64 [N]) -> Gather(W, ids) -> y (float32 [N, 256]), W in weights.bin.
const field = (num, bytes) => Buffer.concat([varint(num * 8 + 2), varint(bytes.length), bytes]);
const str = (num, s) => field(num, Buffer.from(s));
const int = (num, n) => Buffer.concat([varint(num * 8), varint(n)]);
const dims = (...ds) => field(2, Buffer.concat(ds.map((d) => field(1, typeof d === 'string' ? str(2, d) : int(1, d)))));
const valueInfo = (name, elemType, ...ds) =>
  Buffer.concat([str(1, name), field(2, field(1, Buffer.concat([int(1, elemType), dims(...ds)])))]);

function writeGatherModel(dir, bytes) {
  const width = 256;
  const rows = Math.floor(bytes / (width * 4));
  const length = rows * width * 4;
  mkdirSync(dir, { recursive: true });
  const entry = (k, v) => field(13, Buffer.concat([str(1, k), str(2, v)]));
  const external = [entry('location', 'weights.bin'), entry('offset', '0'), entry('length', String(length)), int(14, 1)];
  const w = Buffer.concat([int(1, rows), int(1, width), int(2, 1), str(8, 'W'), ...external]);
  const node = field(1, Buffer.concat([str(1, 'W'), str(1, 'ids'), str(2, 'y'), str(4, 'Gather')]));
  const graph = Buffer.concat([
    node,
    str(2, 'gather'),
    field(5, w),
    field(11, valueInfo('ids', 7, 'N')),
    field(12, valueInfo('y', 1, 'N', width)),
  ]);
  const model = Buffer.concat([int(1, 8), str(2, 'bench'), field(7, graph), field(8, Buffer.concat([str(1, ''), int(2, 13)]))]);
  const fd = openSync(join(dir, 'model.onnx'), 'w');
  writeSync(fd, model);
  closeSync(fd);
  const data = openSync(join(dir, 'weights.bin'), 'w');
  const chunk = randomBytes(8 << 20);
  for (let left = length; left > 0; left -= chunk.length) writeSync(data, chunk, 0, Math.min(left, chunk.length));
  closeSync(data);
}

const models = [
  { name: 'iris', source: join(root, 'fixtures', 'models', 'iris-logreg', 'model.onnx'), args: ['5.1,3.5,1.4,0.2'] },
  {
    name: 'gather',
    source: join(work, 'gather'),
    args: ['--input', '{"ids": [1, 2, 3]}'],
    build: (dir) => writeGatherModel(dir, sizeMiB * 1024 * 1024),
  },
];

/** One fresh process: a cold resolveModel (registry lookup, the check, the ONNX summary, the view), or one part of it. */
const driver = `
const [dist, home, name, what] = process.argv.slice(1);
const { Registry, resolveModel } = await import(dist + '/index.js');
const registry = new Registry({ home });
const manifest = what === 'resolve' ? undefined : await registry.resolve(name);
const t0 = performance.now();
if (what === 'resolve') await resolveModel(name, registry);
else if (what === 'verify') await registry.verify(manifest);
else await registry.materialize(manifest);
const ms = performance.now() - t0;
// Again in the same process: the steady state (serve checking a version it loads again, or per request with stillVerified).
const t1 = performance.now();
const verified = what === 'verify' ? await registry.verify(manifest) : undefined;
const t2 = performance.now();
if (verified) registry.stillVerified(verified);
console.log(JSON.stringify({ ms, warmMs: t2 - t1, stillMs: performance.now() - t2 }));`;

function cold(build, home, name, what, key = 'ms') {
  const r = spawnSync('node', ['--input-type=module', '-e', driver, build.dist, home, name, what], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout)[key];
}

/** Runs `a` and `b` `runs` times each, alternating which goes first; the median of each. */
function sideBySide(a, b) {
  const xs = [];
  const ys = [];
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) {
      xs.push(a());
      ys.push(b());
    } else {
      ys.push(b());
      xs.push(a());
    }
  }
  return [median(xs), median(ys)];
}

const rows = [];
const fmt = (ms) => (ms < 10 ? `${ms.toFixed(3)} ms` : `${ms.toFixed(1)} ms`);
for (const m of models) {
  const home = join(work, `home-${m.name}`);
  if (m.build) m.build(m.source);
  time('node', [bin, 'register', m.source, '--name', m.name], { MODELCTL_HOME: home });
  if (m.build) rmSync(m.source, { recursive: true });
  const env = { MODELCTL_HOME: home };
  const predict =
    (b, extra = []) =>
    () =>
      time('node', [b.bin, 'predict', m.name, ...m.args, '--json', ...extra], env).ms;
  for (const b of Object.values(builds)) predict(b)(); // views made, page cache warm, for both
  const [resolveBase, resolveOurs] = sideBySide(
    () => cold(builds['no check'], home, m.name, 'resolve'),
    () => cold(builds.check, home, m.name, 'resolve'),
  );
  const [viewBase, viewOurs] = m.build
    ? sideBySide(
        () => cold(builds['no check'], home, m.name, 'view'),
        () => cold(builds.check, home, m.name, 'view'),
      )
    : [];
  const verifies = Array.from({ length: runs }, () =>
    ['ms', 'warmMs', 'stillMs'].map((k) => cold(builds.check, home, m.name, 'verify', k)),
  );
  const [verifyOnly, verifyWarm, still] = [0, 1, 2].map((i) => median(verifies.map((v) => v[i])));
  const [cliBase, cliOurs] = sideBySide(predict(builds['no check']), predict(builds.check));
  const [plain, verified] = sideBySide(predict(builds.check), predict(builds.check, ['--verify']));
  const blobs = execFileSync('sh', ['-c', `find "${join(home, 'blobs')}" -type f`])
    .toString()
    .trim()
    .split('\n');
  const sha = median(Array.from({ length: Math.min(runs, 5) }, () => time('sha256sum', blobs).ms));
  const bytes = blobs.reduce((n, f) => n + Number(execFileSync('stat', ['-c', '%s', f]).toString()), 0);
  const row = (model, measure, none, check, added) => rows.push({ model, measure, none, check, added });
  const mib = (bytes / 1024 ** 2).toFixed(bytes > 1024 ** 2 ? 0 : 3);
  row(`${m.name} (${mib} MiB)`, 'cold resolveModel in a fresh process', fmt(resolveBase), fmt(resolveOurs), fmt(resolveOurs - resolveBase));
  row('', 'of which registry.verify() (stat + fingerprint read per blob)', '-', fmt(verifyOnly), fmt(verifyOnly));
  const warm = `${fmt(verifyWarm)} / ${fmt(still)}`;
  row('', 'registry.verify() again in that process / stillVerified() (serve, per request)', '-', warm, warm);
  if (m.build)
    row('', 'of which materialize() of the existing view (external data)', fmt(viewBase), fmt(viewOurs), fmt(viewOurs - viewBase));
  row('', 'cold `modelctl predict` (wall)', fmt(cliBase), fmt(cliOurs), fmt(cliOurs - cliBase));
  row(
    '',
    '`predict --verify` (wall) vs plain predict',
    fmt(plain),
    fmt(verified),
    `${fmt(verified - plain)} (sha256sum of the blobs: ${fmt(sha)})`,
  );
}

const short = (rev) => git('rev-parse', '--short', rev);
console.log(`baseline (no check): ${short(baselineRev)}; this tree: ${short('HEAD')}; medians of ${runs} runs, interleaved`);
console.log('| model | measure | no check | check | added |\n| --- | --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.model} | ${r.measure} | ${r.none} | ${r.check} | ${r.added} |`);
if (existsSync(work)) rmSync(work, { recursive: true, force: true });
