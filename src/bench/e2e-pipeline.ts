import { performance } from 'node:perf_hooks';
import type { RunContext } from '../tasks/tensors.js';
import { runContext, type InputDescription, type WorkloadFactory } from './workload.js';

/**
 * --e2e for the pipelines that run the model from inside one task call (tabular rows, entities, answers over
 * windows, detections): the call is timed whole, and the session it is given records when its runs start and end.
 * preprocess is the time before the first run, inference the time inside runs, postprocess the rest (after the last
 * run, and between runs where a task makes several: question windows, detection batches).
 */

export interface PipelineBatch {
  /** Items one call answers. */
  items: number;
  /** What the inputs are, for the report. */
  inputs: InputDescription[];
  /** One pass of the task pipeline over the batch; it must run the model through `rc.session`. */
  call(rc: RunContext): Promise<unknown>;
}

/** A RunContext whose session counts the time its runs take. */
function timedContext(rc: RunContext): { rc: RunContext; reset(): void; stats(): { first: number; last: number; inside: number } } {
  let first = Number.NaN;
  let last = Number.NaN;
  let inside = 0;
  const real = rc.session;
  const session: RunContext['session'] = {
    inputNames: real.inputNames,
    outputNames: real.outputNames,
    run: (async (...args: Parameters<typeof real.run>) => {
      const start = performance.now();
      if (Number.isNaN(first)) first = start;
      try {
        return await (real.run as (...a: Parameters<typeof real.run>) => ReturnType<typeof real.run>)(...args);
      } finally {
        last = performance.now();
        inside += last - start;
      }
    }) as typeof real.run,
  };
  return {
    rc: { ...rc, session },
    reset: () => {
      first = Number.NaN;
      last = Number.NaN;
      inside = 0;
    },
    stats: () => ({ first, last, inside }),
  };
}

/** `prepare` makes a batch of `batch` real inputs once per configuration; the calls over it are what is timed. */
export function pipelineWorkload(task: string, prepare: (rc: RunContext, batch: number) => Promise<PipelineBatch>): WorkloadFactory {
  return async (ctx) => {
    const timed = timedContext(runContext(ctx));
    const setup = await prepare(timed.rc, ctx.request.batch);
    // One untimed pass: bad inputs fail here, with the task's own error, before anything is measured.
    await setup.call(timed.rc);
    if (Number.isNaN(timed.stats().first)) throw new Error(`the ${task} pipeline did not run the model`);
    return {
      kind: `e2e:${task}`,
      items: setup.items,
      inputs: setup.inputs,
      async run() {
        timed.reset();
        const t0 = performance.now();
        await setup.call(timed.rc);
        const t1 = performance.now();
        const { first, inside } = timed.stats();
        return { preprocess: first - t0, inference: inside, postprocess: t1 - t0 - (first - t0) - inside };
      },
    };
  };
}
