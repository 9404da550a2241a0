import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: [
      './test/setup/python-env.ts', // .venv-test: the onnx checker for test/python.ts
      './test/setup/converter-env.ts', // .venv-convert: the real converters for the export tests
      './test/setup/debian-packages.ts', // docker-registry, skopeo, umoci for the OCI and deploy image tests
    ],
    reporters: ['default', './test/summary-reporter.ts'],
    // Two cores: one worker per core; e2e tests spawn their own processes on top.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
