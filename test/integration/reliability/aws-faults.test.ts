import { jest } from '@jest/globals';
import { AwsFaultProxy, createdTwice } from '../../faults/aws-fault-proxy.js';
import { seedFrom } from '../../faults/prng.js';
import { createTestNamespace } from '../kubectl.js';
import { eventually, type OperatorProcess } from '../operator-process.js';
import { eveExample } from '../operator/downloaders.js';
import { AwsCensus, ONE_EACH, censusSize, countFor } from './census.js';
import {
  ConditionWatcher,
  allGone,
  allReady,
  applyAll,
  events,
  kubectlOkAsync,
  logged,
  recordFigures,
  scale,
  secondsSince,
  startOperatorFor,
  summarizeLog,
  tableName,
} from './harness.js';

// Heavy runs wait far longer than the suite's 180 s per test.
jest.setTimeout(scale(180_000, 1_800_000));

/**
 * N Downloaders converge while the AWS APIs throttle, fail with 500 and 503, reset connections
 * (before moto sees the request, and after it made the change) and answer slowly. The fault
 * proxy sits between the operator and moto; the census reads moto directly.
 */

const N = scale(10, 50);
const RATE = 0.2;
const SEED = seedFrom('RELIABILITY_SEED', 20_261_203);
/** The work queue's cap on backoff (DEFAULT_BACKOFF.maxDelayMs). */
const BACKOFF_CAP_MS = 5 * 60_000;

describe(`the operator under AWS faults (${N} Downloaders, ${RATE * 100}% of AWS calls fail)`, () => {
  const census = new AwsCensus();
  let namespace: string;
  let proxy: AwsFaultProxy;
  let operator: OperatorProcess;
  let watcher: ConditionWatcher;
  const names = Array.from({ length: N }, (_, i) => `dl-${i}`);
  const figures: Record<string, unknown> = { downloaders: N, faultRate: RATE, seed: SEED };

  beforeAll(async () => {
    namespace = createTestNamespace('relaws');
    proxy = await AwsFaultProxy.start({
      target: process.env.AWS_ENDPOINT_URL ?? '',
      seed: SEED,
      rate: 0,
      slowMs: [300, 2_000],
    });
    watcher = new ConditionWatcher(namespace).start();
  });

  afterAll(async () => {
    watcher?.stop();
    await operator?.stop();
    await proxy?.close();
    census.destroy();
    recordFigures('aws-faults', figures);
  });

  it('starts even when STS throttles longer than the SDK retries', async () => {
    // More throttled answers than the SDK's three attempts: the operator must wait it out.
    proxy.addRule({ service: 'sts', fault: 'throttle', times: 4 });
    operator = startOperatorFor(namespace, { awsEndpoint: proxy.url });
    await logged(operator, /"msg":"caches synced"/, 60_000);
    expect(operator.child.exitCode).toBeNull();
  });

  it('shows AwsThrottled on the status while API Gateway throttles every call', async () => {
    const stopThrottling = proxy.addRule({ service: 'apigateway', fault: 'throttle' });
    await applyAll(
      namespace,
      names.map((name) => eveExample(name, tableName('Faults'))),
    );
    await eventually(
      'every Downloader to show AwsThrottled',
      () => (watcher.reasons('Ready').AwsThrottled === N ? true : undefined),
      scale(60_000, 240_000),
      500,
    );
    stopThrottling();
  });

  it(
    `converges to Ready with ${RATE * 100}% random faults, each resource created once`,
    async () => {
      proxy.setRate(RATE);
      const start = Date.now();
      const ready = await allReady(namespace, names, scale(240_000, 900_000));
      figures.secondsToReady = secondsSince(start);

      const now = await census.ofNamespace(namespace);
      for (const name of names) {
        expect({ name, ...countFor(now, ready.get(name)!) }).toEqual({ name, ...ONE_EACH });
      }
      // Seen from the wire: every Create* moto answered, lost answers (resetAfter) included.
      // One name answered with two different resources is a duplicate (a lost CreateRestApi
      // answer retried blindly would make one); the same resource twice is an idempotent create.
      const twice = createdTwice(proxy.creates());
      figures.createsSeen = proxy.creates().length;
      figures.createsLost = proxy.creates().filter((r) => !r.delivered).length;
      figures.createdTwice = twice;
      expect(twice).toEqual([]);
    },
    scale(300_000, 1_000_000),
  );

  it('reported the trouble as recoverable reasons, retried with bounded backoff', async () => {
    const log = summarizeLog(operator.lines());
    const warnings = (await events(namespace)).filter((e) => e.type === 'Warning');
    const byReason: Record<string, number> = {};
    for (const e of warnings) byReason[e.reason] = (byReason[e.reason] ?? 0) + e.count;

    Object.assign(figures, {
      injected: proxy.totals(),
      byService: proxy.serviceStats(),
      reasonsSeenOnStatus: watcher.reasons('Ready'),
      warningEvents: byReason,
      reconcileFailures: log.failuresByReason,
      awsCallsFailedAfterSdkRetries: log.awsCallFailures,
      retries: log.retries,
      maxBackoffMs: log.maxBackoffMs,
      maxRequeueAfterMs: log.maxRequeueAfterMs,
      errorLines: log.errors.length,
    });

    expect(watcher.reasons('Ready').AwsThrottled).toBe(N);
    expect(Object.keys(byReason)).toEqual(expect.arrayContaining(['AwsThrottled']));
    // Faults must never look like a problem the user has to fix: no terminal reason may appear.
    // (Under heavy machine load a scheduled run can also fail and add its own execution reason,
    // which is why the list below is of what must not appear rather than of what may.)
    const terminal = [
      'TableKeyMismatch',
      'TableOwnedByOther',
      'TableNotOwned',
      'RoleOwnedByOther',
      'StateMachineOwnedByOther',
      'SecretNotFound',
      'SecretKeyNotFound',
      'AccessDenied',
    ];
    expect({
      byReason,
      terminal: Object.keys(byReason).filter((r) => terminal.includes(r)),
    }).toEqual({
      byReason,
      terminal: [],
    });
    expect(Object.keys(log.failuresByReason).filter((r) => terminal.includes(r))).toEqual([]);
    expect(log.retries).toBeGreaterThan(0);
    expect(log.maxBackoffMs).toBeLessThanOrEqual(BACKOFF_CAP_MS);
    expect(log.maxRequeueAfterMs).toBeLessThanOrEqual(BACKOFF_CAP_MS);
    expect(log.errors).toEqual([]);
    expect(operator.child.exitCode).toBeNull();
  });

  it(
    'deletes every pipeline under the same faults and leaves nothing behind',
    async () => {
      const start = Date.now();
      await kubectlOkAsync(['delete', 'downloaders', '--all', '-n', namespace, '--wait=false']);
      await allGone(namespace, scale(180_000, 900_000));
      figures.secondsToDeleteAll = secondsSince(start);
      expect(censusSize(await census.ofNamespace(namespace))).toEqual({
        restApis: 0,
        stateMachines: 0,
        schedules: 0,
        roles: 0,
      });
    },
    scale(200_000, 1_000_000),
  );
});
