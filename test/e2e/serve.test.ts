import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES, cli, startServe, tempDir } from '../helpers.js';

/** `modelctl serve` as a person or a supervisor runs it: the spawned binary, stopped by a signal. */

describe('modelctl serve (spawned binary)', () => {
  it('serves, and on SIGTERM finishes the upload in flight before exiting 0', async () => {
    const home = tempDir();
    expect((await cli(['register', join(FIXTURES, 'iris-logreg', 'model.onnx'), '--name', 'iris'], { home })).exitCode).toBe(0);
    const { child, url: pending } = startServe(home, ['--max-batch', '8']);
    const url = await pending;
    const infer = await fetch(`${url}/v2/models/iris/infer`, {
      method: 'POST',
      body: JSON.stringify({ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }] }),
    });
    expect(((await infer.json()) as { outputs: Array<{ data: number[] }> }).outputs[0]?.data).toEqual([0]);
    const bytes = readFileSync(join(FIXTURES, 'onnx-handbuilt', 'model.onnx'));
    const answer = new Promise<number>((resolve, reject) => {
      const req = request(`${url}/v1/models?name=late`, { method: 'POST', headers: { 'content-length': bytes.length } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.write(bytes.subarray(0, 64));
      setTimeout(() => {
        child.kill('SIGTERM');
        setTimeout(() => req.end(bytes.subarray(64)), 300);
      }, 200);
    });
    expect(await answer).toBe(201);
    const done = await child;
    expect(done.exitCode, done.stderr).toBe(0);
    expect(done.stderr).toMatch(/shutting down, finishing the requests in flight\n.*stopped/s);
    const list = JSON.parse((await cli(['list', '--json'], { home })).stdout);
    expect(list.models.map((m: { name: string }) => m.name).sort()).toEqual(['iris', 'late']);
  });

  it('refuses bad flags with exit 2 and a one-line error; a port in use too', async () => {
    const home = tempDir();
    for (const [args, message] of [
      [['--max-batch', '0'], /--max-batch takes a whole number of at least 1/],
      [['--max-memory', 'lots'], /not a size: "lots"/],
      [['--port', '70000'], /--port takes 0 to 65535/],
      [['--token', ''], /--token is empty/],
    ] as Array<[string[], RegExp]>) {
      const r = await cli(['serve', ...args], { home });
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr.split('\n')[0]).toMatch(message);
    }
    const { child, url: pending } = startServe(home);
    const port = new URL(await pending).port;
    const clash = await cli(['serve', '--port', port], { home });
    expect(clash.exitCode).toBe(2);
    expect(clash.stderr).toMatch(/already in use/);
    child.kill('SIGINT');
    expect((await child).exitCode).toBe(0);
  });

  it('--help shows the options and examples', async () => {
    const r = await cli(['serve', '--help']);
    expect(r.exitCode).toBe(0);
    for (const flag of ['--max-models-in-ram', '--max-memory', '--max-batch', '--max-wait-ms', '--token', 'Examples:'])
      expect(r.stdout).toContain(flag);
  });
});
