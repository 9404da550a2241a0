/**
 * README's "Library" section promises that each example runs as it stands from a clone. This runs every ```js block
 * of that section with Node against the built package (a self-reference to `modelctl` resolves through package.json's
 * "exports"), each in a fresh registry home, and fails on a non-zero exit.
 */
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { familyPython, converterRoot } from '../convert/env.js';
import { ROOT, tempDir } from '../helpers.js';

function librarySnippets(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Library\n');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
}

const snippets = librarySnippets();

describe('README library examples', () => {
  it('has one example per operation', () => {
    const all = snippets.join('\n');
    for (const api of [
      'register(',
      'list(',
      'tag(',
      'edit(',
      'info(',
      'validate(',
      'gc(',
      'remove(',
      'predict(',
      'pull(',
      'checkout(',
      'describePath(',
      'embedMetadata(',
      'exportModel(',
      'benchModel(',
      'startServer(',
    ]) {
      expect(all, api).toContain(api);
    }
  });

  it.each(snippets.map((code, i) => [i + 1, code] as const))('example %i runs', async (_i, code) => {
    const env: NodeJS.ProcessEnv = { ...process.env, MODELCTL_HOME: tempDir('modelctl-readme-') };
    if (code.includes('exportModel(')) {
      const root = converterRoot();
      if (!root) return;
      env.MODELCTL_PYTHON = familyPython(root, 'sklearn');
    }
    const r = await execa(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, env, reject: false, all: true });
    expect(r.exitCode, String(r.all)).toBe(0);
    expect(String(r.stdout).trim()).not.toBe('');
  });
});
