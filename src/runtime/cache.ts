import { ModelctlError } from '../errors.js';
import { fingerprintModel, type ExternalMemo } from './model-files.js';
import { openFingerprinted, sessionIdentity, sessionKey, type OpenedSession, type SessionOptions } from './session.js';

export interface SessionCacheOptions {
  /** Default 4. */
  maxSessions?: number;
  /** Budget for model plus external data bytes, a proxy for RAM. Default: no limit. */
  maxBytes?: number;
}

export interface SessionCacheStats {
  sessions: number;
  bytes: number;
  hits: number;
  misses: number;
  evictions: number;
}

interface Entry {
  key: string;
  /** Path and options without file stamps: a new entry with the same identity means the file was replaced. */
  identity: string;
  bytes: number;
  promise: Promise<OpenedSession>;
  opened?: OpenedSession;
  /** Callers inside `use()`: an evicted session is released only once they are done with it. */
  users: number;
  retired: boolean;
  released: boolean;
}

/**
 * A bounded, least-recently-used set of open sessions, for batch runs and `serve` where one model answers many
 * requests. A session returned by `get` stays usable until it is evicted; `use` also holds it across an eviction.
 */
export class SessionCache {
  readonly maxSessions: number;
  readonly maxBytes: number;
  /** Map order is recency order: a hit moves its entry to the end. */
  readonly #entries = new Map<string, Entry>();
  readonly #memo: ExternalMemo = new Map();
  readonly #releases = new Set<Promise<void>>();
  #bytes = 0;
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  constructor(options: SessionCacheOptions = {}) {
    this.maxSessions = options.maxSessions ?? 4;
    this.maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
    if (!Number.isSafeInteger(this.maxSessions) || this.maxSessions < 1) {
      throw new ModelctlError('USAGE', `the session cache needs room for at least one session, not ${String(options.maxSessions)}`, {
        hint: 'use a whole number of sessions of 1 or more',
      });
    }
    if (!(this.maxBytes > 0)) {
      throw new ModelctlError('USAGE', `the session cache byte budget must be positive, not ${String(options.maxBytes)}`, {
        hint: 'give a size in bytes, or leave it out for no limit',
      });
    }
  }

  /** The session for a model file and options, opened on a miss; concurrent misses on one key open it once. */
  async get(modelPath: string, options: SessionOptions = {}): Promise<OpenedSession> {
    return (await this.#entryFor(modelPath, options)).promise;
  }

  /** Runs `fn` with the session, which is not released until `fn` settles even if the cache evicts it meanwhile. */
  async use<T>(modelPath: string, options: SessionOptions, fn: (opened: OpenedSession) => T | Promise<T>): Promise<T> {
    const entry = await this.#entryFor(modelPath, options);
    entry.users++;
    try {
      return await fn(await entry.promise);
    } finally {
      entry.users--;
      this.#releaseIfIdle(entry);
    }
  }

  stats(): SessionCacheStats {
    return { sessions: this.#entries.size, bytes: this.#bytes, hits: this.#hits, misses: this.#misses, evictions: this.#evictions };
  }

  /** Drops every session (counters are kept) and waits for the releases of those nobody is using. */
  async clear(): Promise<void> {
    const entries = [...this.#entries.values()];
    for (const entry of entries) this.#retire(entry);
    this.#memo.clear();
    await Promise.allSettled(entries.map((entry) => entry.promise));
    await Promise.all([...this.#releases]);
  }

  async #entryFor(modelPath: string, options: SessionOptions): Promise<Entry> {
    // Statting on every lookup is what lets a file replaced on disk get a new session instead of the cached one.
    const fingerprint = await fingerprintModel(modelPath, this.#memo);
    const key = sessionKey(fingerprint, options);
    const hit = this.#entries.get(key);
    if (hit) {
      this.#hits++;
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit;
    }
    this.#misses++;
    const identity = sessionIdentity(fingerprint.path, options);
    for (const stale of [...this.#entries.values()]) {
      if (stale.identity === identity && stale.opened) this.#evict(stale);
    }
    const entry: Entry = {
      key,
      identity,
      bytes: fingerprint.bytes,
      users: 0,
      retired: false,
      released: false,
      promise: openFingerprinted(fingerprint, options),
    };
    this.#entries.set(key, entry);
    this.#bytes += entry.bytes;
    entry.promise.then(
      (opened) => {
        entry.opened = opened;
        if (entry.retired) this.#releaseIfIdle(entry);
        else this.#shrink(entry);
      },
      () => {
        // A failed open is not cached: the next get tries again (the file may have been fixed).
        if (this.#entries.get(key) === entry) this.#remove(entry);
      },
    );
    this.#shrink(entry);
    return entry;
  }

  /**
   * Evicts least recently used sessions until both budgets hold. Sessions still opening are skipped (their callers
   * have not received them yet), and so is `keep`, the one just asked for: a model bigger than the whole budget
   * still runs, alone.
   */
  #shrink(keep: Entry): void {
    for (const entry of [...this.#entries.values()]) {
      if (this.#entries.size <= this.maxSessions && this.#bytes <= this.maxBytes) return;
      if (entry !== keep && entry.opened) this.#evict(entry);
    }
  }

  #evict(entry: Entry): void {
    this.#evictions++;
    this.#retire(entry);
  }

  #retire(entry: Entry): void {
    if (this.#entries.get(entry.key) === entry) this.#remove(entry);
    entry.retired = true;
    this.#releaseIfIdle(entry);
  }

  #remove(entry: Entry): void {
    this.#entries.delete(entry.key);
    this.#bytes -= entry.bytes;
  }

  #releaseIfIdle(entry: Entry): void {
    if (!entry.retired || entry.released || entry.users > 0 || !entry.opened) return;
    entry.released = true;
    // A release that fails leaves nothing to recover and nobody to tell: the session is already unreachable.
    const release = entry.opened.session.release().catch(() => undefined);
    this.#releases.add(release);
    void release.finally(() => this.#releases.delete(release));
  }
}
