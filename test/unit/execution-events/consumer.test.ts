import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import type { Downloader } from '../../../src/api/downloader.js';
import type { ReceivedMessage } from '../../../src/aws/execution-events.js';
import {
  ExecutionEventConsumer,
  StateMachineIndex,
  type EventQueue,
  type EventResult,
  type ExecutionStatusFields,
  type ExecutionStatusWriter,
} from '../../../src/controller/execution-events.js';
import { ExecutionLedger } from '../../../src/controller/execution-status.js';
import type { EventRecorder } from '../../../src/kube/events.js';
import { downloader, eventBody, execution, LOCATION, SM } from './fixtures.js';

const log = pino({ level: 'silent' });
const NOW = new Date('2026-01-01T00:01:00Z');

/** A queue that hands out the batches pushed to it, and otherwise waits a little, empty. */
class FakeQueue implements EventQueue {
  readonly batches: ReceivedMessage[][] = [];
  readonly deleted: string[] = [];
  private next = 0;

  push(...bodies: string[]): string[] {
    const batch = bodies.map((body) => ({
      body,
      receiptHandle: `handle-${++this.next}`,
      receiveCount: 1,
    }));
    this.batches.push(batch);
    return batch.map((m) => m.receiptHandle);
  }

  async receive(signal?: AbortSignal): Promise<ReceivedMessage[]> {
    const batch = this.batches.shift();
    if (batch) return batch;
    await sleep(5, undefined, { signal });
    return [];
  }

  async delete(handles: readonly string[]): Promise<number> {
    this.deleted.push(...handles);
    return 0;
  }
}

/** An API server for one Downloader: resourceVersion checked like optimistic locking. */
class FakeWriter implements ExecutionStatusWriter {
  writes: ExecutionStatusFields[] = [];
  failWith?: unknown;
  constructor(public current: Downloader) {}

  async write(d: Downloader, fields: ExecutionStatusFields): Promise<void> {
    if (this.failWith) throw this.failWith;
    if (d.metadata.resourceVersion !== this.current.metadata.resourceVersion) {
      throw Object.assign(new Error('Conflict'), { code: 409 });
    }
    this.writes.push(structuredClone(fields));
    this.current = {
      ...this.current,
      metadata: {
        ...this.current.metadata,
        resourceVersion: String(Number(this.current.metadata.resourceVersion) + 1),
      },
      status: { ...this.current.status, ...structuredClone(fields) },
    };
  }

  async read(): Promise<Downloader> {
    return structuredClone(this.current);
  }
}

function setUp(initial: Downloader = downloader('eve', { resources: { stateMachineArn: SM } })) {
  const queue = new FakeQueue();
  const writer = new FakeWriter(structuredClone(initial));
  const index = new StateMachineIndex(LOCATION);
  index.set(initial);
  const cached = { value: initial };
  const recorded: Array<{ type: string; reason: string; message: string }> = [];
  const events: EventRecorder = {
    record: (_d, type, reason, message) => recorded.push({ type, reason, message }),
  };
  const consumed: Array<[string, EventResult]> = [];
  const lags: number[] = [];
  const seen: string[] = [];
  let ensureFails: unknown;
  const consumer = new ExecutionEventConsumer({
    infrastructure: {
      ensure: async () => {
        if (ensureFails) throw ensureFails;
        return { queueUrl: 'q', queueArn: 'arn:q', ruleName: 'r', ruleArn: 'arn:r' };
      },
    },
    openQueue: () => queue,
    index,
    cache: { get: (namespace, name) => (name === 'eve' ? cached.value : undefined) },
    writer,
    ledger: new ExecutionLedger(),
    events,
    log,
    now: () => NOW,
    metrics: {
      consumed: (status, result) => consumed.push([status, result]),
      lag: (seconds) => lags.push(seconds),
      active: () => {},
    },
    onExecutionSeen: (status) => seen.push(status),
    ensureIntervalMs: 60_000,
    retryDelayMs: () => 10,
  });
  return {
    queue,
    writer,
    cached,
    recorded,
    consumed,
    lags,
    seen,
    consumer,
    failEnsure: (err: unknown) => (ensureFails = err),
  };
}

async function until(what: string, probe: () => boolean): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (probe()) return;
    await sleep(5);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe(ExecutionEventConsumer.name, () => {
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stop?.();
    stop = undefined;
  });

  async function started(t: ReturnType<typeof setUp>) {
    await t.consumer.start();
    stop = () => t.consumer.stop();
    return t;
  }

  it('writes the final status of a batch once, then deletes its messages', async () => {
    const t = await started(setUp());
    const running = execution('e1', 'RUNNING', 0);
    const done = execution('e1', 'SUCCEEDED', 0);
    const handles = t.queue.push(eventBody(running), eventBody(done));
    await until('deleted', () => t.queue.deleted.length === 2);

    expect(t.queue.deleted).toEqual(handles);
    expect(t.writer.writes).toHaveLength(1);
    expect(t.writer.writes[0]).toMatchObject({
      lastExecution: done,
      lastSuccessTime: done.stopTime,
      conditions: [expect.objectContaining({ type: 'LastRunSucceeded', status: 'True' })],
    });
    expect(t.consumed).toEqual([
      ['RUNNING', 'applied'],
      ['SUCCEEDED', 'applied'],
    ]);
    expect(t.seen).toEqual(['SUCCEEDED']);
    expect(t.lags).toEqual([58]);
    expect(t.consumer.active()).toBe(true);
  });

  it('keeps the final status when RUNNING arrives after it, and an older execution out', async () => {
    const t = await started(setUp());
    t.queue.push(
      eventBody(execution('e2', 'SUCCEEDED', 60)),
      eventBody(execution('e2', 'RUNNING', 60)),
    );
    await until('first batch', () => t.queue.deleted.length === 2);
    t.cached.value = t.writer.current;
    t.queue.push(eventBody(execution('e1', 'FAILED', 0, { error: 'ApiGateway.500' })));
    await until('second batch', () => t.queue.deleted.length === 3);

    expect(t.writer.writes).toHaveLength(1);
    expect(t.writer.current.status?.lastExecution).toMatchObject({
      name: 'e2',
      status: 'SUCCEEDED',
    });
    expect(t.consumed).toEqual([
      ['SUCCEEDED', 'applied'],
      ['RUNNING', 'stale'],
      ['FAILED', 'stale'],
    ]);
    expect(t.recorded).toEqual([]);
  });

  it('reports a failed execution as LastRunSucceeded False with the classified reason and a Warning', async () => {
    const t = await started(setUp());
    const failed = execution('e3', 'FAILED', 0, {
      error: 'ApiGateway.503',
      cause: '{"error":"upstream down"}',
    });
    t.queue.push(eventBody(failed));
    await until('deleted', () => t.queue.deleted.length === 1);

    const condition = t.writer.writes[0]?.conditions?.find((c) => c.type === 'LastRunSucceeded');
    expect(condition).toMatchObject({ status: 'False', reason: 'SourceServerError' });
    expect(t.recorded).toEqual([
      {
        type: 'Warning',
        reason: 'SourceServerError',
        message: 'Execution e3 FAILED: ApiGateway.503: {"error":"upstream down"}',
      },
    ]);
  });

  it('ignores a duplicate delivered after the status was written', async () => {
    const t = await started(setUp());
    const body = eventBody(execution('e4', 'FAILED', 0, { error: 'States.Timeout' }));
    t.queue.push(body);
    await until('first', () => t.queue.deleted.length === 1);
    t.queue.push(body);
    await until('duplicate', () => t.queue.deleted.length === 2);
    expect(t.writer.writes).toHaveLength(1);
    expect(t.recorded).toHaveLength(1);
  });

  it('drops messages that are not events, and events of state machines of no Downloader', async () => {
    const t = await started(setUp());
    const other = 'arn:aws:states:eu-west-1:123456789012:stateMachine:dl-someone-else';
    t.queue.push('garbage', eventBody(execution('x', 'RUNNING', 0), other));
    await until('deleted', () => t.queue.deleted.length === 2);
    expect(t.writer.writes).toEqual([]);
    expect(t.consumed).toEqual([
      ['none', 'invalid'],
      ['RUNNING', 'unknown'],
    ]);
  });

  it('reads the Downloader again on a 409 and keeps what the other writer changed', async () => {
    const cachedCopy = downloader('eve', { resources: { stateMachineArn: SM } });
    const t = await started(setUp(cachedCopy));
    // Someone else wrote since the cache was filled: a newer resourceVersion and a condition.
    t.writer.current = {
      ...t.writer.current,
      metadata: { ...t.writer.current.metadata, resourceVersion: '101' },
      status: {
        ...t.writer.current.status,
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'Reconciled',
            message: 'ok',
            lastTransitionTime: '2026-01-01T00:00:00Z',
          },
        ],
      },
    };
    t.queue.push(eventBody(execution('e5', 'SUCCEEDED', 0)));
    await until('deleted', () => t.queue.deleted.length === 1);

    expect(t.writer.writes).toHaveLength(1);
    expect(t.writer.writes[0]?.conditions?.map((c) => c.type)).toEqual([
      'Ready',
      'LastRunSucceeded',
    ]);
  });

  it('leaves a message in the queue when its status cannot be written', async () => {
    const t = await started(setUp());
    t.writer.failWith = Object.assign(new Error('etcd down'), { code: 500 });
    t.queue.push(eventBody(execution('e6', 'SUCCEEDED', 0)));
    await until('failed', () => t.consumed.length === 1);
    await sleep(20);
    expect(t.consumed).toEqual([['SUCCEEDED', 'failed']]);
    expect(t.queue.deleted).toEqual([]);
  });

  it('is inactive while the queue and rule cannot be set up, and active once they are', async () => {
    const t = setUp();
    t.failEnsure(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    await started(t);
    expect(t.consumer.active()).toBe(false);
    t.failEnsure(undefined);
    await until('active', () => t.consumer.active());
    await t.consumer.stop();
    expect(t.consumer.active()).toBe(false);
  });
});
