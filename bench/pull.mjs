// pull of one large file from a loopback Hub against curl of the same file, in the same run.
//   npm run build && node bench/pull.mjs [--https] [--size-mib 1024] [--runs 3] [--also-bin OTHER/bin/modelctl.cjs]
// The server (this process) speaks the Hub endpoints pull uses: tree listing, paths-info, resolve (302 to a CDN
// path), Range. pull runs as the CLI does (a new process), curl writes to the same disk. Throughput = bytes / wall.
// A third column, curl followed by `sync FILE`, is the peer with pull's durability (pull fsyncs before it commits;
// curl alone leaves the data in the page cache).
// --https serves the Hub and the CDN over TLS, as the real ones are, with a self-signed certificate made here by
// openssl: curl trusts it with --cacert, pull with NODE_EXTRA_CA_CERTS. --also-bin times a second build of the CLI
// (e.g. the commit before a change) in the same alternation.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import { bin, median, opt, work, writeSafetensors } from './lib.mjs';

const sizeMiB = Number(opt('size-mib', '1024'));
const runs = Number(opt('runs', '3'));
const https = process.argv.includes('--https');
const otherBin = opt('also-bin', undefined);
mkdirSync(work, { recursive: true });
const file = join(work, 'pull-big.safetensors');
const certFile = join(work, 'pull-cert.pem');
const keyFile = join(work, 'pull-key.pem');
if (https) {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
}

async function sha256Of(path) {
  const h = createHash('sha256');
  for await (const c of createReadStream(path, { highWaterMark: 1 << 22 })) h.update(c);
  return h.digest('hex');
}

writeSafetensors(file, sizeMiB * 1024 * 1024);
const size = statSync(file).size;
const sha = await sha256Of(file);
const commit = 'c'.repeat(40);
const entries = [{ type: 'file', path: 'big.safetensors', size, oid: 'f'.repeat(40), lfs: { oid: sha, size, pointerSize: 134 } }];

function sendFile(req, res) {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const start = m ? Number(m[1]) : 0;
  res.writeHead(m ? 206 : 200, {
    'content-length': String(size - start),
    'accept-ranges': 'bytes',
    etag: `"${sha}"`,
    ...(m ? { 'content-range': `bytes ${start}-${size - 1}/${size}` } : {}),
  });
  createReadStream(file, { start, highWaterMark: 1 << 20 }).pipe(res);
}

const handler = (req, res) => {
  const url = req.url.split('?')[0];
  if (url.startsWith('/api/models/bench/big/tree/')) return res.end(JSON.stringify(entries));
  if (url.startsWith('/api/models/bench/big/paths-info/')) {
    req.resume();
    return req.on('end', () => res.end(JSON.stringify(entries)));
  }
  if (url.startsWith('/bench/big/resolve/')) {
    res.writeHead(302, {
      location: `${endpoint}/cdn/big`,
      'x-repo-commit': commit,
      'x-linked-etag': `"${sha}"`,
      'x-linked-size': String(size),
    });
    return res.end();
  }
  if (url === '/cdn/big') return sendFile(req, res);
  res.writeHead(404).end();
};
const server = https ? createHttpsServer({ key: readFileSync(keyFile), cert: readFileSync(certFile) }, handler) : createHttpServer(handler);
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;
const endpoint = `${https ? 'https' : 'http'}://127.0.0.1:${port}`;
const curlTls = https ? ['--cacert', certFile] : [];
const pullTls = https ? { NODE_EXTRA_CA_CERTS: certFile } : {};

// The server runs in this process: the measured commands run asynchronously so that it keeps serving.
const { spawn } = await import('node:child_process');
function timeAsync(cmd, args, env = {}) {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    const child = spawn(cmd, args, { env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdout.resume();
    child.on('exit', (code) =>
      code === 0 ? resolve(Number(process.hrtime.bigint() - t) / 1e6) : reject(new Error(`${cmd} failed: ${err}`)),
    );
  });
}

const curlMs = [];
const syncMs = [];
const pullMs = [];
const otherMs = [];
// Every timed command starts on a quiet disk: an untimed `sync` first, so that one side's unwritten pages (curl
// leaves a gigabyte of them) are not flushed during, and charged to, the next side's run.
const settle = () => timeAsync('sync', []);
for (let i = 0; i < runs; i++) {
  const out = join(work, 'curl-out.bin');
  rmSync(out, { force: true });
  await settle();
  curlMs.push(await timeAsync('curl', ['-sS', '-f', ...curlTls, '-o', out, `${endpoint}/cdn/big`]));
  rmSync(out, { force: true });
  await settle();
  syncMs.push(
    await timeAsync('sh', ['-c', `curl -sS -f ${curlTls.join(' ')} -o "$1" "$2" && sync "$1"`, 'sh', out, `${endpoint}/cdn/big`]),
  );
  rmSync(out, { force: true });
  const home = join(work, 'pull-home');
  for (const [cli, times] of [[bin, pullMs], ...(otherBin ? [[otherBin, otherMs]] : [])]) {
    rmSync(home, { recursive: true, force: true });
    await settle();
    const env = { MODELCTL_HOME: home, HF_HOME: join(work, 'hf-empty'), HF_TOKEN: '', ...pullTls };
    times.push(await timeAsync('node', [cli, 'pull', 'hf:bench/big', '--endpoint', endpoint], env));
  }
  rmSync(home, { recursive: true, force: true });
}
server.close();
rmSync(file, { force: true });
rmSync(certFile, { force: true });
rmSync(keyFile, { force: true });

const mibps = (ms) => size / 1048576 / (ms / 1000);
const c = median(curlMs);
const p = median(pullMs);
const cs = median(syncMs);
console.log(`${https ? 'HTTPS' : 'HTTP'}, file: ${(size / 1048576).toFixed(0)} MiB, ${runs} runs each, alternating`);
console.log(
  `curl -o:        median ${c.toFixed(0)} ms  (${mibps(c).toFixed(0)} MiB/s)  runs ${curlMs.map((x) => x.toFixed(0)).join(', ')}`,
);
console.log(
  `curl -o + sync:  median ${cs.toFixed(0)} ms  (${mibps(cs).toFixed(0)} MiB/s)  runs ${syncMs.map((x) => x.toFixed(0)).join(', ')}`,
);
console.log(
  `modelctl pull:  median ${p.toFixed(0)} ms  (${mibps(p).toFixed(0)} MiB/s)  runs ${pullMs.map((x) => x.toFixed(0)).join(', ')}`,
);
if (otherBin) {
  const o = median(otherMs);
  const list = otherMs.map((x) => x.toFixed(0)).join(', ');
  console.log(
    `pull (${otherBin}): median ${o.toFixed(0)} ms  (${mibps(o).toFixed(0)} MiB/s)  runs ${list}; / curl: ${(c / o).toFixed(2)}x`,
  );
}
console.log(`pull throughput / curl throughput: ${(c / p).toFixed(2)}x (goal >= 0.8x); / curl + sync: ${(cs / p).toFixed(2)}x`);
