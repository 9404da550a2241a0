import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';

const SRC = join(ROOT, 'src');
const DOWNLOAD = join(SRC, 'hub', 'download');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('src/hub/download has one door', () => {
  it('code outside it imports only its index.ts, where the data path is described', () => {
    const reached: string[] = [];
    let checked = 0;
    for (const file of sources(SRC)) {
      if (file.startsWith(`${DOWNLOAD}/`)) continue;
      for (const m of readFileSync(file, 'utf8').matchAll(/(?:from|import\()\s*'(\.{1,2}\/[^']+)'/g)) {
        const target = resolve(dirname(file), m[1] as string);
        if (!target.startsWith(`${DOWNLOAD}/`)) continue;
        checked++;
        if (target !== join(DOWNLOAD, 'index.js')) reached.push(`${relative(ROOT, file)} -> ${relative(ROOT, target)}`);
      }
    }
    expect(reached).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(3); // src/pull goes through the door (pull, url-and-folder, inspect-and-commit)
  });
});
