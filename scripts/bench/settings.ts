/**
 * What every phase of the benchmark shares: its settings, the namespace of its Downloaders, and
 * how it starts the operator and reads it.
 */
import type { Cloud } from './cloud.js';
import type { RunningOperator } from './operator.js';
import { sum, sumBy, type Sample } from './prom.js';

/** Settings of one benchmark run. */
export interface BenchSettings {
  /** The bundled operator's main.js. */
  main: string;
  workDir: string;
  concurrency: number;
  /** --execution-poll-interval of the lag phase, seconds. */
  pollSeconds: number;
  /** How long the lag phase watches executions, seconds; 0 skips it. */
  lagWindowSeconds: number;
  /** real: the schedules run executions; synthetic: only their status events (lag.ts). */
  lagMode?: 'real' | 'synthetic';
  /** --execution-events for every operator run; the operator's default when left out. */
  executionEvents?: 'true' | 'false';
  log: (message: string) => void;
}

/** AWS calls by `service:operation`. */
export type Calls = Record<string, number>;

/** The namespace of the benchmark's Downloaders. */
export const NAMESPACE = 'bench';

/** AWS calls the operator counted, by `service:operation` (its STS calls left out). */
export function callsOf(samples: Sample[]): Calls {
  const by = sumBy(samples, 'downloader_aws_calls_total', ['service', 'operation']);
  return Object.fromEntries([...by].filter(([key]) => !key.startsWith('sts:')));
}

/** The load average (1, 5, 15 min), to two decimals. */
export async function loadavg(): Promise<number[]> {
  const { loadavg: avg } = await import('node:os');
  return avg().map((x) => Math.round(x * 100) / 100);
}

/** The environment of an operator on `cloud`. */
export function operatorEnv(cloud: Cloud, extra: Record<string, string> = {}) {
  return { ...process.env, ...cloud.env, ...extra };
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

/** Waits until the operator has reconciled `count` times with an empty queue. */
export async function waitReconciled(op: RunningOperator, count: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = await op.metrics();
    if (sum(m, 'downloader_reconcile_total') >= count && sum(m, 'downloader_queue_depth') === 0) {
      return m;
    }
    if (Date.now() > deadline) throw new Error(`fewer than ${count} reconciles in ${timeoutMs} ms`);
    await sleep(500);
  }
}

/** The operator's flags in every phase, with `extra` after them. */
export function operatorArgs(s: BenchSettings, extra: string[], resyncSeconds = 3600): string[] {
  return [
    ...(s.executionEvents ? ['--execution-events', s.executionEvents] : []),
    '--namespaces',
    NAMESPACE,
    '--concurrency',
    String(s.concurrency),
    '--resync-interval',
    String(resyncSeconds),
    '--execution-poll-interval',
    '3600',
    ...extra,
  ];
}

/** The endpoint, Region and test credentials of an AWS SDK client of the local AWS of `cloud`. */
export function awsClientConfig(cloud: Cloud) {
  return {
    endpoint: cloud.env.AWS_ENDPOINT_URL,
    region: cloud.env.AWS_REGION ?? 'us-east-1',
    credentials: {
      accessKeyId: cloud.env.AWS_ACCESS_KEY_ID ?? 'testing',
      secretAccessKey: cloud.env.AWS_SECRET_ACCESS_KEY ?? 'testing',
    },
  };
}
