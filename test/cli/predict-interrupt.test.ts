/**
 * Ctrl-C while predict prints generated text as it comes (the spawned binary, the Llama-style fixture exported by the
 * real converter): the text stops, its line is ended, and "interrupted" (exit 130) is left on a line of its own.
 */
import { execa } from 'execa';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { converterRoot, familyPython } from '../convert/env.js';
import { BIN, FIXTURES, ROOT, cli, fileDir } from '../helpers.js';

describe('predict text-generation: Ctrl-C while the text streams', () => {
  it('ends the half-printed line before "interrupted" and exits 130', async () => {
    const root = converterRoot();
    if (!root) return;
    const home = fileDir('modelctl-interrupt-home-');
    const exported = await cli(
      ['export', join(FIXTURES, 'gen-llama-tiny'), '--name', 'llama', '--python', familyPython(root, 'hf'), '--json'],
      { home },
    );
    expect(exported.exitCode, exported.stderr).toBe(0);
    // Far more prompts than run before the signal comes: it lands while a text is being printed.
    const prompts = join(fileDir('modelctl-interrupt-'), 'prompts.txt');
    writeFileSync(prompts, Array.from({ length: 400 }, (_, i) => `prompt number ${i + 1}`).join('\n'));
    const child = execa('node', [BIN, 'predict', 'llama', '--file', prompts, '--max-new-tokens', '60', '--table'], {
      reject: false,
      cwd: ROOT,
      env: { NO_COLOR: '1', MODELCTL_HOME: home },
      stdin: 'ignore',
      stripFinalNewline: false,
    });
    // The first piece of text printed: interrupt there, in the middle of the first prompt's text.
    child.stdout?.once('data', () => child.kill('SIGINT'));
    const r = await child;
    expect(r.exitCode, r.stderr).toBe(130);
    expect(r.stderr.trim()).toBe('interrupted');
    expect(r.stdout.length).toBeGreaterThan(0);
    expect(r.stdout.endsWith('\n')).toBe(true);
  });
});
