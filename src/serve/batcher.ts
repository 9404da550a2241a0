import type { Tensor } from 'onnxruntime-node';

/**
 * Dynamic batching for one model: requests that arrive while a run is in progress, or within `maxWaitMs` of the
 * first one, are concatenated along their first dimension into one ONNX Runtime run of at most `maxBatch` rows,
 * and the outputs are cut back into per-request pieces. One run at a time per model: the queue is what fills the
 * next batch.
 */

export type Feeds = Record<string, Tensor>;

export interface BatcherOptions {
  maxBatch: number;
  maxWaitMs: number;
  /** Whether the model's inputs and outputs all carry the batch along their first dimension. */
  batchable: boolean;
  /** Runs merged feeds; returns every output the model has. */
  run(feeds: Feeds): Promise<Record<string, Tensor>>;
  Tensor: typeof Tensor;
  /** Called with the number of requests and rows in each run (metrics). */
  onBatch?(requests: number, rows: number): void;
}

interface Job {
  feeds: Feeds;
  rows: number;
  /** Jobs merge only with jobs of the same element types and trailing dimensions. */
  key: string;
  arrived: number;
  resolve(out: Record<string, Tensor>): void;
  reject(err: unknown): void;
}

function shapeKey(feeds: Feeds): string {
  return Object.keys(feeds)
    .sort()
    .map((n) => `${n}:${feeds[n]?.type}:${feeds[n]?.dims.slice(1).join('x')}`)
    .join('|');
}

type AnyArray = { length: number; subarray?(a: number, b: number): unknown; slice(a: number, b: number): unknown };

function concat(T: typeof Tensor, parts: Tensor[], rows: number): Tensor {
  const first = parts[0] as Tensor;
  const dims = [rows, ...first.dims.slice(1)];
  if (first.type === 'string')
    return new T(
      'string',
      parts.flatMap((p) => p.data as string[]),
      dims,
    );
  const total = parts.reduce((n, p) => n + (p.data as AnyArray).length, 0);
  const Ctor = (first.data as unknown as { constructor: new (n: number) => { set(a: ArrayLike<unknown>, at: number): void } }).constructor;
  const merged = new Ctor(total);
  let at = 0;
  for (const p of parts) {
    merged.set(p.data as unknown as ArrayLike<unknown>, at);
    at += (p.data as AnyArray).length;
  }
  return new T(first.type as 'float32', merged as unknown as Float32Array, dims);
}

function slice(T: typeof Tensor, t: Tensor, start: number, rows: number): Tensor {
  const stride = t.dims.slice(1).reduce((a, b) => a * b, 1);
  const data = t.data as AnyArray;
  const part = data.slice(start * stride, (start + rows) * stride);
  return new T(t.type as 'float32', part as Float32Array, [rows, ...t.dims.slice(1)]);
}

export class ModelBatcher {
  readonly #o: BatcherOptions;
  readonly #queue: Job[] = [];
  #running = false;
  #timer: NodeJS.Timeout | undefined;
  #batchable: boolean;

  constructor(options: BatcherOptions) {
    this.#o = options;
    this.#batchable = options.batchable;
  }

  get pending(): number {
    return this.#queue.length;
  }

  /** Runs `feeds` (whose first dimension is `rows`, or -1 when the inputs have none) as part of a batch. */
  submit(feeds: Feeds, rows: number): Promise<Record<string, Tensor>> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ feeds, rows, key: rows > 0 ? shapeKey(feeds) : `solo:${Math.random()}`, arrived: Date.now(), resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#running || this.#queue.length === 0) return;
    const rows = this.#queue.reduce((n, j) => n + Math.max(j.rows, 1), 0);
    const waited = Date.now() - (this.#queue[0] as Job).arrived;
    if (!this.#batchable || this.#o.maxBatch <= 1 || rows >= this.#o.maxBatch || waited >= this.#o.maxWaitMs) {
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = undefined;
      void this.#dispatch();
      return;
    }
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#schedule();
    }, this.#o.maxWaitMs - waited);
  }

  /** The next batch: the oldest job and the later ones that fit beside it. */
  #take(): Job[] {
    const first = this.#queue.shift() as Job;
    const jobs = [first];
    if (!this.#batchable || first.rows <= 0) return jobs;
    let rows = first.rows;
    for (let i = 0; i < this.#queue.length && rows < this.#o.maxBatch; ) {
      const j = this.#queue[i] as Job;
      if (j.key === first.key && rows + j.rows <= this.#o.maxBatch) {
        jobs.push(j);
        rows += j.rows;
        this.#queue.splice(i, 1);
      } else i++;
    }
    return jobs;
  }

  async #dispatch(): Promise<void> {
    this.#running = true;
    const jobs = this.#take();
    try {
      await this.#runJobs(jobs);
    } finally {
      this.#running = false;
      this.#schedule();
    }
  }

  async #runJobs(jobs: Job[]): Promise<void> {
    const T = this.#o.Tensor;
    if (jobs.length === 1) {
      const job = jobs[0] as Job;
      this.#o.onBatch?.(1, Math.max(job.rows, 1));
      await this.#o.run(job.feeds).then(job.resolve, job.reject);
      return;
    }
    const rows = jobs.reduce((n, j) => n + j.rows, 0);
    this.#o.onBatch?.(jobs.length, rows);
    const names = Object.keys((jobs[0] as Job).feeds);
    const merged: Feeds = Object.fromEntries(
      names.map((n) => [
        n,
        concat(
          T,
          jobs.map((j) => j.feeds[n] as Tensor),
          rows,
        ),
      ]),
    );
    let out: Record<string, Tensor>;
    try {
      out = await this.#o.run(merged);
    } catch {
      // One bad request must not fail its neighbours: each runs alone and gets its own answer or error.
      for (const j of jobs) await this.#o.run(j.feeds).then(j.resolve, j.reject);
      return;
    }
    if (Object.values(out).some((t) => t.dims[0] !== rows)) {
      // An output not batched along its first dimension (a shape, a sum over the batch): this model runs alone.
      this.#batchable = false;
      for (const j of jobs) await this.#o.run(j.feeds).then(j.resolve, j.reject);
      return;
    }
    let at = 0;
    for (const j of jobs) {
      j.resolve(Object.fromEntries(Object.entries(out).map(([n, t]) => [n, slice(T, t, at, j.rows)])));
      at += j.rows;
    }
  }
}
