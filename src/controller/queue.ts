/**
 * A work queue of object keys ("namespace/name") with the guarantees controllers rely on:
 *
 * - per-key de-duplication: a key added many times while waiting is processed once;
 * - a key is never processed by two workers at once: added while in flight, it is marked dirty
 *   and handed out again after `done`;
 * - delayed adds (`addAfter`) for requeue-after and resync, keeping the earliest due time;
 * - per-key exponential backoff with full jitter (`addRateLimited`), reset by `forget`.
 *
 * Time is injected (`now`, `setTimer`) so tests control it.
 */

export interface QueueClock {
  now(): number;
  setTimer(callback: () => void, delayMs: number): { cancel(): void };
}

export const systemClock: QueueClock = {
  now: () => Date.now(),
  setTimer(callback, delayMs) {
    const handle = setTimeout(callback, delayMs);
    handle.unref?.();
    return { cancel: () => clearTimeout(handle) };
  },
};

export interface BackoffOptions {
  baseDelayMs: number;
  maxDelayMs: number;
  /** Returns a number in [0, 1); injected for deterministic tests. */
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseDelayMs: 1_000, maxDelayMs: 5 * 60_000 };

/** Counters a metrics layer may read. */
export interface QueueStats {
  depth: number;
  inFlight: number;
  delayed: number;
}

export class WorkQueue {
  private readonly ready: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly delayed = new Map<string, { dueAt: number; timer: { cancel(): void } }>();
  private readonly failures = new Map<string, number>();
  private readonly addedAt = new Map<string, number>();
  private waiters: Array<(key: string | undefined) => void> = [];
  private shuttingDown = false;

  constructor(
    private readonly backoff: BackoffOptions = DEFAULT_BACKOFF,
    private readonly clock: QueueClock = systemClock,
  ) {}

  /** Queues `key` now, unless it is already waiting. */
  add(key: string): void {
    if (this.shuttingDown) return;
    this.cancelDelayed(key);
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.addedAt.set(key, this.clock.now());
    const waiter = this.waiters.shift();
    if (waiter) {
      this.queued.delete(key);
      this.processing.add(key);
      waiter(key);
    } else {
      this.ready.push(key);
    }
  }

  /** Queues `key` after `delayMs`; an earlier pending due time wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const dueAt = this.clock.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending && pending.dueAt <= dueAt) return;
    pending?.timer.cancel();
    const timer = this.clock.setTimer(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    this.delayed.set(key, { dueAt, timer });
  }

  /** Queues `key` after its next backoff delay; returns that delay. */
  addRateLimited(key: string): number {
    const attempts = this.failures.get(key) ?? 0;
    this.failures.set(key, attempts + 1);
    const delay = this.backoffDelay(attempts);
    this.addAfter(key, delay);
    return delay;
  }

  /** The delay before retry number `attempts + 1`: full jitter over a capped exponential. */
  backoffDelay(attempts: number): number {
    const ceiling = Math.min(this.backoff.maxDelayMs, this.backoff.baseDelayMs * 2 ** attempts);
    const random = this.backoff.random ?? Math.random;
    return Math.max(this.backoff.baseDelayMs / 2, Math.floor(random() * ceiling));
  }

  /** Clears the failure count of `key`, so its next failure starts from the base delay. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** How many times in a row `key` has failed. */
  failureCount(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /**
   * Waits for the next key to process; undefined once the queue shuts down. The caller must
   * call `done(key)` when finished with it.
   */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.ready.shift();
    if (key !== undefined) {
      this.queued.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** How long `key` waited between being queued and handed out, in ms. */
  waitedMs(key: string): number {
    const at = this.addedAt.get(key);
    return at === undefined ? 0 : this.clock.now() - at;
  }

  /** Marks `key` finished; if it was added meanwhile it is queued again. */
  done(key: string): void {
    this.processing.delete(key);
    this.addedAt.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  /** Stops handing out keys; pending waiters get undefined and delayed adds are dropped. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.delayed.values()) timer.cancel();
    this.delayed.clear();
    for (const waiter of this.waiters) waiter(undefined);
    this.waiters = [];
  }

  stats(): QueueStats {
    return { depth: this.ready.length, inFlight: this.processing.size, delayed: this.delayed.size };
  }

  private cancelDelayed(key: string): void {
    const pending = this.delayed.get(key);
    if (!pending) return;
    pending.timer.cancel();
    this.delayed.delete(key);
  }
}
