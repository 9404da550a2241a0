#!/usr/bin/env node
// Fails when the modules under src/ import each other in a cycle. Type-only imports count too: a cycle of types is
// still two files that cannot be understood one without the other. Run by `npm run lint` (and so by CI).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, process.argv[2] ?? 'src');

function walk(dir, out = []) {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (entry.endsWith('.ts') && !entry.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const SPECIFIER = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;
const files = walk(src);
const graph = new Map();
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const deps = new Set();
  for (const m of text.matchAll(SPECIFIER)) {
    const spec = m[1] ?? m[2];
    deps.add(resolve(dirname(file), spec).replace(/\.js$/, '.ts'));
  }
  graph.set(
    file,
    [...deps].filter((d) => d !== file),
  );
}

// Tarjan's strongly connected components: every component of more than one file is a cycle.
let index = 0;
const stack = [];
const state = new Map();
const cycles = [];
function connect(v) {
  const s = { index, low: index, onStack: true };
  index += 1;
  state.set(v, s);
  stack.push(v);
  for (const w of graph.get(v) ?? []) {
    if (!graph.has(w)) continue;
    const t = state.get(w);
    if (!t) {
      connect(w);
      s.low = Math.min(s.low, state.get(w).low);
    } else if (t.onStack) s.low = Math.min(s.low, t.index);
  }
  if (s.low === s.index) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      state.get(w).onStack = false;
      component.push(w);
    } while (w !== v);
    if (component.length > 1) cycles.push(component);
  }
}
for (const v of graph.keys()) if (!state.has(v)) connect(v);

if (cycles.length === 0) {
  process.stdout.write(`no import cycles among ${files.length} modules in ${relative(root, src)}/\n`);
} else {
  for (const c of cycles)
    process.stderr.write(
      `import cycle: ${c
        .map((f) => relative(root, f))
        .sort()
        .join(' <-> ')}\n`,
    );
  process.stderr.write(`${cycles.length} import cycle(s) in ${relative(root, src)}/\n`);
  process.exitCode = 1;
}
