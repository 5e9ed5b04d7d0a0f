import { GetRolePolicyCommand } from '@aws-sdk/client-iam';
import { GetScheduleCommand } from '@aws-sdk/client-scheduler';
import { DescribeExecutionCommand, DescribeStateMachineCommand } from '@aws-sdk/client-sfn';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import type { Downloader } from '../../../src/api/downloader.js';
import { runNowExecutionName } from '../../../src/controller/run-now.js';
import { createTestNamespace, kubectlOk } from '../kubectl.js';
import { eventually, startOperator, type OperatorProcess } from '../operator-process.js';
import { AwsInventory } from './aws-inventory.js';
import {
  apply,
  condition,
  eventsFor,
  eveExample,
  getDownloader,
  readyDownloader,
} from './downloaders.js';

const aws = new AwsInventory();

describe('the operator, for the article EVE Downloader', () => {
  let namespace: string;
  let operator: OperatorProcess;
  let ready: Downloader;
  const name = 'eve';
  const table = `Eve-${Date.now()}`;

  beforeAll(async () => {
    namespace = createTestNamespace('lifecycle');
    operator = startOperator(['--namespaces', namespace, '--execution-poll-interval', '2']);
    apply(namespace, eveExample(name, table));
    ready = await eventually(
      'the Downloader to be Ready',
      () => readyDownloader(namespace, name),
      90_000,
    );
  });

  afterAll(async () => {
    await operator?.stop();
  });

  it('makes the REST API proxy: {proxy+} ANY to the source over HTTP_PROXY, deployed to the stage', async () => {
    const restApiId = ready.status?.resources?.restApiId ?? '';
    const apis = await aws.restApisIn(namespace);
    expect(apis.map((api) => api.id)).toEqual([restApiId]);
    expect(apis[0]?.tags?.['downloader.dev/share-key']).toMatch(/^[0-9a-f]{20}$/);
    const integration = await aws.proxyIntegration(restApiId);
    expect(integration).toMatchObject({
      type: 'HTTP_PROXY',
      uri: `${process.env.UPSTREAM_URL}/{proxy}`,
    });
    expect(integration?.requestParameters).toEqual({
      'integration.request.path.proxy': 'method.request.path.proxy',
    });
    const stage = await aws.stage(restApiId, ready.status?.resources?.stageName ?? '');
    expect(stage.deploymentId).toBeTruthy();
  });

  it('creates the table on demand with the keys asked', async () => {
    const description = await aws.dynamodb.send(new DescribeTableCommand({ TableName: table }));
    expect(description.Table?.KeySchema).toEqual([{ AttributeName: 'pk', KeyType: 'HASH' }]);
    expect(description.Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
  });

  it('generates the state machine: invoke through the proxy, then put the item with N as a string', async () => {
    const sm = await aws.sfn.send(
      new DescribeStateMachineCommand({
        stateMachineArn: ready.status?.resources?.stateMachineArn,
      }),
    );
    const definition = JSON.parse(sm.definition ?? '{}');
    const states = Object.values(definition.States) as Array<{
      Resource: string;
      Parameters: Record<string, unknown> & { Item: Record<string, unknown> };
    }>;
    const download = states.find((s) => s.Resource === 'arn:aws:states:::apigateway:invoke');
    const put = states.find((s) => s.Resource === 'arn:aws:states:::dynamodb:putItem');
    expect(download?.Parameters).toMatchObject({
      Method: 'GET',
      Path: '/v2/status',
      AuthType: 'IAM_ROLE',
    });
    expect(download?.Parameters.ApiEndpoint).toContain(ready.status?.resources?.restApiId);
    expect(put?.Parameters.Item.count).toEqual({
      'N.$': "States.Format('{}', $.ResponseBody.players)",
    });
    expect(sm.roleArn).toBe(ready.status?.resources?.stateMachineRoleArn);
  });

  it('schedules it with rate(1 minute) in UTC, targeting the state machine with its own role', async () => {
    const scheduleName = ready.status?.resources?.scheduleArn?.split('/').pop();
    const schedule = await aws.scheduler.send(new GetScheduleCommand({ Name: scheduleName }));
    expect(schedule).toMatchObject({
      ScheduleExpression: 'rate(1 minute)',
      ScheduleExpressionTimezone: 'UTC',
      State: 'ENABLED',
      Target: {
        Arn: ready.status?.resources?.stateMachineArn,
        RoleArn: ready.status?.resources?.schedulerRoleArn,
      },
    });
  });

  it('gives the roles least privilege: invoke this stage and put into this table; start this state machine', async () => {
    const sfnRole = ready.status?.resources?.stateMachineRoleArn?.split('/').pop();
    const policy = await aws.iam.send(
      new GetRolePolicyCommand({ RoleName: sfnRole, PolicyName: 'downloader-operator' }),
    );
    const document = JSON.parse(decodeURIComponent(policy.PolicyDocument ?? '{}'));
    const resources = document.Statement.map((s: { Action: string; Resource: string }) => [
      s.Action,
      s.Resource,
    ]);
    expect(resources).toEqual([
      [
        'execute-api:Invoke',
        expect.stringMatching(
          new RegExp(`:${ready.status?.resources?.restApiId}/downloader/GET/v2/status$`),
        ),
      ],
      ['dynamodb:PutItem', ready.status?.resources?.tableArn],
    ]);
    const schedRole = ready.status?.resources?.schedulerRoleArn?.split('/').pop();
    const schedPolicy = await aws.iam.send(
      new GetRolePolicyCommand({ RoleName: schedRole, PolicyName: 'downloader-operator' }),
    );
    expect(JSON.parse(decodeURIComponent(schedPolicy.PolicyDocument ?? '{}')).Statement).toEqual([
      expect.objectContaining({
        Action: 'states:StartExecution',
        Resource: ready.status?.resources?.stateMachineArn,
      }),
    ]);
  });

  it('records a Normal Created Event for each AWS resource it made', async () => {
    const created = await eventually('the Created Events', () => {
      const messages = eventsFor(namespace, name)
        .filter((e) => e.type === 'Normal' && e.reason === 'Created')
        .map((e) => e.message);
      return messages.length >= 6 ? messages : undefined;
    });
    const kinds = created.map((m) => m.split(' ')[1]).sort();
    expect(kinds).toEqual(['Proxy', 'Role', 'Role', 'Schedule', 'StateMachine', 'Table']);
    expect(created).toContain(`Created Table ${table}`);
    const scheduleName = ready.status?.resources?.scheduleArn?.split('/').pop();
    expect(created).toContain(`Created Schedule ${scheduleName}`);
  });

  it('estimates the monthly cost of a STANDARD run every minute', () => {
    expect(ready.status?.estimatedMonthlyCost).toMatchObject({
      monthlyUsd: '2.38',
      runsPerMonth: 43_200,
    });
  });

  it('runs on run-now, stores the item with the right types, and reports the execution', async () => {
    kubectlOk(['annotate', '-n', namespace, `downloader/${name}`, 'downloader.dev/run-now=first']);
    // The schedule's own runs may come just before or just after it on the status: read the
    // run-now execution itself, and wait for the status to show a finished one.
    const executionArn =
      `${ready.status?.resources?.stateMachineArn?.replace(':stateMachine:', ':execution:')}:` +
      runNowExecutionName(ready.metadata.uid ?? '', 'first');
    const done = await eventually('the run-now execution finished on the status', async () => {
      const d = getDownloader(namespace, name);
      const last = d?.status?.lastExecution;
      if (d?.status?.lastRunNow !== 'first' || !last || last.status === 'RUNNING') return undefined;
      const execution = await aws.sfn.send(new DescribeExecutionCommand({ executionArn }));
      return execution.status === 'RUNNING' ? undefined : { ...d, runNowStatus: execution.status };
    });
    expect(done.runNowStatus).toBe('SUCCEEDED');
    expect(done.status?.lastExecution).toMatchObject({ status: 'SUCCEEDED' });
    expect(done.status?.lastRunNow).toBe('first');
    expect(done.status?.lastSuccessTime).toBeTruthy();
    expect(condition(done, 'LastRunSucceeded')?.status).toBe('True');
    const items = await aws.items(table);
    expect(items.length).toBeGreaterThanOrEqual(1);
    expect(items[0]).toEqual({
      pk: { S: expect.stringMatching(/GMT$/) },
      count: { N: expect.stringMatching(/^\d+$/) },
    });
  });

  it('follows changes to path, schedule, item mapping and suspend without duplicating anything', async () => {
    const current = getDownloader(namespace, name)!;
    const changed = eveExample(name, table);
    changed.spec.source.path = '/v2/status?datasource=tranquility';
    changed.spec.schedule = {
      expression: 'cron(0/5 * * * ? *)',
      timezone: 'Europe/Paris',
      suspend: true,
    };
    changed.spec.item = { ...changed.spec.item, version: { S: '$.ResponseBody.server_version' } };
    apply(namespace, changed);
    const updated = await eventually('the change to be reconciled', () => {
      const d = readyDownloader(namespace, name);
      return d && d.metadata.generation !== current.metadata.generation ? d : undefined;
    });

    const sm = await aws.sfn.send(
      new DescribeStateMachineCommand({
        stateMachineArn: updated.status?.resources?.stateMachineArn,
      }),
    );
    expect(sm.definition).toContain('"version"');
    expect(sm.definition).toContain('tranquility');
    const scheduleName = updated.status?.resources?.scheduleArn?.split('/').pop();
    const schedule = await aws.scheduler.send(new GetScheduleCommand({ Name: scheduleName }));
    expect(schedule).toMatchObject({
      ScheduleExpression: 'cron(0/5 * * * ? *)',
      ScheduleExpressionTimezone: 'Europe/Paris',
      State: 'DISABLED',
    });
    const updates = await eventually(
      'Updated Events for the state machine and the schedule',
      () => {
        const messages = eventsFor(namespace, name)
          .filter((e) => e.type === 'Normal' && e.reason === 'Updated')
          .map((e) => e.message);
        return messages.some((m) => m.startsWith('Updated Schedule')) &&
          messages.some((m) => m.startsWith('Updated StateMachine'))
          ? messages
          : undefined;
      },
    );
    // The Event names what changed, never a value.
    expect(updates).toContain(
      `Updated Schedule ${current.status?.resources?.scheduleArn?.split('/').pop()}: expression, timezone, state`,
    );
    expect(updates.join('\n')).not.toContain('Europe/Paris');
    expect(updated.status?.resources).toEqual(current.status?.resources);
    expect(await aws.restApisIn(namespace)).toHaveLength(1);
    const prefix = updated.status?.resources?.stateMachineArn?.split(':').pop() ?? '';
    expect(await aws.stateMachines(prefix)).toHaveLength(1);
    expect(await aws.schedules(scheduleName ?? '')).toHaveLength(1);
  });

  it('makes no mutating AWS call in steady state', async () => {
    const before = operator.lines().length;
    kubectlOk(['annotate', '-n', namespace, `downloader/${name}`, 'test/nudge=1', '--overwrite']);
    await eventually('a reconcile after the nudge', () =>
      operator
        .lines()
        .slice(before)
        .some((line) => line.includes('reconcile done'))
        ? true
        : undefined,
    );
    const changes = operator
      .lines()
      .slice(before)
      .filter((line) =>
        /created AWS resource|updated AWS resource|deleted AWS resource/.test(line),
      );
    expect(changes).toEqual([]);
  });

  it('deletes everything it created on delete, and keeps the retained table', async () => {
    const last = getDownloader(namespace, name)!;
    kubectlOk(['delete', '-n', namespace, `downloader/${name}`, '--timeout=60s']);
    const resources = last.status?.resources ?? {};
    expect(await aws.restApisIn(namespace)).toHaveLength(0);
    const prefix = resources.stateMachineArn?.split(':').pop() ?? '';
    expect(await aws.stateMachines(prefix)).toHaveLength(0);
    expect(await aws.schedules(resources.scheduleArn?.split('/').pop() ?? '')).toHaveLength(0);
    expect(await aws.roles(resources.stateMachineRoleArn?.split('/').pop() ?? '')).toHaveLength(0);
    expect(await aws.roles(resources.schedulerRoleArn?.split('/').pop() ?? '')).toHaveLength(0);
    expect(await aws.tableNames()).toContain(table);
  });
});
