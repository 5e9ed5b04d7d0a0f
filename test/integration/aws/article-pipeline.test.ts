// The seed article's pipeline, end to end on the local AWS: a REST API proxying the stand-in
// EVE status API, the two-step state machine (apigateway:invoke, then dynamodb:putItem), run
// by StartExecution and by an EventBridge Scheduler rate schedule, with and without the
// Authorization header mapping the article's workaround needs.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { CreateScheduleCommand, DeleteScheduleCommand } from '@aws-sdk/client-scheduler';
import { ListExecutionsCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';

import {
  articleDefinition,
  type Clients,
  clientsFor,
  createPlayerCountTable,
  createProxyApi,
  createStateMachine,
  destroyClients,
  invokeEndpoint,
  launcherDebug,
  taskOutputs,
  TEST_ROLE_ARN,
  uniqueName,
  upstreamRequests,
  waitFor,
  waitForExecution,
} from './fixtures.js';
import { type LocalAws, useLocalAws } from './local-aws.js';

const HTTP_DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

interface InvokeOutput {
  Headers: Record<string, string[]>;
  ResponseBody: { players: number };
  StatusCode: number;
  StatusText: string;
}

// Set here rather than in the jest config, so the file runs the same under any config.
jest.setTimeout(30_000);

let aws: LocalAws;
let clients: Clients;

beforeAll(async () => {
  aws = await useLocalAws();
  clients = clientsFor(aws);
}, 600_000);

afterAll(async () => {
  if (clients) destroyClients(clients);
  await aws?.stop();
});

/** Runs one execution and returns its description and the first task's output. */
async function runOnce(stateMachineArn: string) {
  const started = await clients.sfn.send(
    new StartExecutionCommand({ stateMachineArn, name: uniqueName('run') }),
  );
  const execution = await waitForExecution(clients.sfn, started.executionArn!);
  const outputs = await taskOutputs(clients.sfn, started.executionArn!);
  return { execution, invokeOutput: outputs[0] as InvokeOutput | undefined };
}

describe('the article pipeline', () => {
  it('stores the player count keyed by the Date header when started by StartExecution', async () => {
    const api = await createProxyApi(clients.apigw, { upstreamUrl: aws.upstreamUrl });
    const tableName = await createPlayerCountTable(clients.ddb);
    const stateMachineArn = await createStateMachine(
      clients.sfn,
      articleDefinition({ apiEndpoint: invokeEndpoint(aws, api.restApiId), tableName }),
    );

    const { execution, invokeOutput } = await runOnce(stateMachineArn);

    expect(execution.status).toBe('SUCCEEDED');
    expect(invokeOutput?.StatusCode).toBe(200);
    const date = invokeOutput!.Headers.Date![0]!;
    expect(date).toMatch(HTTP_DATE);
    const players = invokeOutput!.ResponseBody.players;
    expect(Number.isInteger(players)).toBe(true);

    const item = await clients.ddb.send(
      new GetItemCommand({ TableName: tableName, Key: { pk: { S: date } } }),
    );
    expect(item.Item).toEqual({ pk: { S: date }, count: { N: String(players) } });
  });

  it('stores the player count when a rate(1 minute) schedule starts it, and plans the next run a minute later', async () => {
    const api = await createProxyApi(clients.apigw, { upstreamUrl: aws.upstreamUrl });
    const tableName = await createPlayerCountTable(clients.ddb);
    const stateMachineArn = await createStateMachine(
      clients.sfn,
      articleDefinition({ apiEndpoint: invokeEndpoint(aws, api.restApiId), tableName }),
    );
    const scheduleName = uniqueName('every-minute');

    const created = await clients.scheduler.send(
      new CreateScheduleCommand({
        Name: scheduleName,
        ScheduleExpression: 'rate(1 minute)',
        ScheduleExpressionTimezone: 'UTC',
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: { Arn: stateMachineArn, RoleArn: TEST_ROLE_ARN, Input: '{}' },
      }),
    );
    try {
      // Without a StartDate a rate schedule invokes its target as soon as it exists.
      const executionArn = await waitFor('the schedule to start an execution', async () => {
        const listed = await clients.sfn.send(new ListExecutionsCommand({ stateMachineArn }));
        return listed.executions?.[0]?.executionArn;
      });
      const execution = await waitForExecution(clients.sfn, executionArn);
      expect(execution.status).toBe('SUCCEEDED');

      const scan = await clients.ddb.send(new ScanCommand({ TableName: tableName }));
      expect(scan.Items).toHaveLength(1);
      expect(scan.Items![0]!.pk!.S).toMatch(HTTP_DATE);
      expect(scan.Items![0]!.count!.N).toMatch(/^\d+$/);

      const { schedules } = await launcherDebug<{
        schedules: { arn: string; lastFiredAt: string; nextFireAt: string; fireCount: number }[];
      }>(aws, 'scheduler/schedules');
      const tracked = schedules.find((s) => s.arn === created.ScheduleArn);
      expect(tracked?.fireCount).toBe(1);
      const nextMs = Date.parse(tracked!.nextFireAt) - Date.parse(tracked!.lastFiredAt);
      expect(nextMs).toBe(60_000);
    } finally {
      await clients.scheduler.send(new DeleteScheduleCommand({ Name: scheduleName }));
    }
  });
});

describe('a token-protected upstream endpoint', () => {
  const securePath = '/v2/secure/status';

  it('succeeds when the integration maps a static Authorization header', async () => {
    const scope = uniqueName('static-auth');
    const api = await createProxyApi(clients.apigw, {
      upstreamUrl: aws.upstreamUrl,
      integrationRequestParameters: {
        'integration.request.header.Authorization': `'Bearer ${aws.upstreamToken}'`,
      },
    });
    const tableName = await createPlayerCountTable(clients.ddb);
    const stateMachineArn = await createStateMachine(
      clients.sfn,
      articleDefinition({
        apiEndpoint: invokeEndpoint(aws, api.restApiId),
        tableName,
        path: securePath,
        invokeParameters: { QueryParameters: { scope: [scope] } },
      }),
    );

    const { execution } = await runOnce(stateMachineArn);

    expect(execution.status).toBe('SUCCEEDED');
    const received = await upstreamRequests(aws, scope);
    expect(received).toHaveLength(1);
    expect(received[0]!.headers.authorization).toBe(`Bearer ${aws.upstreamToken}`);
    const scan = await clients.ddb.send(new ScanCommand({ TableName: tableName }));
    expect(scan.Items).toHaveLength(1);
  });

  it("succeeds with the article's workaround: a MyCustomAuth header mapped to Authorization", async () => {
    const api = await createProxyApi(clients.apigw, {
      upstreamUrl: aws.upstreamUrl,
      methodRequestParameters: { 'method.request.header.MyCustomAuth': true },
      integrationRequestParameters: {
        'integration.request.header.Authorization': 'method.request.header.MyCustomAuth',
      },
    });
    const tableName = await createPlayerCountTable(clients.ddb);
    const stateMachineArn = await createStateMachine(
      clients.sfn,
      articleDefinition({
        apiEndpoint: invokeEndpoint(aws, api.restApiId),
        tableName,
        path: securePath,
        invokeParameters: { Headers: { MyCustomAuth: [`Bearer ${aws.upstreamToken}`] } },
      }),
    );

    const { execution } = await runOnce(stateMachineArn);

    expect(execution.status).toBe('SUCCEEDED');
  });

  it('fails with ApiGateway.401 and stores nothing without the header mapping', async () => {
    const api = await createProxyApi(clients.apigw, { upstreamUrl: aws.upstreamUrl });
    const tableName = await createPlayerCountTable(clients.ddb);
    const stateMachineArn = await createStateMachine(
      clients.sfn,
      articleDefinition({
        apiEndpoint: invokeEndpoint(aws, api.restApiId),
        tableName,
        path: securePath,
      }),
    );

    const { execution } = await runOnce(stateMachineArn);

    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('ApiGateway.401');
    expect(JSON.parse(execution.cause!)).toEqual({ error: 'authorization required' });
    const scan = await clients.ddb.send(new ScanCommand({ TableName: tableName }));
    expect(scan.Items).toHaveLength(0);
  });
});
