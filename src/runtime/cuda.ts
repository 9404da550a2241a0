import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ModelctlError } from '../errors.js';
import { formatDevice, type Device } from './device.js';
import { errorText, ortFirstLine } from './ort-errors.js';

export interface CudaAvailability {
  available: boolean;
  /** Why CUDA cannot be used, in words fit for a warning. */
  reason?: string;
  /** The folder that was checked for the provider libraries. */
  libraryDir?: string;
}

export interface CudaProbeOptions {
  /** Where the provider libraries are looked for; defaults to onnxruntime-node's own binary folder. A test seam. */
  providerLibraryDir?: string;
}

/** What README "CUDA" documents; onnxruntime-node's install script reads the variable before any .npmrc. */
export const CUDA_INSTALL_COMMAND = 'cd node_modules/onnxruntime-node && ONNXRUNTIME_NODE_INSTALL=cuda12 node script/install.js';

const PROVIDER_LIBRARIES: Partial<Record<NodeJS.Platform, string[]>> = {
  // The shared bridge is loaded before the CUDA provider itself: either one missing makes CUDA unusable.
  linux: ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'],
  win32: ['onnxruntime_providers_cuda.dll', 'onnxruntime_providers_shared.dll'],
};

/** onnxruntime-node's install script offers CUDA binaries for this platform only (script/install-metadata.js). */
const INSTALLABLE = 'linux/x64';

function ortPackageDir(): string | undefined {
  try {
    return dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
  } catch {
    return undefined;
  }
}

/** The folder holding onnxruntime-node's native binding for this platform: where it also looks for providers. */
export function ortBinaryDir(packageDir = ortPackageDir()): string | undefined {
  if (!packageDir) return undefined;
  const bin = join(packageDir, 'bin');
  let napiDirs: string[];
  try {
    napiDirs = readdirSync(bin).filter((name) => /^napi-v\d+$/.test(name));
  } catch {
    return undefined;
  }
  for (const napi of napiDirs.sort().reverse()) {
    const dir = join(bin, napi, process.platform, process.arch);
    if (existsSync(join(dir, 'onnxruntime_binding.node'))) return dir;
  }
  return undefined;
}

/** Whether the CUDA provider libraries are on disk, checked without loading them (loading can abort the process). */
export function cudaAvailability(options: CudaProbeOptions = {}): CudaAvailability {
  const platform = `${process.platform}/${process.arch}`;
  const names = PROVIDER_LIBRARIES[process.platform];
  if (!names) return { available: false, reason: `onnxruntime-node has no CUDA provider for ${platform}` };
  const libraryDir = options.providerLibraryDir ?? ortBinaryDir();
  if (!libraryDir) return { available: false, reason: 'onnxruntime-node is not installed' };
  const missing = names.filter((name) => !existsSync(join(libraryDir, name)));
  if (missing.length > 0) {
    return { available: false, reason: `the CUDA provider is not installed (no ${missing.join(' or ')} in ${libraryDir})`, libraryDir };
  }
  return { available: true, libraryDir };
}

function installHint(): string {
  const platform = `${process.platform}/${process.arch}`;
  if (platform !== INSTALLABLE) {
    return `onnxruntime-node offers its CUDA provider for ${INSTALLABLE} only; run on the CPU (--device cpu)`;
  }
  const packageDir = ortPackageDir();
  const command = packageDir ? CUDA_INSTALL_COMMAND.replace('node_modules/onnxruntime-node', quote(packageDir)) : CUDA_INSTALL_COMMAND;
  return `install the CUDA 12 provider once (needs CUDA 12 and cuDNN 9): ${command}`;
}

function quote(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replaceAll("'", "'\\''")}'`;
}

export function cudaMissingError(device: Device, availability: CudaAvailability): ModelctlError {
  return new ModelctlError(
    'MISSING_DEPENDENCY',
    `cannot run on ${formatDevice(device)}: ${availability.reason ?? 'CUDA is not available'}`,
    {
      hint: installHint(),
      details: { device: formatDevice(device), ...(availability.libraryDir ? { libraryDir: availability.libraryDir } : {}) },
    },
  );
}

const CUDA_FAILURE = /cuda|cudnn|cublas|cufft|curand|nvrtc|providers_shared|shared library|nvidia/i;
const BAD_ORDINAL = /invalid device ordinal/i;

/** Whether a session-creation error came from setting up CUDA rather than from the model. */
export function isCudaSetupError(err: unknown): boolean {
  const text = errorText(err);
  return !/^Load model from /.test(text) && CUDA_FAILURE.test(text);
}

/** The provider libraries exist but onnxruntime could not start them: a driver, CUDA or cuDNN problem. */
export function cudaLoadError(device: Device, err: unknown): ModelctlError {
  const reason = ortFirstLine(errorText(err));
  const name = formatDevice(device);
  if (BAD_ORDINAL.test(reason)) {
    return new ModelctlError('USAGE', `no CUDA device ${device.kind === 'cuda' ? device.deviceId : 0} on this machine: ${reason}`, {
      hint: 'nvidia-smi lists the GPU indices; cuda:0 is the first',
      cause: err,
      details: { device: name, reason },
    });
  }
  return new ModelctlError('MISSING_DEPENDENCY', `cannot run on ${name}: onnxruntime could not start its CUDA provider (${reason})`, {
    hint: 'the CUDA provider needs an NVIDIA driver, CUDA 12 and cuDNN 9 on the library path (check nvidia-smi and LD_LIBRARY_PATH); or run on the CPU (--device cpu)',
    cause: err,
    details: { device: name, reason },
  });
}
