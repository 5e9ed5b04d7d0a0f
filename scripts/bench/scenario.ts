import { join } from 'node:path';
import type { Downloader } from '../../src/api/downloader.js';
import { startCloud, startLocalAws, type Cloud } from './cloud.js';
import { runFloor, type FloorResult } from './floor.js';
import { startSourceHosts } from './hosts.js';
import { BenchKube, benchDownloader } from './kube.js';
import { lagPhase, syntheticLagPhase, type LagResult } from './lag.js';
import { startOperator, type RunningOperator } from './operator.js';
import { diff, sum, type Sample } from './prom.js';
import { QuotaProxy, quotaMinimum } from './quota-proxy.js';
import {
  NAMESPACE,
  callsOf,
  loadavg,
  operatorArgs,
  operatorEnv,
  sleep,
  waitReconciled,
  type BenchSettings,
  type Calls,
} from './settings.js';

export type { BenchSettings, Calls, LagResult };

/** What one phase of the operator cost, counted from when its workers started. */
export interface PhaseCost {
  seconds: number;
  /** From the process start to its workers starting (AWS context, caches synced). */
  startupSeconds: number;
  /** AWS calls until the operator went quiet (every reconcile the phase caused finished). */
  calls: Calls;
  reconciles: number;
  cpuSeconds: number;
  startupCpuSeconds: number;
  peakRssMiB: number;
  /** V8 heap used and allocated at the end of the phase (the rest of RSS is code, buffers...). */
  heapUsedMiB: number;
  heapTotalMiB: number;
  /** Requests of the operator's resources (downloaders, events, secrets), by verb:resource. */
  apiserver: Record<string, number>;
  /** Top-level status fields that changed during the phase, as watch events showed. */
  statusFieldChanges: Record<string, number>;
}

/** Everything measured for one N without quotas. */
export interface ScaleResult {
  n: number;
  concurrency: number;
  create: PhaseCost;
  floorSequential: FloorSummary;
  floorParallel: FloorSummary;
  /** One periodic resync of a warm operator (every Downloader reconciled a second time). */
  steady: PhaseCost;
  /** The first reconcile of every Downloader after a restart (caches cold). */
  restart?: PhaseCost;
  /** The --resync-interval of the periodic resync, seconds. */
  resyncIntervalSeconds?: number;
  lag?: LagResult;
  peakRssMiB: number;
  load: { before: number[]; after: number[] };
}

export interface FloorSummary {
  concurrency: number;
  seconds: number;
  /** Operations whose call counts differ from the operator's creation (should be none). */
  differences: string[];
  calls: Calls;
}

/** Everything measured for one N under the quotas. */
export interface QuotaResult {
  n: number;
  concurrency: number;
  seconds: number;
  minimumSeconds: number;
  bindingBucket: string;
  throttledSeen: number;
  throttledAnswered: number;
  pacingWaitSeconds: number;
  calls: Calls;
  load: { before: number[]; after: number[] };
}

const READ = /^(Get|List|Describe|Receive)/;

/** Whether an operation only reads (receiving a queue's messages counts as reading). */
export function isRead(key: string): boolean {
  return READ.test(key.slice(key.indexOf(':') + 1));
}

/** Services of the AWS resources a Downloader owns; others serve the whole operator. */
export const RESOURCE_SERVICES = ['apigateway', 'dynamodb', 'iam', 'scheduler', 'states'];

/** Whether a call is about a Downloader's own resources, not the operator-wide event queue. */
export function isResourceCall(key: string): boolean {
  return RESOURCE_SERVICES.includes(key.slice(0, key.indexOf(':')));
}

function record(map: Map<string, number>): Record<string, number> {
  return Object.fromEntries(map);
}

/**
 * Waits until the operator is quiet: no reconcile finished and no AWS call made for two polls a
 * second apart, and nothing queued. A key changed while it was being reconciled (its own
 * finalizer, for one) is reconciled again at once; this waits for that too.
 */
async function quiet(op: RunningOperator, timeoutMs: number): Promise<Sample[]> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  let same = 0;
  for (;;) {
    const m = await op.metrics();
    const now = `${sum(m, 'downloader_reconcile_total')}/${sum(m, 'downloader_aws_calls_total')}`;
    same = now === last && sum(m, 'downloader_queue_depth') === 0 ? same + 1 : 0;
    last = now;
    if (same >= 2) return m;
    if (Date.now() > deadline) throw new Error(`the operator did not go quiet in ${timeoutMs} ms`);
    await sleep(1_000);
  }
}

/** What a phase's cost is counted from. */
interface Baseline {
  calls: Calls;
  cpuSeconds: number;
  reconciles: number;
  apiserver: Map<string, number>;
  statusFieldChanges: Map<string, number>;
}

/** Waits for quiet once `end` has come, and reads what the phase cost since `base`. */
async function costSince(
  op: RunningOperator,
  kube: BenchKube,
  base: Baseline,
  timing: Pick<PhaseCost, 'seconds' | 'startupSeconds' | 'startupCpuSeconds'>,
): Promise<{ cost: PhaseCost; samples: Sample[] }> {
  const samples = await quiet(op, 600_000);
  const stats = op.stats();
  const after = await kube.apiserverRequests();
  return {
    samples,
    cost: {
      ...timing,
      calls: record(
        diff(new Map(Object.entries(callsOf(samples))), new Map(Object.entries(base.calls))),
      ),
      reconciles: sum(samples, 'downloader_reconcile_total') - base.reconciles,
      cpuSeconds: (stats?.cpuSeconds ?? 0) - base.cpuSeconds,
      peakRssMiB: stats?.peakRssMiB ?? 0,
      heapUsedMiB: sum(samples, 'downloader_operator_nodejs_heap_size_used_bytes') / 2 ** 20,
      heapTotalMiB: sum(samples, 'downloader_operator_nodejs_heap_size_total_bytes') / 2 ** 20,
      apiserver: record(diff(after, base.apiserver)),
      statusFieldChanges: record(diff(kube.statusFieldChanges, base.statusFieldChanges)),
    },
  };
}

/** One phase: start the operator, wait for `done` and for quiet, then read what it cost. */
async function phase(
  s: BenchSettings,
  kube: BenchKube,
  cloud: Cloud,
  name: string,
  args: string[],
  done: (op: RunningOperator) => Promise<number>,
  extraEnv: Record<string, string> = {},
): Promise<{ cost: PhaseCost; op: RunningOperator; samples: Sample[] }> {
  const apiserver = await kube.apiserverRequests();
  const statusFieldChanges = new Map(kube.statusFieldChanges);
  const op = await startOperator(
    s.main,
    args,
    operatorEnv(cloud, extraEnv),
    join(s.workDir, `operator-${name}.log`),
  );
  const workersAt = await op.logged('starting workers');
  const base: Baseline = {
    calls: callsOf(await op.metrics()),
    cpuSeconds: op.stats()?.cpuSeconds ?? 0,
    reconciles: 0,
    apiserver,
    statusFieldChanges,
  };
  const end = await done(op);
  const { cost, samples } = await costSince(op, kube, base, {
    seconds: (end - workersAt) / 1000,
    startupSeconds: (workersAt - op.startedAt) / 1000,
    startupCpuSeconds: base.cpuSeconds,
  });
  return { op, samples, cost };
}

/**
 * One periodic resync: the operator started with `--resync-interval intervalSeconds` reconciles
 * every Downloader (caches cold), goes quiet, and reconciles each again once the interval has
 * passed; what the second round cost is the steady state.
 */
async function periodicResync(
  s: BenchSettings,
  kube: BenchKube,
  cloud: Cloud,
  n: number,
  intervalSeconds: number,
): Promise<{ cost: PhaseCost; op: RunningOperator }> {
  const op = await startOperator(
    s.main,
    operatorArgs(s, ['--aws-rate-limits', 'off'], intervalSeconds),
    operatorEnv(cloud, {}),
    join(s.workDir, 'operator-periodic.log'),
  );
  await op.logged('starting workers');
  await waitReconciled(op, n, Math.max(600_000, n * 2_000));
  const first = await quiet(op, 600_000);
  const base: Baseline = {
    calls: callsOf(first),
    cpuSeconds: op.stats()?.cpuSeconds ?? 0,
    reconciles: sum(first, 'downloader_reconcile_total'),
    apiserver: await kube.apiserverRequests(),
    statusFieldChanges: new Map(kube.statusFieldChanges),
  };
  const quietAt = Date.now();
  // The round starts when the first key comes due; count from the first reconcile after quiet.
  let startedAt = 0;
  const deadline = Date.now() + intervalSeconds * 1000 + Math.max(600_000, n * 2_000);
  for (;;) {
    const m = await op.metrics();
    const done = sum(m, 'downloader_reconcile_total');
    if (!startedAt && done > base.reconciles) startedAt = Date.now();
    if (done >= base.reconciles + n && sum(m, 'downloader_queue_depth') === 0) break;
    if (Date.now() > deadline) throw new Error('the periodic resync did not reconcile every key');
    await sleep(500);
  }
  const { cost } = await costSince(op, kube, base, {
    seconds: (Date.now() - (startedAt || quietAt)) / 1000,
    startupSeconds: 0,
    startupCpuSeconds: 0,
  });
  return { op, cost };
}

async function floor(
  s: BenchSettings,
  downloaders: Downloader[],
  concurrency: number,
  operatorCalls: Calls,
  dir: string,
): Promise<FloorSummary> {
  const aws = await startLocalAws(join(s.workDir, dir));
  try {
    s.log(`floor: ${downloaders.length} Downloaders, ${concurrency} at a time`);
    const result: FloorResult = await runFloor(downloaders, concurrency, aws.env, NAMESPACE);
    const calls = record(result.calls);
    const keys = new Set([...Object.keys(calls), ...Object.keys(operatorCalls)]);
    const differences = [...keys]
      .filter((k) => (calls[k] ?? 0) !== (operatorCalls[k] ?? 0))
      .map((k) => `${k}: operator ${operatorCalls[k] ?? 0}, floor ${calls[k] ?? 0}`);
    return { concurrency, seconds: result.seconds, differences, calls };
  } finally {
    await aws.stop();
  }
}

/** Creation, floors, one resync and the execution lag for `n` Downloaders, without quotas. */
export async function runScale(s: BenchSettings, n: number): Promise<ScaleResult> {
  const load = { before: await loadavg(), after: [] as number[] };
  s.log(`N=${n}: starting a local cloud`);
  const cloud = await startCloud(join(s.workDir, 'cloud'));
  const hosts = await startSourceHosts(cloud.env.UPSTREAM_URL ?? '');
  const kube = new BenchKube(cloud.env.KUBECONFIG ?? '', cloud.env);
  const ops: RunningOperator[] = [];
  try {
    const downloaders = Array.from({ length: n }, (_, i) =>
      benchDownloader(i, hosts.urls, { suspend: true }),
    );
    await kube.createNamespace(NAMESPACE);
    await kube.watch(NAMESPACE);
    s.log(`N=${n}: creating ${n} Downloaders (schedules suspended)`);
    await kube.create(NAMESPACE, downloaders);

    s.log(`N=${n}: operator from nothing to all Ready`);
    const create = await phase(
      s,
      kube,
      cloud,
      'create',
      operatorArgs(s, ['--aws-rate-limits', 'off']),
      () => kube.waitAllReady(n, Math.max(600_000, n * 5_000)),
    );
    ops.push(create.op);
    await create.op.stop();
    s.log(`N=${n}: all Ready after ${create.cost.seconds.toFixed(1)} s`);

    s.log(`N=${n}: after a restart (every Downloader reconciled once, caches cold)`);
    const restart = await phase(
      s,
      kube,
      cloud,
      'resync',
      operatorArgs(s, ['--aws-rate-limits', 'off']),
      async (op) => {
        await waitReconciled(op, n, Math.max(600_000, n * 2_000));
        return Date.now();
      },
    );
    ops.push(restart.op);
    await restart.op.stop();

    // The interval leaves the first round (as long as the restart's) time to finish and the
    // operator time to go quiet before the second round starts.
    const resyncIntervalSeconds = Math.max(60, Math.ceil(restart.cost.seconds * 1.5) + 15);
    s.log(
      `N=${n}: one periodic resync (warm operator, --resync-interval ${resyncIntervalSeconds})`,
    );
    const steady = await periodicResync(s, kube, cloud, n, resyncIntervalSeconds);
    ops.push(steady.op);
    await steady.op.stop();

    let lag: LagResult | undefined;
    if (s.lagWindowSeconds > 0) {
      lag =
        s.lagMode === 'synthetic'
          ? await syntheticLagPhase(s, kube, cloud, n, ops)
          : await lagPhase(s, kube, cloud, n, ops);
    }

    const floorSequential = await floor(s, downloaders, 1, create.cost.calls, 'floor-1');
    const floorParallel = await floor(
      s,
      downloaders,
      s.concurrency,
      create.cost.calls,
      `floor-${s.concurrency}`,
    );
    load.after = await loadavg();
    return {
      n,
      concurrency: s.concurrency,
      create: create.cost,
      floorSequential,
      floorParallel,
      steady: steady.cost,
      restart: restart.cost,
      resyncIntervalSeconds,
      ...(lag ? { lag } : {}),
      peakRssMiB: Math.max(...ops.map((op) => op.peakRssMiB())),
      load,
    };
  } finally {
    kube.stopWatch();
    for (const op of ops) await op.stop();
    await hosts.close();
    await cloud.stop();
  }
}

/** Creation of `n` Downloaders with pacing at the quotas, behind a quota-enforcing proxy. */
export async function runQuota(s: BenchSettings, n: number): Promise<QuotaResult> {
  const load = { before: await loadavg(), after: [] as number[] };
  s.log(`quota N=${n}: starting a local cloud and the quota proxy`);
  const cloud = await startCloud(join(s.workDir, 'cloud-quota'));
  const hosts = await startSourceHosts(cloud.env.UPSTREAM_URL ?? '');
  const proxy = await QuotaProxy.start(cloud.env.AWS_ENDPOINT_URL ?? '');
  const kube = new BenchKube(cloud.env.KUBECONFIG ?? '', cloud.env);
  let op: RunningOperator | undefined;
  try {
    await kube.createNamespace(NAMESPACE);
    await kube.watch(NAMESPACE);
    await kube.create(
      NAMESPACE,
      Array.from({ length: n }, (_, i) => benchDownloader(i, hosts.urls, { suspend: true })),
    );
    s.log(`quota N=${n}: operator with default pacing, from nothing to all Ready`);
    const run = await phase(
      s,
      kube,
      cloud,
      'quota',
      operatorArgs(s, []),
      () => kube.waitAllReady(n, n * 15_000 + 600_000),
      { AWS_ENDPOINT_URL: proxy.url },
    );
    op = run.op;
    const forwarded = new Map(
      [...proxy.counts.requests].map(([k, v]) => [k, v - (proxy.counts.throttled.get(k) ?? 0)]),
    );
    forwarded.delete('sts:GetCallerIdentity');
    const minimum = quotaMinimum(forwarded);
    load.after = await loadavg();
    return {
      n,
      concurrency: s.concurrency,
      seconds: run.cost.seconds,
      minimumSeconds: minimum.seconds,
      bindingBucket: minimum.bucket,
      throttledSeen: sum(run.samples, 'downloader_aws_calls_total', { outcome: 'throttled' }),
      throttledAnswered: [...proxy.counts.throttled.values()].reduce((a, b) => a + b, 0),
      pacingWaitSeconds: sum(run.samples, 'downloader_aws_pacing_wait_seconds_sum'),
      calls: Object.fromEntries(forwarded),
      load,
    };
  } finally {
    kube.stopWatch();
    await op?.stop();
    await proxy.close();
    await hosts.close();
    await cloud.stop();
  }
}
