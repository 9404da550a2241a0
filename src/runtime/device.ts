import { ModelctlError } from '../errors.js';

export type Device = { kind: 'cpu' } | { kind: 'cuda'; deviceId: number };

/** One entry of onnxruntime-node's `executionProviders` list, narrowed to the providers modelctl asks for. */
export type ProviderConfig = 'cpu' | { readonly name: 'cuda'; readonly deviceId: number };

const DEVICE_HINT = 'use cpu, cuda or cuda:N, where N is the GPU index shown by nvidia-smi (cuda means cuda:0)';

/** Parses `cpu`, `cuda` or `cuda:N`; case and surrounding spaces are forgiven because shells and configs vary. */
export function parseDevice(text: string): Device {
  const value = text.trim().toLowerCase();
  if (value === 'cpu') return { kind: 'cpu' };
  if (value === 'cuda') return { kind: 'cuda', deviceId: 0 };
  const match = /^cuda:(\d+)$/.exec(value);
  if (match) {
    const deviceId = Number(match[1]);
    if (Number.isSafeInteger(deviceId)) return { kind: 'cuda', deviceId };
  }
  throw new ModelctlError('USAGE', `unknown device: ${JSON.stringify(text)}`, { hint: DEVICE_HINT });
}

export function formatDevice(device: Device): string {
  return device.kind === 'cpu' ? 'cpu' : `cuda:${device.deviceId}`;
}

/**
 * The providers onnxruntime-node is asked for. CPU is listed after CUDA only on request: onnxruntime still places
 * operators CUDA lacks on the CPU either way, but listing it states that the caller accepts a CPU run.
 */
export function executionProviders(device: Device, options: { fallback?: 'cpu' } = {}): ProviderConfig[] {
  if (device.kind === 'cpu') return ['cpu'];
  const cuda: ProviderConfig = { name: 'cuda', deviceId: device.deviceId };
  return options.fallback === 'cpu' ? [cuda, 'cpu'] : [cuda];
}
