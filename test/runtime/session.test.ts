import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from '../helpers.js';
import { MAX_THREADS, checkSessionOptions, openSession, ortSessionOptions } from '../../src/runtime/session.js';
import { loadOrt } from '../../src/runtime/ort.js';
import { EXTERNAL, HANDBUILT, HANDBUILT_REFERENCE, IRIS, copyModel, expectIrisOutputs, rejection, tensorOf } from './helpers.js';

describe('ortSessionOptions', () => {
  it('defaults to all graph optimizations on the CPU, leaving thread counts to onnxruntime', () => {
    expect(ortSessionOptions({})).toEqual({ executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
  });

  it('maps threads, inter-op threads (with parallel execution), optimization level and providers', () => {
    expect(
      ortSessionOptions({
        threads: 2,
        interOpThreads: 3,
        graphOptimization: 'basic',
        device: { kind: 'cuda', deviceId: 1 },
        fallback: 'cpu',
      }),
    ).toEqual({
      executionProviders: [{ name: 'cuda', deviceId: 1 }, 'cpu'],
      graphOptimizationLevel: 'basic',
      intraOpNumThreads: 2,
      interOpNumThreads: 3,
      executionMode: 'parallel',
    });
    expect(ortSessionOptions({ threads: 0, interOpThreads: 1, graphOptimization: 'disabled' })).toEqual({
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'disabled',
      interOpNumThreads: 1,
    });
  });

  it.each([
    [{ threads: -1 }],
    [{ threads: 1.5 }],
    [{ interOpThreads: Number.NaN }],
    [{ graphOptimization: 'max' as never }],
    [{ fallback: 'gpu' as never }],
  ])('rejects %j as a usage error', (options) => {
    expect(() => ortSessionOptions(options)).toThrow(expect.objectContaining({ code: 'USAGE' }));
  });

  // issue 14: --threads 1e9 reached ONNX Runtime, which allocates per thread before checking (std::bad_alloc).
  it.each([
    [{ threads: 1e9 }, 'threads', '1000000000'],
    [{ threads: MAX_THREADS + 1 }, 'threads', '1025'],
    [{ interOpThreads: 1e9 }, 'inter-op threads', '1000000000'],
    [{ interOpThreads: Number.MAX_SAFE_INTEGER }, 'inter-op threads', String(Number.MAX_SAFE_INTEGER)],
  ])('bounds thread counts: %j is a usage error naming the allowed range', (options, what, value) => {
    expect(MAX_THREADS).toBe(1024);
    let caught: unknown;
    try {
      checkSessionOptions(options);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'USAGE', exitCode: 2, message: `${what} must be a whole number from 0 to 1024, not ${value}` });
    expect((caught as { hint: string }).hint).toMatch(
      /^0 \(or leaving it out\) lets onnxruntime choose; this machine has \d+ logical CPUs/,
    );
    expect(() => ortSessionOptions(options)).toThrow(expect.objectContaining({ code: 'USAGE' }));
  });

  it('accepts the bounds themselves', () => {
    expect(() => checkSessionOptions({ threads: 0, interOpThreads: 0 })).not.toThrow();
    expect(ortSessionOptions({ threads: MAX_THREADS, interOpThreads: MAX_THREADS })).toMatchObject({
      intraOpNumThreads: 1024,
      interOpNumThreads: 1024,
    });
  });
});

describe('openSession on the CPU', () => {
  it('runs the iris model and matches the recorded probabilities', async () => {
    const opened = await openSession(IRIS, { threads: 1 });
    try {
      expect(opened.provider).toBe('cpu');
      expect(opened.fellBack).toBeUndefined();
      expect(opened.inputNames).toEqual(['input']);
      expect(opened.outputNames).toEqual(['label', 'probabilities']);
      expect(opened.createMs).toBeGreaterThanOrEqual(0);
      expect(opened.key).toContain(IRIS);
      await expectIrisOutputs(opened.session);
    } finally {
      await opened.session.release();
    }
  });

  it('runs the hand-built model and matches its reference outputs', async () => {
    const opened = await openSession(HANDBUILT, { threads: 1, graphOptimization: 'basic' });
    try {
      const { inputs, outputs } = HANDBUILT_REFERENCE;
      expect(opened.inputNames).toEqual(Object.keys(inputs));
      expect(opened.outputNames).toEqual(Object.keys(outputs));
      const feeds = Object.fromEntries(
        await Promise.all(Object.entries(inputs).map(async ([name, ref]) => [name, await tensorOf(ref)] as const)),
      );
      const out = await opened.session.run(feeds);
      for (const [name, ref] of Object.entries(outputs)) {
        const got = out[name]!;
        expect(got.type, name).toBe(ref.dtype);
        expect(got.dims, name).toEqual(ref.shape);
        const want = (ref.data as unknown[]).flat(8) as number[];
        const values = Array.from(got.data as Float32Array | BigInt64Array, Number);
        values.forEach((v, i) => expect(Math.abs(v - want[i]!), `${name}[${i}]`).toBeLessThanOrEqual(1e-5));
      }
    } finally {
      await opened.session.release();
    }
  });

  it('opens a model with external data and counts its bytes', async () => {
    const opened = await openSession(EXTERNAL, { threads: 1 });
    await opened.session.release();
    expect(opened.bytes).toBe(382 + 608);
    expect(opened.key).toContain('weights.bin');
  });

  it('gives the same key for the same file and options, another for other options', async () => {
    const a = await openSession(IRIS, { threads: 1 });
    const b = await openSession(IRIS, { threads: 1, graphOptimization: 'all', device: { kind: 'cpu' } });
    const c = await openSession(IRIS, { threads: 2 });
    await Promise.all([a, b, c].map((o) => o.session.release()));
    expect(b.key).toBe(a.key);
    expect(c.key).not.toBe(a.key);
  });
});

describe('openSession on files that are not models', () => {
  it.each([
    ['random.onnx', /Protobuf parsing failed/],
    ['truncated.onnx', /Protobuf parsing failed/],
    ['empty.onnx', /ModelProto does not have a graph\.$/],
  ])('bad/%s is a one-line CORRUPT_MODEL error', async (name, reason) => {
    const path = join(FIXTURES, 'bad', name);
    const err = await rejection(openSession(path));
    expect(err.code).toBe('CORRUPT_MODEL');
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(reason);
    expect(err.message).toContain(path);
    expect(err.message).not.toMatch(/\n|Load model from|onnxruntime::|\.cc:\d+/);
    expect(err.hint).toBeTruthy();
  });

  it('a missing file is PATH_NOT_FOUND, a folder INVALID_INPUT', async () => {
    expect((await rejection(openSession(join(FIXTURES, 'nope.onnx')))).code).toBe('PATH_NOT_FOUND');
    expect((await rejection(openSession(join(FIXTURES, 'iris-logreg')))).code).toBe('INVALID_INPUT');
  });

  it('a missing external data file is named', async () => {
    const path = copyModel(EXTERNAL);
    const err = await rejection(openSession(path));
    expect(err.code).toBe('PATH_NOT_FOUND');
    expect(err.message).toMatch(/external data file "weights\.bin"/);
  });

  it('bad options fail before the file is read', async () => {
    expect((await rejection(openSession(join(FIXTURES, 'nope.onnx'), { threads: -2 }))).code).toBe('USAGE');
  });
});

describe('loadOrt', () => {
  it('loads onnxruntime-node once and quiets its native log', async () => {
    const ort = await loadOrt();
    expect(await loadOrt()).toBe(ort);
    expect(typeof ort.InferenceSession.create).toBe('function');
    expect(ort.env.logLevel).toBe('fatal');
  });
});
