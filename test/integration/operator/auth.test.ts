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

const aws = new AwsInventory();
const token = process.env.UPSTREAM_TOKEN ?? 'local-test-token';

function secureExample(name: string, secretName: string, table: string): Downloader {
  const d = eveExample(name, table);
  d.spec.source.path = '/v2/secure/status';
  d.spec.source.auth = bearerAuth(secretName);
  return d;
}

describe('a Downloader with an auth Secret', () => {
  let namespace: string;
  let operator: OperatorProcess;
  const table = `Secure-${Date.now()}`;

  beforeAll(() => {
    namespace = createTestNamespace('auth');
    operator = startOperator(['--namespaces', namespace, '--execution-poll-interval', '2']);
  });

  afterAll(async () => {
    await operator?.stop();
  });

  it('maps the Secret into the integration header, and the run succeeds only through it', async () => {
    applySecret(namespace, 'status-token', { token });
    apply(namespace, secureExample('secure', 'status-token', table));
    const ready = await eventually('Ready', () => readyDownloader(namespace, 'secure'), 90_000);
    const integration = await aws.proxyIntegration(ready.status?.resources?.restApiId ?? '');
    expect(integration?.requestParameters?.['integration.request.header.Authorization']).toBe(
      `'Bearer ${token}'`,
    );
    const done = await runNow(namespace, 'secure', 'one');
    expect(done.status?.lastExecution?.status).toBe('SUCCEEDED');
    expect((await aws.items(table)).length).toBeGreaterThanOrEqual(1);
  });

  it('never puts the secret in the definition, the execution input or its history', async () => {
    const d = getDownloader(namespace, 'secure')!;
    const arn = d.status?.resources?.stateMachineArn;
    const sm = await aws.sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn }));
    expect(sm.definition).not.toContain(token);
    const executions =
      (await aws.sfn.send(new ListExecutionsCommand({ stateMachineArn: arn }))).executions ?? [];
    expect(executions.length).toBeGreaterThan(0);
    for (const execution of executions) {
      const history = await aws.sfn.send(
        new GetExecutionHistoryCommand({ executionArn: execution.executionArn }),
      );
      expect(JSON.stringify(history.events)).not.toContain(token);
    }
    expect(JSON.stringify(d)).not.toContain(token);
  });

  it('follows a rotated Secret: the mapping is redeployed and a wrong token fails as SourceUnauthorized', async () => {
    applySecret(namespace, 'status-token', { token: 'rotated-wrong-token' });
    const restApiId = getDownloader(namespace, 'secure')!.status?.resources?.restApiId ?? '';
    await eventually('the integration to carry the rotated value', async () => {
      const integration = await aws.proxyIntegration(restApiId);
      return integration?.requestParameters?.['integration.request.header.Authorization'] ===
        "'Bearer rotated-wrong-token'"
        ? true
        : undefined;
    });
    const failed = await runNow(namespace, 'secure', 'two');
    expect(failed.status?.lastExecution?.status).toBe('FAILED');
    expect(condition(failed, 'LastRunSucceeded')).toMatchObject({
      status: 'False',
      reason: 'SourceUnauthorized',
    });
    const events = kubectlOk(['get', 'events', '-n', namespace, '-o', 'json']);
    expect(events).toContain('SourceUnauthorized');

    applySecret(namespace, 'status-token', { token });
    await eventually('the integration to carry the good value again', async () => {
      const integration = await aws.proxyIntegration(restApiId);
      return integration?.requestParameters?.['integration.request.header.Authorization'] ===
        `'Bearer ${token}'`
        ? true
        : undefined;
    });
    const recovered = await runNow(namespace, 'secure', 'three');
    expect(recovered.status?.lastExecution?.status).toBe('SUCCEEDED');
  });

  it('reports a missing Secret as a condition and an Event, then recovers when it appears', async () => {
    apply(namespace, secureExample('waiting', 'not-yet', `Waiting-${Date.now()}`));
    const blocked = await eventually('SecretNotFound', () => {
      const d = getDownloader(namespace, 'waiting');
      return condition(d, 'ProxyReady')?.reason === 'SecretNotFound' ? d : undefined;
    });
    expect(condition(blocked, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'SecretNotFound',
    });
    expect(condition(blocked, 'ProxyReady')?.message).toContain('not-yet');
    expect(kubectlOk(['get', 'events', '-n', namespace, '-o', 'json'])).toContain('SecretNotFound');
    expect(readyDownloader(namespace, 'secure')).toBeDefined();

    applySecret(namespace, 'not-yet', { token });
    await eventually(
      'Ready after the Secret appears',
      () => readyDownloader(namespace, 'waiting'),
      90_000,
    );
  });

  it('never logs the secret value, at debug level either', () => {
    const leaked = operator
      .lines()
      .filter((line) => line.includes(token) || line.includes('rotated-wrong-token'));
    expect(leaked).toEqual([]);
  });
});
