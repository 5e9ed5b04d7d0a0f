import type { Logger } from 'pino';

/**
 * Leader election on a coordination.k8s.io Lease, the way client-go does it, so several
 * replicas run safely: one reconciles, the others wait and take over within the lease duration
 * after the leader dies or stops renewing.
 *
 * Safety rests on three durations: a candidate takes a lease only when its record has not
 * changed for `leaseDurationMs` by the candidate's own clock (no clock comparison between
 * machines); the leader gives up when it has not renewed for `renewDeadlineMs`, which is shorter,
 * so it has stopped before anyone may take over; both retry every `retryPeriodMs`.
 */

/** What a Lease says, independent of the client library. */
export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds: number;
  acquireTime?: Date;
  renewTime?: Date;
  leaseTransitions: number;
  /** Opaque version for optimistic concurrency; an update with a stale one fails. */
  resourceVersion?: string;
}

/** Reads and writes one Lease. `update` must fail when `resourceVersion` is stale. */
export interface LeaseStore {
  get(): Promise<LeaseRecord | undefined>;
  create(record: LeaseRecord): Promise<LeaseRecord>;
  update(record: LeaseRecord): Promise<LeaseRecord>;
}

export interface ElectionTiming {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export interface ElectionClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: ElectionClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface LeadershipCallbacks {
  /** Called once this replica holds the lease. */
  onStartedLeading(): void;
  /** Called when the lease could not be renewed in time; reconciling must stop at once. */
  onStoppedLeading(): void;
}

export class LeaderElector {
  private observed?: LeaseRecord;
  private observedAt = 0;
  private leading = false;
  private stopped = false;

  constructor(
    private readonly store: LeaseStore,
    readonly identity: string,
    private readonly timing: ElectionTiming,
    private readonly log: Logger,
    private readonly clock: ElectionClock = realClock,
  ) {}

  isLeader(): boolean {
    return this.leading;
  }

  private loop?: Promise<void>;

  /** Campaigns until leading, then renews until stopped or the lease is lost. */
  run(callbacks: LeadershipCallbacks): Promise<void> {
    this.loop = this.campaign(callbacks);
    return this.loop;
  }

  private async campaign(callbacks: LeadershipCallbacks): Promise<void> {
    while (!this.stopped && !(await this.tryAcquireOrRenew())) {
      await this.clock.sleep(this.jittered(this.timing.retryPeriodMs));
    }
    if (this.stopped) return;
    this.leading = true;
    this.log.info({ identity: this.identity }, 'became leader');
    callbacks.onStartedLeading();

    let lastRenewed = this.clock.now();
    while (!this.stopped) {
      await this.clock.sleep(this.timing.retryPeriodMs);
      if (this.stopped) return;
      if (await this.tryAcquireOrRenew()) {
        lastRenewed = this.clock.now();
      } else if (this.clock.now() - lastRenewed >= this.timing.renewDeadlineMs) {
        this.leading = false;
        this.log.error({ identity: this.identity }, 'lost the lease; stopping reconciles');
        callbacks.onStoppedLeading();
        return;
      }
    }
  }

  /**
   * Stops campaigning and, when leading, hands the lease back (holder empty, one-second
   * duration) so another replica takes over at once instead of after the lease duration.
   */
  async release(): Promise<void> {
    this.stopped = true;
    await this.loop?.catch(() => undefined);
    this.leading = false;
    const current = await this.store.get().catch(() => undefined);
    if (!current || current.holderIdentity !== this.identity) return;
    await this.store
      .update({
        ...current,
        holderIdentity: '',
        leaseDurationSeconds: 1,
        renewTime: new Date(this.clock.now()),
      })
      .then(
        () => this.log.info({ identity: this.identity }, 'released the lease'),
        (err: unknown) => this.log.warn({ err }, 'could not release the lease'),
      );
  }

  /** One attempt; true when this replica holds the lease afterwards. Never throws. */
  async tryAcquireOrRenew(): Promise<boolean> {
    try {
      return await this.withTimeout(this.attempt(), this.timing.retryPeriodMs * 2);
    } catch (err) {
      this.log.debug({ err }, 'lease attempt failed');
      return false;
    }
  }

  private async attempt(): Promise<boolean> {
    const now = this.clock.now();
    const durationS = Math.ceil(this.timing.leaseDurationMs / 1000);
    const current = await this.store.get();
    if (!current) {
      await this.store.create({
        holderIdentity: this.identity,
        leaseDurationSeconds: durationS,
        acquireTime: new Date(now),
        renewTime: new Date(now),
        leaseTransitions: 0,
      });
      return true;
    }
    if (!this.observed || !sameRecord(this.observed, current)) {
      this.observed = current;
      this.observedAt = now;
    }
    const holder = current.holderIdentity ?? '';
    const heldByOther = holder !== '' && holder !== this.identity;
    const expiresAt = this.observedAt + current.leaseDurationSeconds * 1000;
    if (heldByOther && now < expiresAt) return false;

    const renewing = holder === this.identity;
    const updated = await this.store.update({
      ...current,
      holderIdentity: this.identity,
      leaseDurationSeconds: durationS,
      acquireTime: renewing ? current.acquireTime : new Date(now),
      renewTime: new Date(now),
      leaseTransitions: renewing ? current.leaseTransitions : current.leaseTransitions + 1,
    });
    this.observed = updated;
    this.observedAt = now;
    return true;
  }

  private jittered(ms: number): number {
    return ms + Math.floor(Math.random() * ms * 0.2);
  }

  /** Bounds one request by real time (not the injected clock): a hung call counts as failed. */
  private withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`lease request took over ${ms} ms`)), ms);
      timer.unref();
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }
}

function sameRecord(a: LeaseRecord, b: LeaseRecord): boolean {
  return (
    a.holderIdentity === b.holderIdentity &&
    a.renewTime?.getTime() === b.renewTime?.getTime() &&
    a.resourceVersion === b.resourceVersion
  );
}
