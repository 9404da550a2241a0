// Bundles the CLI (src/cli/main.ts and everything of ours it imports) into dist/bundle/: one file for the startup
// path and one chunk per lazily loaded command or task, instead of about 150 ES modules that Node would resolve,
// read and link one by one on every start. Dependencies stay in node_modules (imported as they are).
// bin/modelctl.cjs loads dist/bundle/main.js; `tsc` still builds dist/ for the library entry point and the types.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'src', 'cli', 'main.ts')],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
});
