import { WorkQueue, type QueueClock } from '../../../src/controller/queue.js';

/** A clock whose time moves only when the test says so. */
class FakeClock implements QueueClock {
  time = 0;
  private timers: Array<{ at: number; callback: () => void; cancelled: boolean }> = [];
  now(): number {
    return this.time;
  }
  setTimer(callback: () => void, delayMs: number) {
    const timer = { at: this.time + delayMs, callback, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  }
  advance(ms: number): void {
    this.time += ms;
    const due = this.timers.filter((t) => !t.cancelled && t.at <= this.time);
    this.timers = this.timers.filter((t) => !due.includes(t));
    due.forEach((t) => t.callback());
  }
}

const fixedBackoff = { baseDelayMs: 1_000, maxDelayMs: 60_000, random: () => 0.999 };

describe('WorkQueue', () => {
  it('hands out a key added several times while waiting only once', async () => {
    const queue = new WorkQueue(fixedBackoff, new FakeClock());
    queue.add('ns/a');
    queue.add('ns/a');
    queue.add('ns/b');
    expect(await queue.get()).toBe('ns/a');
    expect(await queue.get()).toBe('ns/b');
    expect(queue.stats().depth).toBe(0);
  });

  it('does not hand out a key in flight, and requeues it after done when added meanwhile', async () => {
    const queue = new WorkQueue(fixedBackoff, new FakeClock());
    queue.add('ns/a');
    const key = await queue.get();
    queue.add('ns/a');
    expect(queue.stats().depth).toBe(0);
    queue.done(key!);
    expect(await queue.get()).toBe('ns/a');
  });

  it('queues a delayed key when its time comes, keeping the earliest due time', async () => {
    const clock = new FakeClock();
    const queue = new WorkQueue(fixedBackoff, clock);
    queue.addAfter('ns/a', 5_000);
    queue.addAfter('ns/a', 10_000);
    clock.advance(4_999);
    expect(queue.stats().depth).toBe(0);
    clock.advance(1);
    expect(queue.stats()).toMatchObject({ depth: 1, delayed: 0 });
  });

  it('grows the backoff delay exponentially up to the cap and resets it on forget', () => {
    const queue = new WorkQueue(fixedBackoff, new FakeClock());
    const delays = Array.from({ length: 9 }, () => queue.addRateLimited('ns/a'));
    expect(delays.slice(0, 4)).toEqual([999, 1998, 3996, 7992]);
    expect(Math.max(...delays)).toBeLessThanOrEqual(60_000);
    expect(delays.at(-1)).toBe(59_940);
    queue.forget('ns/a');
    expect(queue.addRateLimited('ns/a')).toBe(999);
  });

  it('spreads retries with jitter but never below half the base delay', () => {
    const low = new WorkQueue({ ...fixedBackoff, random: () => 0 }, new FakeClock());
    expect(low.backoffDelay(5)).toBe(500);
    const mid = new WorkQueue({ ...fixedBackoff, random: () => 0.5 }, new FakeClock());
    expect(mid.backoffDelay(3)).toBe(4_000);
  });

  it('wakes a waiting worker when a key arrives, and releases it with undefined on shutdown', async () => {
    const queue = new WorkQueue(fixedBackoff, new FakeClock());
    const first = queue.get();
    queue.add('ns/a');
    expect(await first).toBe('ns/a');
    const second = queue.get();
    queue.shutDown();
    expect(await second).toBeUndefined();
  });
});
