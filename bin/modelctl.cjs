#!/usr/bin/env node
// CommonJS on purpose: it runs before Node's ESM loader first touches the libuv thread pool, so the pool size can
// still be raised. Registry sweeps and hashing overlap many filesystem calls (gc over 100,000 blobs: 3.7 s with
// the default 4 threads, 2.5 s with 16; bench/RESULTS.md).
'use strict';
if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = '16';
// The CLI runs from a bundle (dist/bundle); with --verbose, stack traces name the TypeScript sources instead.
if (process.argv.includes('--verbose') || process.argv.includes('-v')) process.setSourceMapsEnabled(true);
import('../dist/bundle/main.js').then(
  ({ run }) => run(process.argv),
  (err) => {
    process.stderr.write(`error: cannot load modelctl (${err.message})\nhint: run \`npm run build\` in the modelctl folder\n`);
    process.exitCode = 70;
  },
);
