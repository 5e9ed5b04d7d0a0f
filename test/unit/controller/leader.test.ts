import { pino } from 'pino';
import {
  LeaderElector,
  type ElectionClock,
  type LeaseRecord,
  type LeaseStore,
} from '../../../src/controller/leader.js';

const timing = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };
const log = pino({ level: 'silent' });

/** A Lease in memory with resourceVersion checks, like the API server's optimistic locking. */
class MemoryLeaseStore implements LeaseStore {
  record?: LeaseRecord;
  version = 0;
  failing = false;
  async get() {
    if (this.failing) throw new Error('API server unreachable');
    return this.record ? { ...this.record } : undefined;
  }
  async create(record: LeaseRecord) {
    if (this.failing) throw new Error('API server unreachable');
    if (this.record) throw Object.assign(new Error('exists'), { code: 409 });
    this.record = { ...record, resourceVersion: String(++this.version) };
    return { ...this.record };
  }
  async update(record: LeaseRecord) {
    if (this.failing) throw new Error('API server unreachable');
    if (record.resourceVersion !== this.record?.resourceVersion) {
      throw Object.assign(new Error('conflict'), { code: 409 });
    }
    this.record = { ...record, resourceVersion: String(++this.version) };
    return { ...this.record };
  }
}

/** Time that moves only when told to; sleeping moves it, so loops run instantly. */
class SteppingClock implements ElectionClock {
  time = 0;
  now() {
    return this.time;
  }
  async sleep(ms: number) {
    this.time += ms;
  }
}

describe('LeaderElector', () => {
  it('takes a lease nobody holds', async () => {
    const store = new MemoryLeaseStore();
    const a = new LeaderElector(store, 'a', timing, log, new SteppingClock());
    expect(await a.tryAcquireOrRenew()).toBe(true);
    expect(store.record).toMatchObject({ holderIdentity: 'a', leaseDurationSeconds: 15 });
  });

  it('does not take over while the holder keeps renewing', async () => {
    const store = new MemoryLeaseStore();
    const clock = new SteppingClock();
    const a = new LeaderElector(store, 'a', timing, log, clock);
    const b = new LeaderElector(store, 'b', timing, log, clock);
    await a.tryAcquireOrRenew();
    for (let i = 0; i < 20; i++) {
      clock.time += 2_000;
      expect(await a.tryAcquireOrRenew()).toBe(true);
      expect(await b.tryAcquireOrRenew()).toBe(false);
    }
    expect(store.record?.holderIdentity).toBe('a');
  });

  it('takes over only after the record stayed unchanged for the lease duration by its own clock', async () => {
    const store = new MemoryLeaseStore();
    const clock = new SteppingClock();
    await new LeaderElector(store, 'a', timing, log, clock).tryAcquireOrRenew();
    const b = new LeaderElector(store, 'b', timing, log, clock);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    clock.time += 14_999;
    expect(await b.tryAcquireOrRenew()).toBe(false);
    clock.time += 1;
    expect(await b.tryAcquireOrRenew()).toBe(true);
    expect(store.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
  });

  it('stops leading within the renew deadline when it cannot renew, before anyone may take over', async () => {
    const store = new MemoryLeaseStore();
    const clock = new SteppingClock();
    const a = new LeaderElector(store, 'a', timing, log, clock);
    let startedAt = -1;
    let stoppedAt = -1;
    const running = a.run({
      onStartedLeading: () => {
        startedAt = clock.time;
        store.failing = true;
      },
      onStoppedLeading: () => (stoppedAt = clock.time),
    });
    await running;
    expect(startedAt).toBe(0);
    expect(stoppedAt).toBeGreaterThanOrEqual(timing.renewDeadlineMs);
    expect(stoppedAt).toBeLessThan(timing.leaseDurationMs);
    expect(a.isLeader()).toBe(false);
  });

  it('hands the lease over at once on release', async () => {
    const store = new MemoryLeaseStore();
    const clock = new SteppingClock();
    const a = new LeaderElector(store, 'a', timing, log, clock);
    const b = new LeaderElector(store, 'b', timing, log, clock);
    const running = a.run({ onStartedLeading: () => undefined, onStoppedLeading: () => undefined });
    await Promise.resolve();
    await a.release();
    await running;
    expect(store.record?.holderIdentity).toBe('');
    expect(await b.tryAcquireOrRenew()).toBe(true);
  });
});
