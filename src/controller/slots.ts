import { AsyncLocalStorage } from 'node:async_hooks';

/** A reconcile's claim on a slot: whether it holds one now, and whether it has finished. */
interface Holder {
  holds: boolean;
  ended: boolean;
}

/**
 * The reconcile slots behind `--concurrency`. A reconcile holds a slot while it works. While it
 * only waits on something outside it, a token of an AWS quota or another reconcile's work on a
 * shared proxy, it lends its slot to the next key (`whileWaiting`) and takes one back when the
 * wait ends, even if that puts the slots over their number for a while: the next key is then
 * handed out only once enough reconciles have finished.
 *
 * So `--concurrency` bounds the reconciles that are doing something, and a slow AWS quota (one
 * CreateRestApi every 3 s) never keeps the others waiting for a slot: their calls go on, and the
 * busiest quota's queue stays full, which is the least time the quotas allow.
 */
export class ReconcileSlots {
  private busy = 0;
  private readonly queue: Array<() => void> = [];
  private readonly holders = new AsyncLocalStorage<Holder>();
  private waitingCount = 0;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new Error('slots: size must be at least 1');
  }

  /** Resolves once a slot is free, and takes it; pass it to `run`. */
  acquire(): Promise<void> {
    if (this.busy < this.size && this.queue.length === 0) {
      this.busy += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.queue.push(resolve));
  }

  /** Runs `work` in the slot just acquired, and frees the slot (or its loan) when it settles. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    const holder: Holder = { holds: true, ended: false };
    try {
      return await this.holders.run(holder, work);
    } finally {
      if (holder.holds) this.free();
      holder.holds = false;
      holder.ended = true;
    }
  }

  /**
   * Waits for `wait` without holding a slot, when called inside `run`; elsewhere it only waits.
   * Overlapping waits of one reconcile lend its slot once.
   */
  async whileWaiting<T>(wait: () => Promise<T>): Promise<T> {
    const holder = this.holders.getStore();
    if (!holder || holder.ended) return wait();
    this.waitingCount += 1;
    if (holder.holds) {
      holder.holds = false;
      this.free();
    }
    try {
      return await wait();
    } finally {
      this.waitingCount -= 1;
      if (!holder.holds && !holder.ended) {
        // Back to work at once: the slot is taken over the limit rather than waited for.
        holder.holds = true;
        this.busy += 1;
      }
    }
  }

  /** Gives back a slot acquired but not used. */
  release(): void {
    this.free();
  }

  /** Slots taken by reconciles at work (may exceed `size` for a while, see the class comment). */
  get working(): number {
    return this.busy;
  }

  /** Waits of reconciles that lent their slot. */
  get waiting(): number {
    return this.waitingCount;
  }

  private free(): void {
    this.busy -= 1;
    while (this.busy < this.size && this.queue.length > 0) {
      this.busy += 1;
      this.queue.shift()?.();
    }
  }
}
