import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES, cli, tempDir } from '../helpers.js';

// issue 14, item 6: inputs that reached a library that could not take them now get a one-line answer and the
// documented exit code, before any model is opened.

const IRIS = join(FIXTURES, 'iris-logreg', 'model.onnx');
const firstLine = (stderr: string): string => stderr.split('\n')[0] as string;

describe('thread counts are bounded before ONNX Runtime sees them', () => {
  it('predict, bench and serve refuse --threads 1e9 with exit 2 and the allowed range', async () => {
    const runs = [
      ['predict', IRIS, '5.1,3.5,1.4,0.2', '--threads', '1e9'],
      ['bench', IRIS, '--threads', '1e9', '--warmup', '1', '--iterations', '1'],
      ['serve', '--port', '0', '--threads', '1e9'],
    ];
    for (const args of runs) {
      const r = await cli(args, { home: tempDir() });
      expect({ command: args[0], exitCode: r.exitCode }, r.stderr).toEqual({ command: args[0], exitCode: 2 });
      expect(firstLine(r.stderr)).toBe('error: threads must be a whole number from 0 to 1024, not 1000000000');
      expect(r.stderr).not.toMatch(/bad_alloc|listening/);
    }
    const vs = await cli(['bench', IRIS, '--vs', 'threads=5000', '--warmup', '1', '--iterations', '1']);
    expect(vs.exitCode).toBe(2);
    expect(firstLine(vs.stderr)).toBe('error: threads must be a whole number from 0 to 1024, not 5000');
  });
});

describe('model names Windows reserves', () => {
  it('register refuses aux.txt and org/CON with exit 2 and registers nothing', async () => {
    const home = tempDir();
    for (const name of ['aux.txt', 'org/CON']) {
      const r = await cli(['register', IRIS, '--name', name], { home });
      expect(r.exitCode, r.stderr).toBe(2);
      expect(firstLine(r.stderr)).toMatch(/^error: model name ".+" is reserved on Windows \((AUX|CON) is a device name there, with any extension\)$/);
      expect(r.stderr).toMatch(/^hint: choose another model name: CON, PRN, AUX, NUL, COM0-COM9 and LPT0-LPT9/m);
    }
    expect(JSON.parse((await cli(['list', '--json'], { home })).stdout).models).toEqual([]);
  });
});
