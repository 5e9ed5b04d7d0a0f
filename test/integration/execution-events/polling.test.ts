import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createTestNamespace, kubectlOk } from '../kubectl.js';
import { eventually, startOperator, type OperatorProcess } from '../operator-process.js';
import { apply, eveExample, getDownloader, readyDownloader } from '../operator/downloaders.js';

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

describe('the operator with --execution-events false', () => {
  const queueName = `dl-events-off-${randomBytes(3).toString('hex')}`;
  const sqs = new SQSClient({});
  let namespace: string;
  let operator: OperatorProcess;
  let port: number;

  beforeAll(async () => {
    namespace = createTestNamespace('polling');
    port = await freePort();
    operator = startOperator([
      '--namespaces',
      namespace,
      '--execution-events',
      'false',
      '--execution-events-queue',
      queueName,
      '--execution-poll-interval',
      '2',
      '--metrics-address',
      `127.0.0.1:${port}`,
    ]);
  });

  afterAll(async () => {
    await operator?.stop();
    sqs.destroy();
  });

  it('polls ListExecutions as before, and makes no queue', async () => {
    apply(namespace, eveExample('eve', `Polling-${Date.now()}`));
    await eventually('Ready', () => readyDownloader(namespace, 'eve'), 90_000);
    kubectlOk(['annotate', '-n', namespace, 'downloader/eve', 'downloader.dev/run-now=p1']);
    // The schedule's first run (moto fires a rate() schedule at once) may start after run-now's
    // and be the one the status shows: either, finished, shows that polling works.
    await eventually(
      'a finished execution on the status',
      () => {
        const last = getDownloader(namespace, 'eve')?.status?.lastExecution;
        return last?.status === 'SUCCEEDED' ? last : undefined;
      },
      120_000,
    );

    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(
      /^downloader_aws_calls_total\{service="states",operation="ListExecutions",outcome="success"\} [1-9]/m,
    );
    expect(metrics).not.toMatch(/^downloader_execution_events_total/m);
    expect(metrics).not.toMatch(/service="sqs"/);
    await expect(sqs.send(new GetQueueUrlCommand({ QueueName: queueName }))).rejects.toMatchObject({
      name: 'QueueDoesNotExist',
    });
  });
});
