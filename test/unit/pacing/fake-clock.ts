import type { PacingClock } from '../../../src/aws/pacing.js';

/** A clock whose time moves only when the test says so, firing timers in time order. */
export class FakeClock implements PacingClock {
  time = 0;
  private timers: Array<{ at: number; seq: number; callback: () => void; cancelled: boolean }> = [];
  private seq = 0;

  now(): number {
    return this.time;
  }

  setTimer(callback: () => void, delayMs: number) {
    const timer = { at: this.time + delayMs, seq: this.seq++, callback, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  }

  /**
   * Moves time forward by `ms`, firing each due timer at its own time and letting the promises
   * it settles run before the next one, as the event loop would.
   */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      await flush();
      const due = this.timers
        .filter((t) => !t.cancelled && t.at <= end)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time = Math.max(this.time, due.at);
      due.callback();
    }
    this.time = end;
    await flush();
  }
}

/** Lets every pending promise callback run. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
