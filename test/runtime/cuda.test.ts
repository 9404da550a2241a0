import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CUDA_INSTALL_COMMAND, cudaAvailability, ortBinaryDir } from '../../src/runtime/cuda.js';
import { loadOrt } from '../../src/runtime/ort.js';
import { openSession } from '../../src/runtime/session.js';
import { tempDir } from '../helpers.js';
import { IRIS, expectIrisOutputs, fakeProviderDir, rejection } from './helpers.js';

const CUDA = { kind: 'cuda', deviceId: 0 } as const;
// These tests describe a machine without the CUDA provider, as npm installs onnxruntime-node here (.npmrc).
const providerInstalled = cudaAvailability().available;
const providerPlatform = process.platform === 'linux' || process.platform === 'win32';

describe('cudaAvailability', () => {
  it("finds onnxruntime-node's binary folder without loading anything from it", () => {
    const dir = ortBinaryDir();
    expect(dir).toBeDefined();
    expect(existsSync(join(dir!, 'onnxruntime_binding.node'))).toBe(true);
  });

  it.skipIf(providerInstalled)('reports the provider missing, as onnxruntime-node itself does', async () => {
    const availability = cudaAvailability();
    expect(availability.available).toBe(false);
    expect(availability.reason).toBeTruthy();
    const ort = await loadOrt();
    expect(ort.listSupportedBackends()).toContainEqual({ name: 'cuda', bundled: false });
  });

  it.skipIf(!providerPlatform)('checks an injected folder for both provider libraries', () => {
    const empty = cudaAvailability({ providerLibraryDir: tempDir() });
    expect(empty.available).toBe(false);
    expect(empty.reason).toMatch(/providers_cuda.*providers_shared/);
    const fake = fakeProviderDir();
    expect(cudaAvailability({ providerLibraryDir: fake })).toEqual({ available: true, libraryDir: fake });
  });
});

describe.skipIf(providerInstalled)('openSession on CUDA without the provider', () => {
  it('fails with MISSING_DEPENDENCY and the install command, never running on the CPU silently', async () => {
    const err = await rejection(openSession(IRIS, { device: CUDA }));
    expect(err.code).toBe('MISSING_DEPENDENCY');
    expect(err.exitCode).toBe(6);
    expect(err.message).toMatch(/^cannot run on cuda:0: /);
    expect(err.message).not.toContain('\n');
    if (`${process.platform}/${process.arch}` === 'linux/x64') {
      expect(CUDA_INSTALL_COMMAND).toBe('cd node_modules/onnxruntime-node && ONNXRUNTIME_NODE_INSTALL=cuda12 node script/install.js');
      expect(err.hint).toContain('&& ONNXRUNTIME_NODE_INSTALL=cuda12 node script/install.js');
      const packageDir = join(ortBinaryDir()!, '..', '..', '..', '..');
      expect(err.hint).toContain(`cd ${packageDir} &&`);
    }
  });

  it('runs on the CPU with fallback cpu, saying why', async () => {
    const opened = await openSession(IRIS, { device: { kind: 'cuda', deviceId: 1 }, fallback: 'cpu', threads: 1 });
    try {
      expect(opened.provider).toBe('cpu');
      expect(opened.fellBack).toMatch(/^cannot run on cuda:1: .*CUDA provider is not installed/);
      await expectIrisOutputs(opened.session);
    } finally {
      await opened.session.release();
    }
  });
});

describe.skipIf(providerInstalled || !providerPlatform)('openSession on CUDA when the provider fails to load', () => {
  it('maps the onnxruntime failure to MISSING_DEPENDENCY with a driver/cuDNN hint', async () => {
    const err = await rejection(openSession(IRIS, { device: CUDA, providerLibraryDir: fakeProviderDir() }));
    expect(err.code).toBe('MISSING_DEPENDENCY');
    expect(err.exitCode).toBe(6);
    expect(err.message).toMatch(/^cannot run on cuda:0: onnxruntime could not start its CUDA provider \(.+\)$/);
    expect(err.message).not.toContain('\n');
    expect(err.hint).toMatch(/cuDNN 9/);
    expect(err.cause).toBeInstanceOf(Error);
  });

  it('falls back to the CPU with fallback cpu, recording the failure', async () => {
    const opened = await openSession(IRIS, { device: CUDA, fallback: 'cpu', providerLibraryDir: fakeProviderDir(), threads: 1 });
    try {
      expect(opened.provider).toBe('cpu');
      expect(opened.fellBack).toMatch(/could not start its CUDA provider/);
      await expectIrisOutputs(opened.session);
    } finally {
      await opened.session.release();
    }
  });

  it('still reports a corrupt model as CORRUPT_MODEL after a fallback', async () => {
    const bad = join(IRIS, '..', '..', 'bad', 'random.onnx');
    const err = await rejection(openSession(bad, { device: CUDA, fallback: 'cpu', providerLibraryDir: fakeProviderDir() }));
    expect(err.code).toBe('CORRUPT_MODEL');
  });
});
