// modelctl serve under load on loopback: 32 concurrent clients, each sending its requests one after another over a
// keep-alive connection, against the built binary started with --max-batch 32 and then --max-batch 1. Bounded: a
// fixed number of requests per client, to 127.0.0.1 only.
//
//   npm run build && node bench/serve.mjs [--model mlp|iris|bert] [--clients 32] [--requests 150] [--runs 3]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin, median, opt, root } from './lib.mjs';
import { writeMlp } from './serve-model.mjs';

const MODELS = {
  mlp: {
    file: null, // written by serve-model.mjs
    body: (i) => ({
      inputs: [{ name: 'x', shape: [1, 64], datatype: 'FP32', data: Array.from({ length: 64 }, (_, k) => ((i * 31 + k * 7) % 13) / 13) }],
    }),
  },
  iris: {
    file: 'fixtures/models/iris-logreg/model.onnx',
    body: (i) => ({ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [4 + (i % 7) * 0.5, 3, 1 + (i % 5), 0.2] }] }),
  },
  bert: {
    file: 'fixtures/models/optimum-bert/model.onnx',
    body: (i) => {
      const ids = [101, 20 + (i % 50), 33, 47, 58, 61, 99, 102]; // the fixture's vocabulary has 177 tokens
      const t = (name, data) => ({ name, shape: [1, data.length], datatype: 'INT64', data });
      return {
        inputs: [
          t('input_ids', ids),
          t(
            'attention_mask',
            ids.map(() => 1),
          ),
          t(
            'token_type_ids',
            ids.map(() => 0),
          ),
        ],
      };
    },
  },
};

const modelName = opt('model', 'mlp');
const model = MODELS[modelName];
const clients = Number(opt('clients', '32'));
const perClient = Number(opt('requests', '150'));
const runs = Number(opt('runs', '3'));

function startServer(home, maxBatch) {
  const child = spawn('node', [bin, 'serve', '--port', '0', '--json', '--max-batch', String(maxBatch), '--max-wait-ms', '2'], {
    env: { ...process.env, MODELCTL_HOME: home, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout.once('data', (d) => resolve({ child, url: JSON.parse(String(d).split('\n')[0]).url }));
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });
}

function post(agent, url, body) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const req = request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ ok: res.statusCode === 200, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
      },
    );
    req.on('error', () => resolve({ ok: false, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
    req.end(body);
  });
}

async function load(url) {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const target = `${url}/v2/models/${modelName}/infer`;
  const bodies = Array.from({ length: 64 }, (_, i) => Buffer.from(JSON.stringify(model.body(i))));
  for (let i = 0; i < clients; i++) await post(agent, target, bodies[i % 64]); // warm: session loaded, sockets open
  const latencies = [];
  let errors = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; i < perClient; i++) {
        const r = await post(agent, target, bodies[(c * perClient + i) % 64]);
        latencies.push(r.ms);
        if (!r.ok) errors++;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const metrics = await new Promise((resolve) => {
    request(`${url}/metrics`, { agent }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve(text));
    }).end();
  });
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const sum = Number(/modelctl_inference_batch_size_sum\{[^}]*\} ([\d.]+)/.exec(metrics)?.[1]);
  const count = Number(/modelctl_inference_batch_size_count\{[^}]*\} ([\d.]+)/.exec(metrics)?.[1]);
  return {
    rps: (clients * perClient) / seconds,
    p50: latencies[Math.floor(latencies.length * 0.5)],
    p99: latencies[Math.floor(latencies.length * 0.99)],
    errors,
    meanBatch: sum / count,
  };
}

const home = mkdtempSync(join(tmpdir(), 'modelctl-bench-serve-'));
try {
  const file = model.file ? join(root, model.file) : join(home, 'mlp.onnx');
  if (!model.file) writeMlp(file);
  const reg = spawnSync('node', [bin, 'register', file, '--name', modelName], { env: { ...process.env, MODELCTL_HOME: home } });
  if (reg.status !== 0) throw new Error(String(reg.stderr));
  const results = {};
  for (const maxBatch of [32, 1]) {
    const rounds = [];
    for (let r = 0; r < runs; r++) {
      const { child, url } = await startServer(home, maxBatch);
      rounds.push(await load(url));
      child.kill('SIGTERM');
      await new Promise((res) => child.once('exit', res));
    }
    const pick = (k) => median(rounds.map((x) => x[k]));
    results[maxBatch] = {
      rps: pick('rps'),
      p50: pick('p50'),
      p99: pick('p99'),
      meanBatch: pick('meanBatch'),
      errors: rounds.reduce((n, x) => n + x.errors, 0),
    };
    const x = results[maxBatch];
    console.log(
      `${modelName} --max-batch ${maxBatch}: ${x.rps.toFixed(0)} req/s, p50 ${x.p50.toFixed(1)} ms, p99 ${x.p99.toFixed(1)} ms, mean batch ${x.meanBatch.toFixed(1)} requests, errors ${x.errors} (${clients} clients x ${perClient} requests, median of ${runs})`,
    );
  }
  console.log(`batching speed-up: ${(results[32].rps / results[1].rps).toFixed(2)}x`);
} finally {
  rmSync(home, { recursive: true, force: true });
}
