/** ONNX Runtime sessions: device -> execution provider, session options, and a bounded session cache. */
export { parseDevice, formatDevice, executionProviders, type Device, type ProviderConfig } from './device.js';
export { cudaAvailability, ortBinaryDir, CUDA_INSTALL_COMMAND, type CudaAvailability, type CudaProbeOptions } from './cuda.js';
export { loadOrt, type Ort } from './ort.js';
export { ortFirstLine } from './ort-errors.js';
export {
  openSession,
  ortSessionOptions,
  checkSessionOptions,
  MAX_THREADS,
  type SessionOptions,
  type OpenedSession,
  type GraphOptimization,
} from './session.js';
export { SessionCache, type SessionCacheOptions, type SessionCacheStats } from './cache.js';
