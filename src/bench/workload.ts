import type { Tensor } from 'onnxruntime-node';
import type { OnnxSummary } from '../onnx/summary.js';
import type { OpenedSession, Ort } from '../runtime/index.js';
import { runSession, tensorOutputs, type RunContext } from '../tasks/tensors.js';
import { syntheticInputs, type ModelHints, type ShapeRequest, type SyntheticInput } from './synthetic.js';

export interface InputDescription {
  name: string;
  type: string;
  dims: number[];
  fill: string;
}

/** What one timed iteration does, prepared once per configuration so that preparing it is never timed. */
export interface Workload {
  /** Part of the configuration key: "inference", or "e2e:<task>". */
  kind: string;
  /** Items per run. */
  items: number;
  /** The tensors fed to the model (synthetic ones, or a batch of real inputs for --e2e). */
  inputs: InputDescription[];
  /** One iteration; --e2e workloads return each stage's milliseconds. */
  run(): Promise<Record<string, number> | undefined>;
}

export interface WorkloadContext {
  ort: Ort;
  opened: OpenedSession;
  summary: OnnxSummary;
  hints: ModelHints;
  request: ShapeRequest;
  seed: number;
}

export type WorkloadFactory = (ctx: WorkloadContext) => Promise<Workload>;

export function runContext(ctx: WorkloadContext): RunContext {
  return { session: ctx.opened.session, Tensor: ctx.ort.Tensor, inputs: ctx.summary.inputs, outputs: ctx.summary.outputs };
}

export function toTensor(ort: Ort, input: SyntheticInput): Tensor {
  return new ort.Tensor(input.type as 'float32', input.data as Float32Array, input.dims);
}

/** The model alone, as onnxruntime_perf_test times it: one session.run on inputs made up front. */
export const inferenceWorkload: WorkloadFactory = async (ctx) => {
  const inputs = syntheticInputs(ctx.summary.inputs, ctx.request, ctx.hints, ctx.seed);
  const rc = runContext(ctx);
  const feeds: Record<string, Tensor> = Object.fromEntries(inputs.map((i) => [i.name, toTensor(ctx.ort, i)]));
  // Sequence and map outputs (skl2onnx's ZipMap) cannot be fetched by onnxruntime-node; they are left out.
  const fetch = tensorOutputs(rc);
  const first = inputs[0];
  // One untimed run through runSession turns the model's refusal of these inputs into a one-line error; the timed
  // runs then call session.run bare, without an extra promise per run (a few microseconds on a tiny model).
  await runSession(rc, feeds, fetch);
  const session = ctx.opened.session;
  return {
    kind: 'inference',
    items: first && first.dims.length > 0 ? (first.dims[0] as number) : ctx.request.batch,
    inputs,
    run: () => session.run(feeds, fetch).then(() => undefined),
  };
};
