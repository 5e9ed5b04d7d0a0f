import { AwsPacer } from '../../../src/aws/pacing.js';
import { KeyedMutex } from '../../../src/controller/shared-proxy.js';
import { ReconcileSlots } from '../../../src/controller/slots.js';
import { FakeClock, flush } from '../pacing/fake-clock.js';

/** A promise and the function that settles it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Takes a slot and runs `work` in it, as the controller does for each key. */
async function start<T>(slots: ReconcileSlots, work: () => Promise<T>): Promise<T> {
  await slots.acquire();
  return slots.run(work);
}

describe('ReconcileSlots', () => {
  it('runs at most `size` reconciles at once, the next one when one finishes', async () => {
    const slots = new ReconcileSlots(2);
    const gates = [gate(), gate(), gate()];
    const started: number[] = [];
    const runs = gates.map((g, i) =>
      start(slots, async () => {
        started.push(i);
        await g.promise;
      }),
    );
    await flush();
    expect(started).toEqual([0, 1]);
    expect(slots.working).toBe(2);
    gates[1]?.open();
    await flush();
    expect(started).toEqual([0, 1, 2]);
    gates[0]?.open();
    gates[2]?.open();
    await Promise.all(runs);
    expect(slots.working).toBe(0);
  });

  it('lends the slot of a reconcile that waits; back from the wait, it goes before new keys', async () => {
    const slots = new ReconcileSlots(1);
    const quota = gate();
    const second = gate();
    const order: string[] = [];
    const first = start(slots, async () => {
      order.push('first waits');
      await slots.whileWaiting(() => quota.promise);
      order.push('first goes on');
    });
    const secondRun = start(slots, async () => {
      order.push('second works');
      await second.promise;
      order.push('second done');
    });
    const third = start(slots, async () => {
      order.push('third works');
    });
    await flush();
    // The first lent its slot to the second; the third waits for one.
    expect(order).toEqual(['first waits', 'second works']);
    expect(slots.waiting).toBe(1);
    quota.open();
    await flush();
    // Its wait is over, but the only slot is the second's: never more than `size` at work.
    expect(order).toEqual(['first waits', 'second works']);
    expect(slots.working).toBe(1);
    second.open();
    await Promise.all([first, secondRun, third]);
    expect(order).toEqual([
      'first waits',
      'second works',
      'second done',
      'first goes on',
      'third works',
    ]);
    expect(slots.working).toBe(0);
    expect(slots.waiting).toBe(0);
  });

  it('starts no new key while `maxWaiting` reconciles wait', async () => {
    const slots = new ReconcileSlots(1, 1);
    const quota = gate();
    const order: string[] = [];
    const first = start(slots, async () => {
      await slots.whileWaiting(() => quota.promise);
      order.push('first');
    });
    const second = start(slots, async () => {
      order.push('second');
    });
    await flush();
    expect(order).toEqual([]);
    expect(slots.working).toBe(0);
    quota.open();
    await Promise.all([first, second]);
    expect(order).toEqual(['first', 'second']);
  });

  it('lends a slot once for overlapping waits of one reconcile', async () => {
    const slots = new ReconcileSlots(1);
    const a = gate();
    const b = gate();
    const run = start(slots, async () => {
      await Promise.all([slots.whileWaiting(() => a.promise), slots.whileWaiting(() => b.promise)]);
    });
    await flush();
    expect(slots.working).toBe(0);
    expect(slots.waiting).toBe(2);
    a.open();
    await flush();
    expect(slots.working).toBe(1);
    expect(slots.waiting).toBe(1);
    b.open();
    await run;
    expect(slots.working).toBe(0);
  });

  it('only waits when called outside a reconcile', async () => {
    const slots = new ReconcileSlots(1);
    await expect(slots.whileWaiting(() => Promise.resolve(7))).resolves.toBe(7);
    expect(slots.working).toBe(0);
    expect(slots.waiting).toBe(0);
  });

  it('frees the slot when the work fails', async () => {
    const slots = new ReconcileSlots(1);
    await expect(start(slots, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(slots.working).toBe(0);
    await expect(start(slots, () => Promise.resolve('next'))).resolves.toBe('next');
  });

  it('refuses a size below one', () => {
    expect(() => new ReconcileSlots(0)).toThrow(/at least 1/);
  });
});

describe('waits that lend the slot', () => {
  it('an AWS call waiting for a quota token lends it, one served at once does not', async () => {
    const clock = new FakeClock();
    const slots = new ReconcileSlots(1);
    const pacer = new AwsPacer(
      { 'apigateway:CreateRestApi': { ratePerSecond: 1 / 3, burst: 1 } },
      { clock, rateFactor: 1, whileWaiting: (wait) => slots.whileWaiting(wait) },
    );
    const order: string[] = [];
    const first = start(slots, async () => {
      await pacer.acquire('apigateway', 'CreateRestApi');
      order.push('first created');
      expect(slots.waiting).toBe(0);
      await pacer.acquire('apigateway', 'CreateRestApi');
      order.push('first created again');
    });
    const second = start(slots, async () => {
      order.push('second works');
    });
    await flush();
    // The first took the only token without waiting, then waits 3 s for the next: meanwhile
    // the second reconcile ran in its slot.
    expect(order).toEqual(['first created', 'second works']);
    await second;
    expect(slots.waiting).toBe(1);
    await clock.advance(3000);
    await first;
    expect(order).toEqual(['first created', 'second works', 'first created again']);
    expect(slots.working).toBe(0);
  });

  it('a reconcile waiting for another on the same shared proxy key lends it', async () => {
    const slots = new ReconcileSlots(1);
    const mutex = new KeyedMutex((wait) => slots.whileWaiting(wait));
    const creating = gate();
    const order: string[] = [];
    // The proxy is being created outside any slot (as if its reconcile waited on a quota).
    const creator = mutex.run('ns/key', () => creating.promise);
    const user = start(slots, () =>
      mutex.run('ns/key', async () => {
        order.push('user sees the proxy');
      }),
    );
    const other = start(slots, async () => {
      order.push('other works');
    });
    await other;
    expect(order).toEqual(['other works']);
    expect(slots.waiting).toBe(1);
    creating.open();
    await Promise.all([creator, user]);
    expect(order).toEqual(['other works', 'user sees the proxy']);
    expect(slots.working).toBe(0);
  });
});
