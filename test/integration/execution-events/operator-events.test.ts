import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import {
  DeleteRuleCommand,
  DescribeRuleCommand,
  EventBridgeClient,
  ListTagsForResourceCommand,
  ListTargetsByRuleCommand,
  RemoveTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import {
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueueTagsCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { Downloader } from '../../../src/api/downloader.js';
import { createTestNamespace, kubectlOk } from '../kubectl.js';
import { eventually, startOperator, type OperatorProcess } from '../operator-process.js';
import {
  apply,
  condition,
  eventsFor,
  eveExample,
  getDownloader,
  readyDownloader,
} from '../operator/downloaders.js';

/**
 * The operator against the local cloud with execution status events: its queue and rule, and
 * Downloaders whose scheduled, run-now and failed executions reach their status through the
 * events, while the execution poll and resync intervals are so long (600 s) that polling cannot
 * be what updated them. The operator's own /metrics show it: ListExecutions does not grow with
 * executions, events consumed do.
 */

const LONG_S = '600';
/** What "within seconds" means for an event's way from the execution's end to the status. */
const MAX_LAG_S = 5;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** One sample of the operator's /metrics, with sums over label sets. */
class Metrics {
  constructor(private readonly text: string) {}

  static async scrape(port: number): Promise<Metrics> {
    return new Metrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
  }

  /** Sum of the samples of `name` whose labels include all of `labels`. */
  sum(name: string, labels: Record<string, string> = {}): number {
    let total = 0;
    for (const line of this.text.split('\n')) {
      const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match || match[1] !== name) continue;
      const have = match[2] ?? '';
      if (Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) {
        total += Number(match[3]);
      }
    }
    return total;
  }

  listExecutions(): number {
    return this.sum('downloader_aws_calls_total', {
      service: 'states',
      operation: 'ListExecutions',
    });
  }

  events(status: string, result = 'applied'): number {
    return this.sum('downloader_execution_events_total', { status, result });
  }
}

/** A Downloader watched closely: when did the status first show a finished execution? */
async function finishedExecution(
  namespace: string,
  name: string,
  accept: (d: Downloader) => boolean = () => true,
  timeoutMs = 90_000,
): Promise<{ downloader: Downloader; seenAtMs: number }> {
  return eventually(
    `a finished execution on ${name}`,
    () => {
      const d = getDownloader(namespace, name);
      const status = d?.status?.lastExecution?.status;
      return d && status && status !== 'RUNNING' && accept(d)
        ? { downloader: d, seenAtMs: Date.now() }
        : undefined;
    },
    timeoutMs,
    100,
  );
}

describe('the operator with execution status events', () => {
  const queueName = `dl-events-test-${randomBytes(3).toString('hex')}`;
  const sqs = new SQSClient({});
  const eventBridge = new EventBridgeClient({});
  let namespace: string;
  let operator: OperatorProcess;
  let port: number;
  let baseline: Metrics;

  beforeAll(async () => {
    namespace = createTestNamespace('events');
    port = await freePort();
    operator = startOperator([
      '--namespaces',
      namespace,
      '--execution-poll-interval',
      LONG_S,
      '--resync-interval',
      LONG_S,
      '--execution-events-queue',
      queueName,
      '--metrics-address',
      `127.0.0.1:${port}`,
    ]);
    await eventually(
      'events active',
      async () =>
        (await Metrics.scrape(port)).sum('downloader_execution_events_active') === 1
          ? true
          : undefined,
      60_000,
    );
    baseline = await Metrics.scrape(port);
  });

  afterAll(async () => {
    await operator?.stop();
    await eventBridge
      .send(new RemoveTargetsCommand({ Rule: queueName, Ids: ['downloader-operator-queue'] }))
      .catch(() => {});
    await eventBridge.send(new DeleteRuleCommand({ Name: queueName })).catch(() => {});
    const url = await sqs.send(new GetQueueUrlCommand({ QueueName: queueName })).catch(() => {});
    if (url?.QueueUrl) await sqs.send(new DeleteQueueCommand({ QueueUrl: url.QueueUrl }));
    sqs.destroy();
    eventBridge.destroy();
  });

  it('makes the queue, its policy for the rule, and the rule for the dl- state machines', async () => {
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queueName }));
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }),
    );
    const rule = await eventBridge.send(new DescribeRuleCommand({ Name: queueName }));
    expect(JSON.parse(Attributes.Policy ?? '{}').Statement).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: Attributes.QueueArn,
        Condition: { ArnEquals: { 'aws:SourceArn': rule.Arn } },
      }),
    ]);
    expect(rule.State).toBe('ENABLED');
    expect(JSON.parse(rule.EventPattern ?? '{}')).toEqual({
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: {
        stateMachineArn: [
          { prefix: `arn:aws:states:${process.env.AWS_REGION}:123456789012:stateMachine:dl-` },
        ],
      },
    });
    const targets = await eventBridge.send(new ListTargetsByRuleCommand({ Rule: queueName }));
    expect(targets.Targets).toEqual([
      expect.objectContaining({ Id: 'downloader-operator-queue', Arn: Attributes.QueueArn }),
    ]);
    const expectedTags = {
      'downloader.dev/managed-by': 'downloader-operator',
      'downloader.dev/component': 'execution-events',
    };
    expect((await sqs.send(new ListQueueTagsCommand({ QueueUrl }))).Tags).toEqual(expectedTags);
    const ruleTags = await eventBridge.send(
      new ListTagsForResourceCommand({ ResourceARN: rule.Arn }),
    );
    expect(Object.fromEntries((ruleTags.Tags ?? []).map((t) => [t.Key, t.Value]))).toEqual(
      expectedTags,
    );
  });

  it('brings a scheduled execution to the status within seconds, without ListExecutions', async () => {
    apply(namespace, eveExample('eve', `Events-${Date.now()}`));
    // The schedule (rate(1 minute)) fires once as it is created, often before the status
    // names the state machine: the event finds the Downloader by its state machine's name.
    const { downloader, seenAtMs } = await finishedExecution(namespace, 'eve');
    expect(downloader.status?.lastExecution).toMatchObject({ status: 'SUCCEEDED' });
    expect(downloader.status?.lastExecution?.name).not.toMatch(/^run-now-/);
    expect(condition(downloader, 'LastRunSucceeded')).toMatchObject({
      status: 'True',
      reason: 'Succeeded',
    });
    expect(downloader.status?.lastSuccessTime).toBeTruthy();
    const observedLagS =
      (seenAtMs - Date.parse(downloader.status?.lastExecution?.stopTime ?? '')) / 1000;
    expect(observedLagS).toBeLessThan(MAX_LAG_S);
    await eventually('Ready', () => readyDownloader(namespace, 'eve'), 90_000);

    const now = await Metrics.scrape(port);
    expect(now.listExecutions()).toBe(baseline.listExecutions());
    expect(now.events('SUCCEEDED') - baseline.events('SUCCEEDED')).toBeGreaterThanOrEqual(1);
    expect(now.events('RUNNING') + now.events('RUNNING', 'stale')).toBeGreaterThanOrEqual(1);
  });

  it('brings a run-now execution to the status within seconds, without ListExecutions', async () => {
    const before = await Metrics.scrape(port);
    kubectlOk(['annotate', '-n', namespace, 'downloader/eve', 'downloader.dev/run-now=ev1']);
    const { downloader, seenAtMs } = await finishedExecution(namespace, 'eve', (d) =>
      Boolean(d.status?.lastExecution?.name.startsWith('run-now-')),
    );
    expect(downloader.status?.lastExecution?.status).toBe('SUCCEEDED');
    expect(downloader.status?.lastRunNow).toBe('ev1');
    const observedLagS =
      (seenAtMs - Date.parse(downloader.status?.lastExecution?.stopTime ?? '')) / 1000;
    expect(observedLagS).toBeLessThan(MAX_LAG_S);

    const after = await Metrics.scrape(port);
    expect(after.listExecutions()).toBe(before.listExecutions());
    expect(after.events('SUCCEEDED') - before.events('SUCCEEDED')).toBe(1);
    const lagCount = after.sum('downloader_execution_event_lag_seconds_count');
    const lagSum = after.sum('downloader_execution_event_lag_seconds_sum');
    expect(lagCount).toBeGreaterThanOrEqual(2);
    expect(lagSum / lagCount).toBeLessThan(MAX_LAG_S);
    // The lag the operator measured, for the record of this run.
    console.log(
      `execution event lag: mean ${(lagSum / lagCount).toFixed(3)} s over ${lagCount} ` +
        `executions; run-now seen by kubectl ${observedLagS.toFixed(3)} s after it stopped`,
    );
  });

  it('reports a failed execution through its event, with the classified reason and a Warning', async () => {
    const scope = `events-${randomBytes(3).toString('hex')}`;
    const response = await fetch(`${process.env.UPSTREAM_URL}/_control`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ scope, failStatus: 401 }),
    });
    expect(response.ok).toBe(true);
    const before = await Metrics.scrape(port);
    const failing = eveExample('locked', `EventsLocked-${Date.now()}`);
    failing.spec.source.path = `/v2/status?scope=${scope}`;
    apply(namespace, failing);

    const { downloader } = await finishedExecution(namespace, 'locked');
    expect(downloader.status?.lastExecution).toMatchObject({
      status: 'FAILED',
      error: 'ApiGateway.401',
    });
    expect(condition(downloader, 'LastRunSucceeded')).toMatchObject({
      status: 'False',
      reason: 'SourceUnauthorized',
    });
    const warnings = await eventually('the Warning Event', () => {
      const list = eventsFor(namespace, 'locked').filter((e) => e.reason === 'SourceUnauthorized');
      return list.length > 0 ? list : undefined;
    });
    expect(warnings[0]).toMatchObject({ type: 'Warning' });
    expect(warnings[0]?.message).toContain('ApiGateway.401');

    const after = await Metrics.scrape(port);
    expect(after.listExecutions()).toBe(before.listExecutions());
    expect(after.events('FAILED') - before.events('FAILED')).toBe(1);
  });

  it('makes the queue again when it is deleted, and goes on taking status from events', async () => {
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queueName }));
    await sqs.send(new DeleteQueueCommand({ QueueUrl }));
    await eventually(
      'the queue made again',
      () => sqs.send(new GetQueueUrlCommand({ QueueName: queueName })).catch(() => undefined),
      60_000,
    );
    await eventually(
      'events active again',
      async () =>
        (await Metrics.scrape(port)).sum('downloader_execution_events_active') === 1
          ? true
          : undefined,
      60_000,
    );

    const before = await Metrics.scrape(port);
    kubectlOk([
      'annotate',
      '--overwrite',
      '-n',
      namespace,
      'downloader/eve',
      'downloader.dev/run-now=ev2',
    ]);
    const { downloader } = await finishedExecution(namespace, 'eve', (d) =>
      Boolean(
        d.status?.lastRunNow === 'ev2' && d.status.lastExecution?.name.startsWith('run-now-'),
      ),
    );
    expect(downloader.status?.lastExecution?.status).toBe('SUCCEEDED');
    const after = await Metrics.scrape(port);
    expect(after.events('SUCCEEDED') - before.events('SUCCEEDED')).toBe(1);
    expect(after.listExecutions()).toBe(before.listExecutions());
  });
});
