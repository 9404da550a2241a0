// push and pull of a 1 GiB model against the real distribution registry on loopback, side by side with the oras
// Python SDK doing the same in the same run.
//   npm run build && node bench/oci.mjs [--size-mib 1024] [--runs 1] [--python .venv-test/bin/python]
// The registry is Debian's docker-registry (/usr/bin/docker-registry), storing under bench/.work. Each run pushes to
// fresh repositories (so every byte is uploaded), then pulls into a fresh registry home / folder. modelctl runs as
// the CLI does (a new process); oras runs test/oci/oras_client.py (a new Python process). Wall times, whole process.
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { bin, median, opt, root, time, work, writeSafetensors } from './lib.mjs';

const sizeMiB = Number(opt('size-mib', '1024'));
const runs = Number(opt('runs', '1'));
const python = opt('python', join(root, '.venv-test', 'bin', 'python'));
const oras = join(root, 'test', 'oci', 'oras_client.py');

const base = join(work, 'oci');
rmSync(base, { recursive: true, force: true });
mkdirSync(join(base, 'model'), { recursive: true });
const file = join(base, 'model', 'model.safetensors');
writeSafetensors(file, sizeMiB * 1024 * 1024);
const bytes = statSync(file).size;

const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const host = `127.0.0.1:${port}`;
writeFileSync(
  join(base, 'config.yml'),
  `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(base, 'data')}\nhttp:\n  addr: ${host}\n`,
);
const registry = spawn('/usr/bin/docker-registry', ['serve', join(base, 'config.yml')], { stdio: 'ignore' });
for (let i = 0; ; i++) {
  const up = await fetch(`http://${host}/v2/`).then(
    (r) => r.ok,
    () => false,
  );
  if (up) break;
  if (i > 200) throw new Error('docker-registry did not start');
  await new Promise((r) => setTimeout(r, 50));
}

const home = join(base, 'home');
time('node', [bin, 'pull', join(base, 'model'), '--name', 'big', '--version', '1.0.0'], { MODELCTL_HOME: home });
const env = { DOCKER_CONFIG: join(base, 'docker'), HOME: base };
const rows = { mpush: [], opush: [], mpull: [], opull: [] };
try {
  for (let run = 0; run < runs; run++) {
    rows.mpush.push(
      time('node', [bin, 'push', 'big:1.0.0', `oci://${host}/bench/modelctl-${run}:1.0.0`], { MODELCTL_HOME: home, ...env }).ms,
    );
    rows.opush.push(time(python, [oras, 'push', `${host}/bench/oras-${run}:1.0.0`, join(base, 'model'), 'model.safetensors'], env).ms);
    const back = join(base, `back-${run}`);
    rows.mpull.push(time('node', [bin, 'pull', `oci://${host}/bench/modelctl-${run}:1.0.0`], { MODELCTL_HOME: back, ...env }).ms);
    const out = join(base, `oras-out-${run}`);
    rows.opull.push(time(python, [oras, 'pull', `${host}/bench/oras-${run}:1.0.0`, out], env).ms);
    rmSync(back, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  }
} finally {
  registry.kill();
}
const mibs = (ms) => ((bytes / 1024 / 1024) * 1000) / ms;
const line = (what, m, o) =>
  `| ${what} | oras (Python SDK): ${o.toFixed(0)} ms (${mibs(o).toFixed(0)} MiB/s) | ${m.toFixed(0)} ms (${mibs(m).toFixed(0)} MiB/s): **${(o / m).toFixed(2)}x** oras's throughput |`;
console.log(`${sizeMiB} MiB, ${runs} run(s), medians; registry ${host}`);
console.log('| benchmark | peer, same run | modelctl |');
console.log('| --- | --- | --- |');
console.log(line(`push a ${sizeMiB} MiB model (fresh repository)`, median(rows.mpush), median(rows.opush)));
console.log(line(`pull a ${sizeMiB} MiB model (empty registry home / folder)`, median(rows.mpull), median(rows.opull)));
rmSync(base, { recursive: true, force: true });
