import { describe, expect, it } from 'vitest';
import { ModelctlError } from '../../src/errors.js';
import { executionProviders, formatDevice, parseDevice, type Device } from '../../src/runtime/device.js';

describe('parseDevice', () => {
  const good: Array<[string, Device]> = [
    ['cpu', { kind: 'cpu' }],
    ['CPU', { kind: 'cpu' }],
    [' cpu ', { kind: 'cpu' }],
    ['cuda', { kind: 'cuda', deviceId: 0 }],
    ['cuda:0', { kind: 'cuda', deviceId: 0 }],
    ['cuda:1', { kind: 'cuda', deviceId: 1 }],
    ['CUDA:3', { kind: 'cuda', deviceId: 3 }],
    ['cuda:12', { kind: 'cuda', deviceId: 12 }],
  ];
  it.each(good)('%j -> %j', (text, device) => {
    expect(parseDevice(text)).toEqual(device);
  });

  const bad = ['', 'gpu', 'cuda:', 'cuda:-1', 'cuda:1.5', 'cuda:x', 'cuda:0:1', 'cuda 0', 'cpu:0', 'rocm', 'cuda:99999999999999999999'];
  it.each(bad)('%j is a usage error with a hint', (text) => {
    let caught: unknown;
    try {
      parseDevice(text);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ModelctlError);
    const err = caught as ModelctlError;
    expect(err.code).toBe('USAGE');
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain(JSON.stringify(text));
    expect(err.hint).toMatch(/cpu, cuda or cuda:N/);
  });

  it('formats back to the text it parses', () => {
    for (const text of ['cpu', 'cuda:0', 'cuda:7']) expect(formatDevice(parseDevice(text))).toBe(text);
  });
});

describe('executionProviders', () => {
  it('lists the CPU alone for the CPU, with or without a fallback', () => {
    expect(executionProviders({ kind: 'cpu' })).toEqual(['cpu']);
    expect(executionProviders({ kind: 'cpu' }, { fallback: 'cpu' })).toEqual(['cpu']);
  });

  it('lists CUDA with its device id, and the CPU only when a fallback is accepted', () => {
    expect(executionProviders({ kind: 'cuda', deviceId: 0 })).toEqual([{ name: 'cuda', deviceId: 0 }]);
    expect(executionProviders({ kind: 'cuda', deviceId: 2 }, {})).toEqual([{ name: 'cuda', deviceId: 2 }]);
    expect(executionProviders({ kind: 'cuda', deviceId: 1 }, { fallback: 'cpu' })).toEqual([{ name: 'cuda', deviceId: 1 }, 'cpu']);
  });
});
