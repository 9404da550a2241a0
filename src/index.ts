/**
 * modelctl as a library. The CLI is one client of this API: everything it does is available here, returning data
 * and throwing ModelctlError, never printing or exiting.
 */
export { ModelctlError, EXIT_CODES, isModelctlError, type ErrorCode } from './errors.js';
export { Registry, type RegistryOptions, type ListFilter, type ListEntry, type ModelInfo, type RemoveResult } from './registry/index.js';
export type { RegisterOptions, RegisterResult, RegisterEvent } from './registry/register.js';
export type { GcOptions, GcResult, EvictedVersion } from './registry/gc.js';
export type { EditOptions, EditResult } from './registry/edit.js';
export { parseMetricCondition, type MetricCondition } from './registry/metric-filter.js';
export type { ValidateOptions, ValidateResult, Problem } from './registry/validate.js';
export type { VerifiedFiles, VerifyOptions } from './registry/verify.js';
export type { Manifest, ManifestFile, ManifestEdit, Lineage } from './registry/manifest.js';
export { parseRef, type ModelRef } from './registry/names.js';
export { defaultHome } from './registry/layout.js';
export { inspectModel } from './formats/index.js';
export type { Inspection, ModelFormat } from './formats/types.js';
export { readOnnxMetadata, readOnnxSummary, readOnnxSummaryFromBuffer, type OnnxSummary, type OnnxValueInfo } from './onnx/summary.js';
export { decodeHfMetadata, encodeHfMetadata, type HfMetadata, type DecodedHfMetadata } from './onnx/metadata.js';
export { embedOnnxFile, writeWithMetadata, type EmbedResult } from './onnx/embed.js';
export { embedMetadata, type EmbedMetadataOptions, type EmbedMetadataResult } from './embed-metadata/embed-metadata.js';
export { VERSION } from './version.js';
export { predict, openPredictor, predictStream, inputKind, resolveModel, PREDICT_TASKS } from './predict/predict.js';
export type { PredictOptions, PredictResult, Predictor, StreamOutcome } from './predict/predict.js';
export type { ChatMessage, GenerationOptions, GenerationPrediction } from './tasks/text-generation.js';
export { openInput, readInput } from './inputs/open.js';
export type { InputKind, InputSource, InputRecord, OpenedInput, PredictInput, RecordStream } from './inputs/types.js';
export { pull, planPull, type PullOptions, type PullResult, type PullDryRun, type PullEvent, type PulledFile } from './pull/pull.js';
export { checkout } from './pull/write-out.js';
export { pushToMlflow, type MlflowPushOptions, type MlflowPushResult } from './mlflow/push.js';
export { pushOci, type OciPushOptions, type OciPushResult, type OciPushEvent } from './oci/push.js';
export { describePath, type PathDescription } from './info/describe-path.js';
export {
  SessionCache,
  openSession,
  parseDevice,
  cudaAvailability,
  type Device,
  type SessionOptions,
  type OpenedSession,
} from './runtime/index.js';
export { startServer, openApiDocument, type ServeOptions, type ServeEvent, type RunningServer } from './serve/index.js';
export {
  benchModel,
  summarize,
  percentile,
  type BenchOptions,
  type BenchOutcome,
  type ConfigResult,
  type LatencyStats,
  type GateVerdict,
} from './bench/index.js';
export { deployTriton, type TritonOptions, type TritonModel } from './deploy/triton.js';
export { deployKserve, type KserveOptions, type KserveResult } from './deploy/kserve.js';
export { deployImage, type ImageOptions, type ImageResult } from './deploy/image.js';
export { exportModel, type ExportOptions, type ExportResult, type ExportEvent, type Validation } from './export/export.js';
export { setupPython, type SetupPythonOptions, type SetupResult, type SetupEvent } from './convert/setup.js';
export { checkFamilies, findPython, runConverter, type FamilyCheck, type Interpreter, type ConverterEvent } from './convert/run.js';
export { FAMILIES, FRAMEWORKS, type Family, type Framework } from './convert/families.js';
