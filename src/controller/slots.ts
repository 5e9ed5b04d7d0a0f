import { AsyncLocalStorage } from 'node:async_hooks';

/** A reconcile's claim on a slot. */
interface Holder {
  /** Whether it holds a slot now. */
  holds: boolean;
  /** Its waits now open (one reconcile may wait on several things at once). */
  waits: number;
  /** Set while it queues to take a slot back after a wait. */
  back?: Promise<void>;
  ended: boolean;
}

/** How many waiting reconciles each slot allows before no new key is started. */
export const WAITING_PER_SLOT = 64;

/**
 * The reconcile slots behind `--concurrency`. A reconcile holds a slot while it works. While it
 * only waits on something outside it, a token of an AWS quota or another reconcile's work on a
 * shared proxy, it lends its slot to the next key (`whileWaiting`), and queues to take one back
 * when the wait ends; reconciles coming back from a wait go before new keys.
 *
 * So `--concurrency` bounds the reconciles doing something, and a slow AWS quota (one
 * CreateRestApi every 3 s) never keeps the others from their own calls: the busiest quota's
 * queue stays full, which is the least time the quotas allow. New keys stop being started while
 * `maxWaiting` reconciles wait, which bounds the memory they hold.
 */
export class ReconcileSlots {
  private busy = 0;
  private waitingCount = 0;
  private readonly returning: Array<() => void> = [];
  private readonly fresh: Array<() => void> = [];
  private readonly holders = new AsyncLocalStorage<Holder>();

  constructor(
    readonly size: number,
    readonly maxWaiting = size * WAITING_PER_SLOT,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new Error('slots: size must be at least 1');
  }

  /** Resolves once a slot is free for a new key, and takes it; pass it to `run`. */
  acquire(): Promise<void> {
    return new Promise((resolve) => {
      this.fresh.push(resolve);
      this.pump();
    });
  }

  /** Runs `work` in the slot just acquired, and frees the slot when it settles. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    const holder: Holder = { holds: true, waits: 0, ended: false };
    try {
      return await this.holders.run(holder, work);
    } finally {
      holder.ended = true;
      if (holder.holds) this.free();
      holder.holds = false;
    }
  }

  /**
   * Waits for `wait` without holding a slot, when called inside `run`, then waits for a slot
   * again; elsewhere it only waits. Overlapping waits of one reconcile lend its slot once.
   */
  async whileWaiting<T>(wait: () => Promise<T>): Promise<T> {
    const holder = this.holders.getStore();
    if (!holder || holder.ended) return wait();
    holder.waits += 1;
    this.waitingCount += 1;
    if (holder.holds) {
      holder.holds = false;
      this.free();
    }
    try {
      return await wait();
    } finally {
      holder.waits -= 1;
      this.waitingCount -= 1;
      if (!holder.holds) await this.takeBack(holder);
      else this.pump();
    }
  }

  /** Reconciles holding a slot: never more than `size`. */
  get working(): number {
    return this.busy;
  }

  /** Waits of reconciles that lent their slot. */
  get waiting(): number {
    return this.waitingCount;
  }

  /** Queues the holder for a slot ahead of new keys (once for overlapping waits). */
  private takeBack(holder: Holder): Promise<void> {
    holder.back ??= new Promise<void>((resolve) => {
      this.returning.push(resolve);
      this.pump();
    }).then(() => {
      holder.back = undefined;
      if (holder.ended) this.free();
      else holder.holds = true;
    });
    return holder.back;
  }

  private free(): void {
    this.busy -= 1;
    this.pump();
  }

  /** Hands free slots to reconciles coming back from a wait, then to new keys. */
  private pump(): void {
    while (this.busy < this.size) {
      const next =
        this.returning.shift() ??
        (this.waitingCount < this.maxWaiting ? this.fresh.shift() : undefined);
      if (!next) return;
      this.busy += 1;
      next();
    }
  }
}
