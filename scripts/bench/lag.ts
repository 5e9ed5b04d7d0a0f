/**
 * The execution-lag phases: how long after an execution ends `status.lastExecution` shows it.
 */
import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { join } from 'node:path';
import { EXECUTION_STATUS_CHANGE } from '../../src/aws/execution-event.js';
import { OPTIONS } from '../../src/config.js';
import type { Cloud } from './cloud.js';
import { BenchKube, pool } from './kube.js';
import { startOperator, type RunningOperator } from './operator.js';
import {
  NAMESPACE,
  awsClientConfig,
  callsOf,
  operatorArgs,
  operatorEnv,
  sleep,
  waitReconciled,
  type BenchSettings,
} from './settings.js';

/** Lag from the end of an execution to status.lastExecution showing it. */
export interface LagResult {
  /**
   * Where execution status came from: EventBridge events through SQS, or polling; with
   * synthetic events, the executions were not run (see syntheticLagPhase).
   */
  source?: 'events' | 'polling' | 'synthetic-events';
  pollSeconds: number;
  windowSeconds: number;
  /** Executions that ended at least 30 s before the window closed. */
  executions: number;
  /** Of those, shown on the resource within 30 s of their end. */
  within30s: number;
  /** Of those, never shown before the window closed (their lag is over 30 s). */
  notShown: number;
  p50Seconds?: number;
  p95Seconds?: number;
  maxSeconds?: number;
  /** AWS calls per second the operator made while polling. */
  callsPerSecond: number;
}

/**
 * Un-suspends every schedule (rate(1 minute): moto fires at once, then every minute), runs the
 * operator with a short --execution-poll-interval for the window, and compares each execution's
 * stopDate (DescribeExecution) with when the resource first showed it finished.
 */
export async function lagPhase(
  s: BenchSettings,
  kube: BenchKube,
  cloud: Cloud,
  n: number,
  ops: RunningOperator[],
): Promise<LagResult> {
  s.log(`N=${n}: execution lag, polling every ${s.pollSeconds} s for ${s.lagWindowSeconds} s`);
  const op = await startOperator(
    s.main,
    operatorArgs(s, [
      '--aws-rate-limits',
      'off',
      '--execution-poll-interval',
      String(s.pollSeconds),
    ]),
    operatorEnv(cloud),
    join(s.workDir, 'operator-lag.log'),
  );
  ops.push(op);
  await op.logged('starting workers');
  await waitReconciled(op, n, Math.max(600_000, n * 2_000));
  const names = [...kube.observed.keys()];
  await kube.setSuspend(NAMESPACE, names, false);
  // The window starts once every schedule runs: the burst of updates is not steady state.
  await kube.waitAllReadyAt(2, n, Math.max(600_000, n * 2_000));
  s.log(`N=${n}: every schedule runs; watching executions`);
  const start = Date.now();
  const callsBefore = callsOf(await op.metrics());
  await sleep(s.lagWindowSeconds * 1000);
  const end = Date.now();
  const callsAfter = callsOf(await op.metrics());
  await op.stop();

  const sfn = new SFNClient(awsClientConfig(cloud));
  const lags: number[] = [];
  let executions = 0;
  let notShown = 0;
  await pool([...kube.observed.values()], 8, async (o) => {
    if (!o.stateMachineArn) return;
    const listed = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: o.stateMachineArn, maxResults: 100 }),
    );
    for (const item of listed.executions ?? []) {
      if (!item.executionArn) continue;
      const described = await sfn.send(
        new DescribeExecutionCommand({ executionArn: item.executionArn }),
      );
      const stop = described.stopDate?.getTime();
      if (stop === undefined || stop < start || stop > end - 30_000) continue;
      executions++;
      const shown = o.executionsShown.get(described.name ?? '');
      if (shown === undefined) notShown++;
      else lags.push((shown - stop) / 1000);
    }
  });
  sfn.destroy();
  const events = (s.executionEvents ?? OPTIONS.executionEvents.default) === 'true';
  return summarise(lags, {
    source: events ? 'events' : 'polling',
    pollSeconds: s.pollSeconds,
    windowSeconds: s.lagWindowSeconds,
    executions,
    notShown,
    callsPerSecond: (total(callsAfter) - total(callsBefore)) / ((end - start) / 1000),
  });
}

/** How long a synthetic execution runs: from its RUNNING event to its SUCCEEDED event. */
const SYNTHETIC_RUN_MS = 2_000;
/** PutEvents takes at most 10 entries. */
const PUT_EVENTS_MAX = 10;

/** One status-change event the driver puts at `dueAt` (ms since the epoch). */
interface DueEvent {
  dueAt: number;
  stateMachineArn: string;
  name: string;
  startDate: number;
  final: boolean;
}

/** The PutEvents entry Step Functions' own event for this status amounts to; `now` is its time. */
function statusChangeEntry(e: DueEvent, now: number): PutEventsRequestEntry {
  const executionArn = `${e.stateMachineArn.replace(':stateMachine:', ':execution:')}:${e.name}`;
  return {
    Source: EXECUTION_STATUS_CHANGE.source,
    DetailType: EXECUTION_STATUS_CHANGE.detailType,
    Resources: [executionArn],
    Detail: JSON.stringify({
      executionArn,
      stateMachineArn: e.stateMachineArn,
      name: e.name,
      status: e.final ? 'SUCCEEDED' : 'RUNNING',
      startDate: e.startDate,
      stopDate: e.final ? now : null,
      input: '{}',
      output: e.final ? '{}' : null,
      inputDetails: { included: true },
      outputDetails: e.final ? { included: true } : null,
      error: null,
      cause: null,
    }),
  };
}

/**
 * The execution lag at a scale the local AWS cannot run (1000 executions a minute): every
 * Downloader's state machine "runs" once a minute, as `rate(1 minute)` spreads them, but no
 * execution is run. Its two status-change events (RUNNING, then SUCCEEDED 2 s later) are put on
 * the default EventBridge bus with Step Functions' source and detail, from where the operator's
 * own rule delivers them to its queue, exactly as for a real execution. An execution's end is
 * the moment its final event was put. So the operator's whole part is measured (its queue
 * consumer, the Downloader lookup, the status writes to the API server), and Step Functions'
 * part (running the executions, emitting the events) is not.
 */
export async function syntheticLagPhase(
  s: BenchSettings,
  kube: BenchKube,
  cloud: Cloud,
  n: number,
  ops: RunningOperator[],
): Promise<LagResult> {
  if (s.executionEvents === 'false') {
    throw new Error('--lag-mode synthetic needs execution events (--execution-events true)');
  }
  s.log(
    `N=${n}: synthetic execution lag, status events for ${n} a minute, ${s.lagWindowSeconds} s`,
  );
  const op = await startOperator(
    s.main,
    operatorArgs(s, ['--aws-rate-limits', 'off']),
    operatorEnv(cloud),
    join(s.workDir, 'operator-lag-synthetic.log'),
  );
  ops.push(op);
  await op.logged('starting workers');
  await waitReconciled(op, n, Math.max(600_000, n * 2_000));

  const machines = [...kube.observed.values()]
    .map((o) => o.stateMachineArn)
    .filter((arn): arn is string => arn !== undefined);
  const start = Date.now() + 1_000;
  const end = start + s.lagWindowSeconds * 1000;
  const due: DueEvent[] = [];
  machines.forEach((stateMachineArn, i) => {
    for (let at = start + (i / machines.length) * 60_000; at < end; at += 60_000) {
      const name = `synthetic-${i}-${Math.round(at)}`;
      const first = { stateMachineArn, name, startDate: Math.round(at) };
      due.push({ ...first, dueAt: at, final: false });
      due.push({ ...first, dueAt: at + SYNTHETIC_RUN_MS, final: true });
    }
  });
  due.sort((a, b) => a.dueAt - b.dueAt);

  const events = new EventBridgeClient(awsClientConfig(cloud));
  const stops = new Map<string, number>();
  let failedEntries = 0;
  const callsBefore = callsOf(await op.metrics());
  let next = 0;
  while (next < due.length) {
    const batch: DueEvent[] = [];
    while (
      next < due.length &&
      batch.length < PUT_EVENTS_MAX &&
      (due[next]?.dueAt ?? 0) <= Date.now()
    ) {
      batch.push(due[next++] as DueEvent);
    }
    if (batch.length === 0) {
      await sleep(Math.max(5, Math.min(200, (due[next]?.dueAt ?? 0) - Date.now())));
      continue;
    }
    const now = Date.now();
    const answer = await events.send(
      new PutEventsCommand({ Entries: batch.map((e) => statusChangeEntry(e, now)) }),
    );
    failedEntries += answer.FailedEntryCount ?? 0;
    for (const e of batch) if (e.final) stops.set(e.name, now);
  }
  events.destroy();
  await sleep(Math.max(0, end - Date.now()));
  const callsAfter = callsOf(await op.metrics());
  await op.stop();
  if (failedEntries > 0) s.log(`N=${n}: ${failedEntries} synthetic events were refused`);

  const shownAt = new Map<string, number>();
  for (const o of kube.observed.values()) {
    for (const [name, at] of o.executionsShown) shownAt.set(name, at);
  }
  const lags: number[] = [];
  let executions = 0;
  let notShown = 0;
  for (const [name, stop] of stops) {
    if (stop > end - 30_000) continue;
    executions++;
    const shown = shownAt.get(name);
    if (shown === undefined) notShown++;
    else lags.push((shown - stop) / 1000);
  }
  return summarise(lags, {
    source: 'synthetic-events',
    pollSeconds: s.pollSeconds,
    windowSeconds: s.lagWindowSeconds,
    executions,
    notShown,
    callsPerSecond: (total(callsAfter) - total(callsBefore)) / ((end - start) / 1000),
  });
}

const total = (calls: Record<string, number>) => Object.values(calls).reduce((a, b) => a + b, 0);

/** A LagResult from the lags (seconds) of the executions shown, and the counts. */
function summarise(
  lags: number[],
  counts: Omit<LagResult, 'within30s' | 'p50Seconds' | 'p95Seconds' | 'maxSeconds'>,
): LagResult {
  lags.sort((a, b) => a - b);
  const at = (q: number) => lags[Math.min(lags.length - 1, Math.floor(q * lags.length))];
  return {
    ...counts,
    within30s: lags.filter((l) => l <= 30).length,
    ...(lags.length > 0
      ? { p50Seconds: at(0.5), p95Seconds: at(0.95), maxSeconds: lags.at(-1) }
      : {}),
  };
}
