import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | null | undefined;

/**
 * The folder holding modelctl's own package.json (with python/ beside it), found by walking up from this module: the
 * same answer from src/ under the tests, from dist/ after tsc, and from the bundled CLI in dist/bundle/.
 */
export function packageRoot(): string | null {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === 'modelctl') return (root = dir);
      } catch {
        // not ours (or unreadable): keep walking up
      }
    }
    const up = dirname(dir);
    if (up === dir) return (root = null);
    dir = up;
  }
}

/** The package's version from its package.json, or 0.0.0 when it cannot be read. */
export function packageVersion(): string {
  const dir = packageRoot();
  if (!dir) return '0.0.0';
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}
