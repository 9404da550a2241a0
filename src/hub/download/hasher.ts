import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/** The digests a download is checked against: sha256 always, the git blob id (sha1 with a header) on request. */
export interface Digests {
  sha256: string;
  sha1?: string;
}

/**
 * Hashes the bytes of one file in order. `update` may return a promise: the buffer must stay untouched until it
 * settles (the worker reads it in place, from shared memory, without a copy).
 */
export interface Hasher {
  update(buf: Buffer): Promise<void> | undefined;
  digest(): Promise<Digests>;
  reset(): void;
  /** Frees the state of an abandoned file. */
  drop(): void;
  /** Whether update() wants buffers backed by a SharedArrayBuffer. */
  readonly shared: boolean;
}

export class InlineHasher implements Hasher {
  readonly shared = false;
  private sha256!: Hash;
  private sha1: Hash | undefined;
  constructor(private readonly gitSize: number | undefined) {
    this.reset();
  }

  update(buf: Buffer): undefined {
    this.sha256.update(buf);
    this.sha1?.update(buf);
    return undefined;
  }

  digest(): Promise<Digests> {
    return Promise.resolve({ sha256: this.sha256.digest('hex'), ...(this.sha1 ? { sha1: this.sha1.digest('hex') } : {}) });
  }

  reset(): void {
    this.sha256 = createHash('sha256');
    this.sha1 = this.gitSize === undefined ? undefined : createHash('sha1').update(`blob ${this.gitSize}\0`);
  }

  drop(): void {}
}

// The worker is plain CommonJS evaluated from a string, so the same code runs from dist/ and under vitest (src/).
// It answers every message in the order received: the main thread keeps one queue of waiting callers.
const WORKER_CODE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const states = new Map();
const slots = new Map();
function init(m) {
  return { a: createHash('sha256'), b: m.git === undefined ? undefined : createHash('sha1').update('blob ' + m.git + '\\0') };
}
parentPort.on('message', (m) => {
  try {
    if (m.op === 'reset') { states.set(m.id, init(m)); parentPort.postMessage({}); return; }
    if (m.op === 'drop') { states.delete(m.id); parentPort.postMessage({}); return; }
    if (m.op === 'slot') { slots.set(m.slot, m.sab); parentPort.postMessage({}); return; }
    if (m.op === 'unslot') { slots.delete(m.slot); parentPort.postMessage({}); return; }
    let s = states.get(m.id);
    if (!s) { s = init(m); states.set(m.id, s); }
    if (m.op === 'update') {
      const view = new Uint8Array(slots.get(m.slot), m.off, m.len);
      s.a.update(view);
      if (s.b) s.b.update(view);
      parentPort.postMessage({});
    } else if (m.op === 'digest') {
      states.delete(m.id);
      parentPort.postMessage({ sha256: s.a.digest('hex'), sha1: s.b ? s.b.digest('hex') : undefined });
    }
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) });
  }
});
`;

interface Reply {
  error?: string;
  sha256?: string;
  sha1?: string;
}

/** One worker for the whole process, started on first use; it keeps the process alive only while it has work. */
class HashWorker {
  private worker: Worker | undefined;
  private queue: Array<{ resolve: (r: Reply) => void; reject: (e: unknown) => void }> = [];
  private nextId = 1;

  private slotIds = new WeakMap<SharedArrayBuffer, number>();
  private registry = new FinalizationRegistry<number>((slot) => {
    if (this.worker) void this.call({ op: 'unslot', slot }).catch(() => {});
  });

  newId(): number {
    return this.nextId++;
  }

  /**
   * The worker's handle on a shared buffer. Posting a SharedArrayBuffer costs milliseconds (about 0.5 s per GiB in
   * 4 MiB slots), so each is posted once and named by a number afterwards; the worker forgets it when it is freed.
   */
  slotOf(sab: SharedArrayBuffer): number {
    let slot = this.slotIds.get(sab);
    if (slot === undefined) {
      slot = this.newId();
      this.slotIds.set(sab, slot);
      this.registry.register(sab, slot);
      void this.call({ op: 'slot', slot, sab }).catch(() => {});
    }
    return slot;
  }

  call(message: Record<string, unknown>): Promise<Reply> {
    const w = this.start();
    if (this.queue.length === 0) w.ref();
    return new Promise<Reply>((resolve, reject) => {
      this.queue.push({ resolve, reject });
      w.postMessage(message);
    });
  }

  /** Starts the thread ahead of its first file (it takes 25-30 ms to come up). */
  warm(): void {
    this.start();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(WORKER_CODE, { eval: true });
    w.on('message', (r: Reply) => {
      const waiter = this.queue.shift();
      if (this.queue.length === 0) w.unref();
      if (r.error) waiter?.reject(new Error(`hashing failed: ${r.error}`));
      else waiter?.resolve(r);
    });
    const fail = (err: unknown): void => {
      // A new worker knows none of the old one's buffers (hash states are lost too: those files fail to verify).
      this.worker = undefined;
      this.slotIds = new WeakMap();
      for (const waiter of this.queue.splice(0)) waiter.reject(err);
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`the hashing worker stopped (exit code ${code})`)));
    // After the listeners: adding a 'message' listener refs the worker again, and an idle worker must never keep
    // the process alive (a warmed worker that no file needed, after an up-to-date pull or an error).
    w.unref();
    this.worker = w;
    return w;
  }
}

const shared = new HashWorker();

/**
 * Hashes in a worker thread, so that sha256 (about 0.75 s per GiB on a loaded machine) overlaps with reading the
 * socket and writing the disk instead of adding to them. Buffers are shared, never copied or transferred.
 */
export class WorkerHasher implements Hasher {
  readonly shared = true;
  private readonly id = shared.newId();
  constructor(private readonly gitSize: number | undefined) {}

  async update(buf: Buffer): Promise<void> {
    if (!(buf.buffer instanceof SharedArrayBuffer)) throw new Error('WorkerHasher needs shared buffers');
    await shared.call({
      op: 'update',
      id: this.id,
      git: this.gitSize,
      slot: shared.slotOf(buf.buffer),
      off: buf.byteOffset,
      len: buf.length,
    });
  }

  async digest(): Promise<Digests> {
    const r = await shared.call({ op: 'digest', id: this.id, git: this.gitSize });
    return { sha256: r.sha256 as string, ...(r.sha1 ? { sha1: r.sha1 } : {}) };
  }

  reset(): void {
    void shared.call({ op: 'reset', id: this.id, git: this.gitSize }).catch(() => {});
  }

  drop(): void {
    void shared.call({ op: 'drop', id: this.id }).catch(() => {});
  }
}

/** Files at least this large are hashed in the worker; smaller ones are not worth a thread hop. */
export const WORKER_MIN_BYTES = 16 * 1024 * 1024;

/** A download of `size` bytes is coming: the worker that will hash it starts now, while the plan is completed. */
export function warmHasherFor(size: number): void {
  if (size >= WORKER_MIN_BYTES) shared.warm();
}

export function hasherFor(size: number | undefined, gitSize: number | undefined): Hasher {
  return size === undefined || size >= WORKER_MIN_BYTES ? new WorkerHasher(gitSize) : new InlineHasher(gitSize);
}
