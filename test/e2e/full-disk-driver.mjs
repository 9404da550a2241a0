// Runs the full-disk scenario of full-disk.test.ts on the (small, empty) filesystem mounted at argv[2], through the
// built binary, and prints one JSON document of what each step did. It is a separate script so that it can run
// inside `unshare -rm` (a mount namespace of its own) when the test is not root.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, rmSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const [mount, bin, fixtures] = process.argv.slice(2);
const home = join(mount, 'home');
const steps = [];

const free = () => {
  const s = statfsSync(mount);
  return s.bavail * s.bsize;
};

function cli(name, args) {
  const r = spawnSync(process.execPath, [bin, ...args, '--json'], {
    env: { ...process.env, NO_COLOR: '1', MODELCTL_HOME: home },
    encoding: 'utf8',
  });
  steps.push({ name, exitCode: r.status, stdout: r.stdout, stderr: r.stderr, free: free() });
  return r;
}

/** Writes a filler file until the filesystem refuses another byte. */
let fillers = 0;
function fill() {
  const path = join(mount, `filler-${fillers++}`);
  const fd = openSync(path, 'w');
  const page = Buffer.alloc(4096, 1);
  try {
    for (;;) writeSync(fd, page);
  } catch (err) {
    if (err.code !== 'ENOSPC') throw err;
  }
  for (const size of [1024, 64, 1]) {
    try {
      for (;;) writeSync(fd, page, 0, size);
    } catch (err) {
      if (err.code !== 'ENOSPC') throw err;
    }
  }
  closeSync(fd);
  steps.push({ name: `fill ${fillers}`, free: free() });
}

cli('register keep', ['register', join(fixtures, 'iris-logreg'), '--name', 'keep', '--alias', 'production']);
cli('register ext:1.0.0', ['register', join(fixtures, 'onnx-external'), '--name', 'ext', '--version', '1.0.0', '--alias', 'prod']);
cli('register ext:1.0.1', ['register', join(fixtures, 'onnx-handbuilt'), '--name', 'ext', '--version', '1.0.1']);
cli('register ext:1.0.2', ['register', join(fixtures, 'safetensors'), '--name', 'ext', '--version', '1.0.2']);
cli('register copy', ['register', join(fixtures, 'onnx-external'), '--name', 'copy']);

fill();
cli('register on a full disk', ['register', join(fixtures, 'torch-statedict'), '--name', 'more']);
steps.push({ name: 'tmp after the refused register', entries: readdirSync(join(home, 'tmp')), free: free() });
// Shares its blobs with copy:1.0.0, so it frees nothing, yet its aliases (prod) must be rewritten.
cli('rm ext:1.0.0', ['rm', 'ext:1.0.0', '--yes']);

// Without the model's index (a kill can leave it so), the aliases cannot be rewritten before the blobs are freed.
rmSync(join(home, 'models', 'ext', 'index.json'), { force: true });
fill();
cli('rm ext:1.0.2 (latest, no index)', ['rm', 'ext:1.0.2', '--yes']);
cli('list after rm', ['list']);

fill();
cli('gc', ['gc', '--grace', '0s', '--max-models', '1']);
cli('validate --strict', ['validate', '--strict']);
for (let i = 0; i < fillers; i++) unlinkSync(join(mount, `filler-${i}`));
process.stdout.write(JSON.stringify(steps));
