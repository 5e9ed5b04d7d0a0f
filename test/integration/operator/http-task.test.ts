import {
  DescribeConnectionCommand,
  EventBridgeClient,
  ListConnectionsCommand,
} from '@aws-sdk/client-eventbridge';
import {
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
} from '@aws-sdk/client-sfn';
import type { Downloader } from '../../../src/api/downloader.js';
import { createTestNamespace, kubectlOk } from '../kubectl.js';
import { eventually, startOperator, type OperatorProcess } from '../operator-process.js';
import { AwsInventory } from './aws-inventory.js';
import {
  apply,
  applySecret,
  bearerAuth,
  condition,
  eveExample,
  getDownloader,
  readyDownloader,
  runNow,
} from './downloaders.js';

/**
 * Transport HttpTask end to end on the local cloud: the state machine calls the stand-in API
 * with the HTTP Task (run by the launcher's http_task patch) through an EventBridge connection
 * that holds the Secret, and no REST API exists.
 */

const aws = new AwsInventory();
const events = new EventBridgeClient({});
const token = process.env.UPSTREAM_TOKEN ?? 'local-test-token';

function httpTaskExample(name: string, table: string): Downloader {
  const d = eveExample(name, table);
  d.spec.source.path = '/v2/secure/status';
  d.spec.source.transport = 'HttpTask';
  d.spec.source.auth = bearerAuth('http-token');
  return d;
}

/** The connection named in the ARN, or undefined when there is none. */
async function connection(arn: string | undefined) {
  const name = arn?.split(':connection/')[1]?.split('/')[0];
  if (!name) return undefined;
  try {
    return await events.send(new DescribeConnectionCommand({ Name: name }));
  } catch (err) {
    if ((err as { name?: string }).name === 'ResourceNotFoundException') return undefined;
    throw err;
  }
}

describe('a Downloader with transport HttpTask', () => {
  let namespace: string;
  let operator: OperatorProcess;
  const table = `HttpTask-${Date.now()}`;

  beforeAll(() => {
    namespace = createTestNamespace('http-task');
    operator = startOperator(['--namespaces', namespace, '--execution-poll-interval', '2']);
  });

  afterAll(async () => {
    await operator?.stop();
  });

  it('becomes Ready with a connection holding the credential and no REST API', async () => {
    applySecret(namespace, 'http-token', { token });
    apply(namespace, httpTaskExample('direct', table));
    const ready = await eventually('Ready', () => readyDownloader(namespace, 'direct'), 90_000);

    const resources = ready.status?.resources ?? {};
    expect(resources.connectionArn).toMatch(/:connection\/dl-/);
    expect(resources.restApiId).toBeUndefined();
    expect(await aws.restApis(ready.metadata.uid ?? '')).toEqual([]);
    expect(condition(ready, 'ProxyReady')?.message).toContain('Connection');

    const described = await connection(resources.connectionArn);
    expect(described).toMatchObject({
      AuthorizationType: 'API_KEY',
      ConnectionState: 'AUTHORIZED',
      AuthParameters: { ApiKeyAuthParameters: { ApiKeyName: 'Authorization' } },
    });
    expect(JSON.stringify(described)).not.toContain(token);

    const sm = await aws.sfn.send(
      new DescribeStateMachineCommand({ stateMachineArn: resources.stateMachineArn }),
    );
    expect(sm.definition).toContain('arn:aws:states:::http:invoke');
    expect(sm.definition).toContain(resources.connectionArn);
    expect(sm.definition).not.toContain(token);
    expect(ready.status?.estimatedMonthlyCost?.breakdown.apiGateway).toBe('0.00');
  });

  it('downloads through the connection and writes the item', async () => {
    const done = await runNow(namespace, 'direct', 'one');
    expect(done.status?.lastExecution?.status).toBe('SUCCEEDED');
    const items = await aws.items(table);
    expect(items.length).toBeGreaterThanOrEqual(1);
    expect(items[0]?.count?.N).toMatch(/^[0-9]+$/);
  });

  it('follows a rotated Secret: the connection is updated, a wrong token fails as SourceUnauthorized', async () => {
    const arn = getDownloader(namespace, 'direct')?.status?.resources?.connectionArn;
    const before = (await connection(arn))?.LastModifiedTime?.getTime();
    applySecret(namespace, 'http-token', { token: 'rotated-wrong-token' });
    await eventually('the connection to be updated', async () => {
      const modified = (await connection(arn))?.LastModifiedTime?.getTime();
      return modified !== undefined && modified !== before ? true : undefined;
    });
    const failed = await runNow(namespace, 'direct', 'two');
    expect(failed.status?.lastExecution).toMatchObject({
      status: 'FAILED',
      error: 'States.Http.StatusCode.401',
    });
    expect(condition(failed, 'LastRunSucceeded')).toMatchObject({
      status: 'False',
      reason: 'SourceUnauthorized',
    });

    const wrongAt = (await connection(arn))?.LastModifiedTime?.getTime();
    applySecret(namespace, 'http-token', { token });
    await eventually('the connection to carry the good token again', async () => {
      const modified = (await connection(arn))?.LastModifiedTime?.getTime();
      return modified !== undefined && modified !== wrongAt ? true : undefined;
    });
    const recovered = await runNow(namespace, 'direct', 'three');
    expect(recovered.status?.lastExecution?.status).toBe('SUCCEEDED');
  });

  it('never puts the secret in the definition, the execution input or its history', async () => {
    const d = getDownloader(namespace, 'direct')!;
    const arn = d.status?.resources?.stateMachineArn;
    const executions =
      (await aws.sfn.send(new ListExecutionsCommand({ stateMachineArn: arn }))).executions ?? [];
    expect(executions.length).toBeGreaterThanOrEqual(3);
    for (const execution of executions) {
      const history = await aws.sfn.send(
        new GetExecutionHistoryCommand({ executionArn: execution.executionArn }),
      );
      const text = JSON.stringify(history.events);
      expect(text).not.toContain(token);
      expect(text).not.toContain('rotated-wrong-token');
    }
    expect(JSON.stringify(d)).not.toContain(token);
  });

  it('switches to ApiGateway and back, deleting what the other transport left', async () => {
    const d = getDownloader(namespace, 'direct')!;
    const connectionArn = d.status?.resources?.connectionArn;
    const viaProxy = structuredClone(d);
    viaProxy.spec.source.transport = 'ApiGateway';
    apply(namespace, { ...viaProxy, metadata: { name: 'direct' }, status: undefined });
    const proxied = await eventually(
      'Ready through the proxy',
      () => readyDownloader(namespace, 'direct'),
      90_000,
    );
    expect(proxied.status?.resources?.restApiId).toBeDefined();
    expect(proxied.status?.resources?.connectionArn).toBeUndefined();
    expect(await connection(connectionArn)).toBeUndefined();
    expect((await runNow(namespace, 'direct', 'four')).status?.lastExecution?.status).toBe(
      'SUCCEEDED',
    );

    apply(namespace, { ...d, metadata: { name: 'direct' }, status: undefined });
    const direct = await eventually(
      'Ready through the HTTP Task again',
      () => readyDownloader(namespace, 'direct'),
      90_000,
    );
    expect(direct.status?.resources?.restApiId).toBeUndefined();
    expect(direct.status?.resources?.connectionArn).toBeDefined();
    expect(await aws.restApis(direct.metadata.uid ?? '')).toEqual([]);
    expect((await runNow(namespace, 'direct', 'five')).status?.lastExecution?.status).toBe(
      'SUCCEEDED',
    );
  });

  it('deletes the connection with everything else, and keeps the Retain table', async () => {
    const d = getDownloader(namespace, 'direct')!;
    const connectionArn = d.status?.resources?.connectionArn;
    const prefix = `dl-${namespace}-direct`;
    kubectlOk(['delete', 'downloader', 'direct', '-n', namespace, '--wait=true']);
    await eventually('the connection to be gone', async () =>
      (await connection(connectionArn)) === undefined ? true : undefined,
    );
    expect(await aws.stateMachines(prefix)).toEqual([]);
    expect(await aws.schedules(prefix)).toEqual([]);
    expect(await aws.roles(prefix)).toEqual([]);
    const left = (await events.send(new ListConnectionsCommand({}))).Connections ?? [];
    expect(left.filter((c) => c.Name?.startsWith(prefix))).toEqual([]);
    expect(await aws.tableNames()).toContain(table);
  });

  it('gives a Downloader without auth a connection with a harmless header, and runs it', async () => {
    const open = eveExample('open', `${table}-open`);
    open.spec.source.transport = 'HttpTask';
    apply(namespace, open);
    const ready = await eventually('Ready', () => readyDownloader(namespace, 'open'), 90_000);
    const described = await connection(ready.status?.resources?.connectionArn);
    expect(described?.AuthParameters?.ApiKeyAuthParameters?.ApiKeyName).toBe(
      'X-Downloader-Operator',
    );
    expect((await runNow(namespace, 'open', 'one')).status?.lastExecution?.status).toBe(
      'SUCCEEDED',
    );
    kubectlOk(['delete', 'downloader', 'open', '-n', namespace, '--wait=true']);
    expect(await connection(ready.status?.resources?.connectionArn)).toBeUndefined();
  });

  it('never logs the secret value, at debug level either', () => {
    const leaked = operator
      .lines()
      .filter((line) => line.includes(token) || line.includes('rotated-wrong-token'));
    expect(leaked).toEqual([]);
  });
});
