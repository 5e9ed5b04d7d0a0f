import type { DownloaderStatus } from '../../../src/api/downloader-status.js';
import {
  applyExecution,
  executionPatch,
  ExecutionLedger,
  supersedes,
} from '../../../src/controller/execution-status.js';
import { execution } from './fixtures.js';

const stamp = { generation: 3, now: new Date('2026-01-01T01:00:00Z') };
const lastRun = (status: DownloaderStatus) =>
  status.conditions?.find((c) => c.type === 'LastRunSucceeded');

describe(supersedes.name, () => {
  it('lets a later execution replace an earlier one, and never the reverse', () => {
    expect(supersedes(execution('a', 'SUCCEEDED', 0), execution('b', 'RUNNING', 60))).toBe(true);
    expect(supersedes(execution('b', 'RUNNING', 60), execution('a', 'SUCCEEDED', 0))).toBe(false);
  });

  it('lets a final status replace RUNNING of the same execution, and never the reverse', () => {
    expect(supersedes(execution('a', 'RUNNING', 0), execution('a', 'FAILED', 0))).toBe(true);
    expect(supersedes(execution('a', 'FAILED', 0), execution('a', 'RUNNING', 0))).toBe(false);
  });

  it('ignores a duplicate of the same status', () => {
    expect(supersedes(execution('a', 'SUCCEEDED', 0), execution('a', 'SUCCEEDED', 0))).toBe(false);
  });

  it('lets a redriven execution end a second time, later', () => {
    const failed = execution('a', 'FAILED', 0);
    const redriven = execution('a', 'SUCCEEDED', 0, { stopTime: '2026-01-01T00:10:00.000Z' });
    expect(supersedes(failed, redriven)).toBe(true);
    expect(supersedes(redriven, failed)).toBe(false);
  });

  it('breaks a tie of start times by name, the same way in both directions', () => {
    expect(supersedes(execution('a', 'RUNNING', 0), execution('b', 'RUNNING', 0))).toBe(true);
    expect(supersedes(execution('b', 'RUNNING', 0), execution('a', 'RUNNING', 0))).toBe(false);
  });

  it('tells executions apart by name when an ARN is missing', () => {
    const polled = { ...execution('a', 'RUNNING', 0), arn: undefined };
    expect(supersedes(polled, execution('a', 'SUCCEEDED', 0))).toBe(true);
  });
});

describe(applyExecution.name, () => {
  it('sets lastExecution, lastSuccessTime and LastRunSucceeded True on a success', () => {
    const status: DownloaderStatus = {};
    const ok = execution('a', 'SUCCEEDED', 0);
    expect(applyExecution(status, ok, stamp)).toEqual({ changed: true, finished: true });
    expect(status.lastExecution).toEqual(ok);
    expect(status.lastSuccessTime).toBe(ok.stopTime);
    expect(lastRun(status)).toMatchObject({
      status: 'True',
      reason: 'Succeeded',
      observedGeneration: 3,
    });
  });

  it('classifies a failure into LastRunSucceeded False and keeps the last success', () => {
    const status: DownloaderStatus = { lastSuccessTime: '2025-12-31T00:00:00.000Z' };
    const failed = execution('b', 'FAILED', 60, { error: 'ApiGateway.401', cause: '{"e":1}' });
    const applied = applyExecution(status, failed, stamp);
    expect(applied).toEqual({
      changed: true,
      finished: true,
      failure: {
        reason: 'SourceUnauthorized',
        message: 'Execution b FAILED: ApiGateway.401: {"e":1}',
      },
    });
    expect(lastRun(status)).toMatchObject({ status: 'False', reason: 'SourceUnauthorized' });
    expect(status.lastSuccessTime).toBe('2025-12-31T00:00:00.000Z');
  });

  it('classifies TIMED_OUT and ABORTED, which carry no error name', () => {
    expect(applyExecution({}, execution('t', 'TIMED_OUT', 0), stamp).failure?.reason).toBe(
      'TimedOut',
    );
    expect(applyExecution({}, execution('s', 'ABORTED', 0), stamp).failure?.reason).toBe(
      'ExecutionAborted',
    );
  });

  it('records RUNNING without touching the condition the previous run left', () => {
    const status: DownloaderStatus = {};
    applyExecution(status, execution('a', 'FAILED', 0, { error: 'States.Timeout' }), stamp);
    const before = lastRun(status);
    expect(applyExecution(status, execution('b', 'RUNNING', 60), stamp)).toEqual({
      changed: true,
      finished: false,
    });
    expect(status.lastExecution?.name).toBe('b');
    expect(lastRun(status)).toEqual(before);
  });

  it('changes nothing for an older execution or a late RUNNING of a finished one', () => {
    const status: DownloaderStatus = {};
    applyExecution(status, execution('b', 'SUCCEEDED', 60), stamp);
    const snapshot = structuredClone(status);
    expect(applyExecution(status, execution('a', 'FAILED', 0), stamp).changed).toBe(false);
    expect(applyExecution(status, execution('b', 'RUNNING', 60), stamp).changed).toBe(false);
    expect(status).toEqual(snapshot);
  });
});

describe(executionPatch.name, () => {
  it('sends absent optional fields as null, so a merge patch removes an old error and cause', () => {
    expect(executionPatch(execution('a', 'RUNNING', 0))).toMatchObject({
      name: 'a',
      stopTime: null,
      error: null,
      cause: null,
    });
  });
});

describe(ExecutionLedger.name, () => {
  it('runs work of one key one at a time, in order, and of different keys at once', async () => {
    const ledger = new ExecutionLedger();
    const order: string[] = [];
    let releaseFirst: () => void = () => {};
    const first = ledger.serialize('ns/a', async () => {
      order.push('a1 start');
      await new Promise<void>((resolve) => (releaseFirst = resolve));
      order.push('a1 end');
    });
    const second = ledger.serialize('ns/a', async () => {
      order.push('a2');
    });
    const other = ledger.serialize('ns/b', async () => {
      order.push('b');
    });
    await other;
    expect(order).toEqual(['a1 start', 'b']);
    releaseFirst();
    await Promise.all([first, second]);
    expect(order).toEqual(['a1 start', 'b', 'a1 end', 'a2']);
  });

  it('keeps serializing after a failed piece of work', async () => {
    const ledger = new ExecutionLedger();
    await expect(
      ledger.serialize('ns/a', async () => {
        throw new Error('write failed');
      }),
    ).rejects.toThrow('write failed');
    await expect(ledger.serialize('ns/a', async () => 'next')).resolves.toBe('next');
  });

  it('brings a stale snapshot up to what was written, and never back', () => {
    const ledger = new ExecutionLedger();
    const written: DownloaderStatus = {};
    applyExecution(written, execution('b', 'SUCCEEDED', 60), stamp);
    ledger.remember('ns/a', written);

    const stale: DownloaderStatus = {};
    applyExecution(stale, execution('a', 'FAILED', 0, { error: 'ApiGateway.500' }), stamp);
    expect(ledger.catchUp('ns/a', stale, stamp)).toBe(true);
    expect(stale.lastExecution?.name).toBe('b');
    expect(lastRun(stale)?.status).toBe('True');
    expect(stale.lastSuccessTime).toBe(written.lastSuccessTime);

    const newer: DownloaderStatus = {};
    applyExecution(newer, execution('c', 'RUNNING', 120), stamp);
    expect(ledger.catchUp('ns/a', newer, stamp)).toBe(true);
    expect(newer.lastExecution?.name).toBe('c');
    expect(newer.lastSuccessTime).toBe(written.lastSuccessTime);

    ledger.forget('ns/a');
    expect(ledger.catchUp('ns/a', {}, stamp)).toBe(false);
  });
});
