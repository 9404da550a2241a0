import { randomUUID } from 'node:crypto';
import { ModelctlError } from '../errors.js';

/**
 * Long operations over HTTP (pull, export) as jobs: a request starts one and gets its id at once (202); the job runs
 * in this process through the library API, at most `max` at a time, the rest waiting in order. A client polls
 * GET /v1/jobs/{id} for the status, the progress the operation reports, and the result or the error, and may cancel
 * it with DELETE /v1/jobs/{id} (a waiting job never starts; a running one is stopped through its abort signal, which
 * pull and export honour as they do Ctrl-C: nothing half-done is registered).
 */

export type JobKind = 'pull' | 'export';
export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface JobProgress {
  /** Bytes received so far (pull), of `totalBytes` (0 while unknown, and for export). */
  bytes: number;
  totalBytes: number;
  /** Files the operation takes (pull: the selected files; export: 0 until the result is known). */
  files: number;
  /** What the operation is doing now, in its own words (resolving, downloading, a converter stage...). */
  stage: string;
}

export interface JobView {
  id: string;
  kind: JobKind;
  status: JobStatus;
  /** What was asked (the request body as the job understood it, never a token). */
  request: Record<string, unknown>;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  progress: JobProgress;
  result?: { name: string; version: string; upToDate?: boolean };
  error?: { code: string; message: string; hint?: string };
  links: { self: string; model?: string };
}

/** What a job's body gets: a progress reporter and the signal that cuts it when the server stops or it is cancelled. */
export interface JobRun {
  progress(update: Partial<JobProgress>): void;
  signal: AbortSignal;
}

export type JobBody = (run: JobRun) => Promise<{ name: string; version: string; upToDate?: boolean }>;

/** Finished jobs kept for polling; the oldest finished ones are forgotten past this many. */
const KEEP_FINISHED = 500;

export class Jobs {
  readonly #max: number;
  readonly #signal: AbortSignal;
  readonly #jobs = new Map<string, JobView>();
  readonly #waiting: Array<{ view: JobView; body: JobBody }> = [];
  readonly #runs = new Set<Promise<void>>();
  /** Per job not yet finished: what cancels it, and its run once started. */
  readonly #live = new Map<string, { controller: AbortController; run?: Promise<void> }>();

  constructor(max: number, signal: AbortSignal) {
    if (!Number.isSafeInteger(max) || max < 1)
      throw new ModelctlError('USAGE', `--max-jobs takes a whole number of at least 1, got ${String(max)}`);
    this.#max = max;
    this.#signal = signal;
  }

  /** Queues a job and returns its view (status queued, or running when a slot was free). */
  start(kind: JobKind, request: Record<string, unknown>, body: JobBody): JobView {
    if (this.#signal.aborted)
      throw new ModelctlError('INTERRUPTED', 'the server is shutting down', { hint: 'start the job on a running server' });
    const id = randomUUID();
    const view: JobView = {
      id,
      kind,
      status: 'queued',
      request,
      createdAt: new Date().toISOString(),
      progress: { bytes: 0, totalBytes: 0, files: 0, stage: 'queued' },
      links: { self: `/v1/jobs/${id}` },
    };
    this.#jobs.set(id, view);
    this.#live.set(id, { controller: new AbortController() });
    this.#waiting.push({ view, body });
    this.#next();
    return view;
  }

  get(id: string): JobView | undefined {
    return this.#jobs.get(id);
  }

  /** Every job kept, newest first. */
  list(): JobView[] {
    return [...this.#jobs.values()].reverse();
  }

  /**
   * Cancels a job: one waiting is dropped at once, one running is aborted and awaited (at most `wait` ms: then its
   * view says stage "cancelling" and status running). Returns its view, undefined for an unknown id; a job already
   * finished, or that finished before the abort reached it, is a CONFLICT.
   */
  async cancel(id: string, wait = 10_000): Promise<JobView | undefined> {
    const view = this.#jobs.get(id);
    if (!view) return undefined;
    const live = this.#live.get(id);
    if (!live)
      throw new ModelctlError('CONFLICT', `job ${id} has already finished (${view.status})`, {
        hint: 'only a queued or running job can be cancelled',
      });
    const waiting = this.#waiting.findIndex((w) => w.view === view);
    if (waiting >= 0) {
      this.#waiting.splice(waiting, 1);
      this.#live.delete(id);
      view.status = 'cancelled';
      view.error = { code: 'INTERRUPTED', message: 'cancelled before it started' };
      view.progress.stage = 'cancelled';
      view.finishedAt = new Date().toISOString();
      return view;
    }
    live.controller.abort(new ModelctlError('INTERRUPTED', 'cancelled'));
    view.progress.stage = 'cancelling';
    // Answered once the job has stopped, or after `wait` ms with the job still stopping (stage "cancelling").
    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([
      live.run?.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), wait);
      }),
    ]);
    clearTimeout(timer);
    // It finished on its own between the request and the abort: that is what it did.
    if (stopped && view.status !== 'cancelled')
      throw new ModelctlError('CONFLICT', `job ${id} finished (${view.status}) before it could be cancelled`, {
        hint: `GET /v1/jobs/${id} shows its result`,
      });
    return view;
  }

  /** Resolves once no job runs or waits: after the server's signal is aborted, once every job has stopped. */
  async settled(): Promise<void> {
    while (this.#runs.size > 0) await Promise.all(this.#runs);
  }

  #next(): void {
    while (this.#runs.size < this.#max && this.#waiting.length > 0) {
      const { view, body } = this.#waiting.shift() as { view: JobView; body: JobBody };
      const live = this.#live.get(view.id) as { controller: AbortController; run?: Promise<void> };
      const run: Promise<void> = this.#run(view, body, live.controller.signal).finally(() => {
        this.#runs.delete(run);
        this.#live.delete(view.id);
        this.#forgetOld();
        this.#next();
      });
      live.run = run;
      this.#runs.add(run);
    }
  }

  async #run(view: JobView, body: JobBody, cancel: AbortSignal): Promise<void> {
    view.status = 'running';
    view.startedAt = new Date().toISOString();
    view.progress.stage = 'starting';
    const signal = AbortSignal.any([this.#signal, cancel]);
    try {
      signal.throwIfAborted();
      const result = await body({ progress: (p) => Object.assign(view.progress, p), signal });
      view.result = result;
      view.links.model = `/v1/models/${encodeURIComponent(result.name)}/versions/${encodeURIComponent(result.version)}`;
      view.progress.stage = 'done';
      view.status = 'succeeded';
    } catch (err) {
      const e = err instanceof ModelctlError ? err : signal.aborted ? signal.reason : undefined;
      view.error =
        e instanceof ModelctlError
          ? { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) }
          : { code: 'INTERNAL', message: `unexpected failure: ${(err as Error)?.message ?? String(err)}` };
      // Cancelled: whatever the operation threw on the way out, the job ends as the DELETE asked.
      if (cancel.aborted) {
        view.error = { code: 'INTERRUPTED', message: 'cancelled while running' };
        view.progress.stage = 'cancelled';
      }
      view.status = cancel.aborted ? 'cancelled' : 'failed';
    } finally {
      view.finishedAt = new Date().toISOString();
    }
  }

  #forgetOld(): void {
    const finished = [...this.#jobs.values()].filter((j) => !this.#live.has(j.id));
    for (const j of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) this.#jobs.delete(j.id);
  }
}
