#!/usr/bin/env node
// Input readers side by side (issue 15): the input room (src/inputs; CSV read with csv-parse) against the readers it
// replaced (src/tasks/records.ts and its hand-written CSV parser), on 100,000-line files made here: JSON Lines of
// rows, CSV of rows (a header, then 4 numbers a line) and JSON Lines of texts ({"text": ...}). Each side reads every
// record of a file in process (and, for texts, turns each into its text, as predict does), the two sides in
// alternation, --rounds times (median). Then whole `modelctl predict` of the iris classifier over the CSV and the
// JSON Lines, old build against new, to show what share of a streaming predict the reading is.
// Usage: npm run build && node bench/input-readers.mjs --old DIR [--rounds 7] [--runs 3]
//   DIR is the old reader's tsc output, e.g. for 171e8a2 (the commit before the room):
//     mkdir /tmp/old && git archive 171e8a2 src tsconfig.json package.json | tar -x -C /tmp/old \
//       && ln -s "$PWD/node_modules" /tmp/old/ && npx tsc -p /tmp/old/tsconfig.json   # then --old /tmp/old/dist
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { median, opt, root, time, work } from './lib.mjs';

const old = opt('old');
if (!old) throw new Error('give --old DIR: the dist/ of the previous reader (see the usage at the top of this file)');
const rounds = Number(opt('rounds', '7'));
const runs = Number(opt('runs', '3'));
const lines = 100_000;
const load = (dir, p) => import(pathToFileURL(join(dir, p)).href);
const oldRecords = await load(old, 'tasks/records.js');
const oldText = await load(old, 'predict/text.js');
const { openInput } = await load(join(root, 'dist'), 'inputs/open.js');

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

// Seeded values, so that every run reads the same bytes.
let seed = 42;
const next = () => (seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x297a2d39) >>> 0) / 2 ** 32;
const row = () => [4 + next() * 4, 2 + next() * 2.5, 1 + next() * 6, 0.1 + next() * 2.4].map((v) => Number(v.toFixed(1)));
const words = 'the model was great but the service was slow and the battery lasts all day long'.split(' ');
const sentence = () => Array.from({ length: 4 + Math.floor(next() * 16) }, () => words[Math.floor(next() * words.length)]).join(' ');
const files = {
  'rows.jsonl': Array.from({ length: lines }, () => JSON.stringify(row())).join('\n'),
  'rows.csv': `a,b,c,d\n${Array.from({ length: lines }, () => row().join(',')).join('\n')}`,
  'texts.jsonl': Array.from({ length: lines }, () => JSON.stringify({ text: sentence() })).join('\n'),
};
for (const [name, text] of Object.entries(files)) writeFileSync(join(work, name), `${text}\n`);

const cases = [
  { file: 'rows.jsonl', kind: 'rows' },
  { file: 'rows.csv', kind: 'rows' },
  { file: 'texts.jsonl', kind: 'texts', oldItem: (v, at) => oldText.textsFromJson(v, at)[0] },
];

async function drain(records, item) {
  let n = 0;
  for await (const r of records) {
    if (r.error) throw r.error;
    if (item) item(r.value, 'x');
    n++;
  }
  return n;
}

const sides = {
  old: async (c) => drain((await oldRecords.openRecords(join(work, c.file), c.kind)).records, c.oldItem),
  new: async (c) => drain((await openInput({ file: join(work, c.file) }, c.kind)).stream.records),
};

console.log(`| file (${lines.toLocaleString('en')} lines) | size | old reader | input room | new / old time |`);
console.log('| --- | --- | --- | --- | --- |');
for (const c of cases) {
  const ms = { old: [], new: [] };
  for (let i = 0; i < rounds; i++) {
    for (const side of i % 2 === 0 ? ['old', 'new'] : ['new', 'old']) {
      const t = performance.now();
      const n = await sides[side](c);
      ms[side].push(performance.now() - t);
      if (n !== lines) throw new Error(`${side} read ${n} records of ${c.file}`);
    }
  }
  const mb = statSync(join(work, c.file)).size / 1e6;
  const show = (xs) =>
    `${median(xs).toFixed(0)} ms (${(lines / median(xs)).toFixed(0)}k records/s, ${(mb / (median(xs) / 1000)).toFixed(1)} MB/s)`;
  console.log(`| ${c.file} | ${mb.toFixed(1)} MB | ${show(ms.old)} | ${show(ms.new)} | ${(median(ms.new) / median(ms.old)).toFixed(2)}x |`);
}

// Whole processes: the same CLI code from each build's tsc output, started the same way.
const runner = join(work, 'run.mjs');
writeFileSync(
  runner,
  "const [dist, ...args] = process.argv.slice(2);\nconst { run } = await import(dist + '/cli/main.js');\nawait run(['node', 'modelctl', ...args]);\n",
);
const iris = join(root, 'fixtures', 'models', 'iris-logreg', 'model.onnx');
console.log('\n| `modelctl predict iris --file F --json --threads 1` | old build | new build |');
console.log('| --- | --- | --- |');
for (const file of ['rows.csv', 'rows.jsonl']) {
  const ms = { old: [], new: [] };
  for (let i = 0; i < runs; i++) {
    for (const [side, dist] of i % 2 === 0
      ? [
          ['old', old],
          ['new', join(root, 'dist')],
        ]
      : [
          ['new', join(root, 'dist')],
          ['old', old],
        ]) {
      const r = time('node', [runner, pathToFileURL(dist).href, 'predict', iris, '--file', join(work, file), '--json', '--threads', '1']);
      if (r.stdout.trimEnd().split('\n').length !== lines)
        throw new Error(`${side} predicted ${r.stdout.trimEnd().split('\n').length} records of ${file}`);
      ms[side].push(r.ms);
    }
  }
  console.log(`| ${file} | ${median(ms.old).toFixed(0)} ms | ${median(ms.new).toFixed(0)} ms |`);
}
rmSync(work, { recursive: true, force: true });
