// The launcher's replacement of moto's apigateway:invoke task: the request it sends (Stage,
// Path, Headers and QueryParameters as maps of lists, RequestBody), the output it returns
// (Headers as lists, ResponseBody parsed, StatusCode, StatusText), and its failures
// (ApiGateway.<status>, so that Retry and Catch work), plus the dynamodb:putItem task.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';

import {
  type Clients,
  clientsFor,
  controlUpstream,
  createProxyApi,
  createStateMachine,
  destroyClients,
  executeOnce,
  invokeEndpoint,
  type ProxyApi,
  uniqueName,
  upstreamRequests,
  waitForExecution,
} from './fixtures.js';
import { type LocalAws, useLocalAws } from './local-aws.js';

// Set here rather than in the jest config, so the file runs the same under any config.
jest.setTimeout(30_000);

let aws: LocalAws;
let clients: Clients;
let api: ProxyApi;

beforeAll(async () => {
  aws = await useLocalAws();
  clients = clientsFor(aws);
  api = await createProxyApi(clients.apigw, { upstreamUrl: aws.upstreamUrl });
}, 600_000);

afterAll(async () => {
  if (clients) destroyClients(clients);
  await aws?.stop();
});

/** A one-state machine around an apigateway:invoke task; `state` adds Retry, Catch... */
function invokeMachine(parameters: Record<string, unknown>, state: Record<string, unknown> = {}) {
  return {
    StartAt: 'Invoke',
    States: {
      Invoke: {
        Type: 'Task',
        Resource: 'arn:aws:states:::apigateway:invoke',
        Parameters: {
          ApiEndpoint: invokeEndpoint(aws, api.restApiId),
          Stage: api.stage,
          Method: 'GET',
          ...parameters,
        },
        End: true,
        ...state,
      },
      ...(state.Catch ? { Caught: { Type: 'Pass', End: true } } : {}),
    },
  };
}

/** Creates the machine, runs it once with `input` and waits for the end. */
const execute = (definition: object, input: object = {}) =>
  executeOnce(clients.sfn, definition, input);

describe('the apigateway:invoke task', () => {
  it('returns Headers as lists with Date, the parsed ResponseBody, StatusCode and StatusText', async () => {
    const result = await execute(invokeMachine({ Path: '/v2/status' }));

    expect(result.status).toBe('SUCCEEDED');
    const output = result.parsedOutput as Record<string, unknown>;
    expect(Object.keys(output).sort()).toEqual([
      'Headers',
      'ResponseBody',
      'StatusCode',
      'StatusText',
    ]);
    expect(output.StatusCode).toBe(200);
    expect(output.StatusText).toBe('OK');
    expect(output.ResponseBody).toEqual({
      players: expect.any(Number),
      server_version: expect.any(String),
      start_time: expect.any(String),
    });
    const headers = output.Headers as Record<string, unknown>;
    expect(headers.Date).toEqual([expect.stringMatching(/GMT$/)]);
    expect(headers['Content-Type']).toEqual(['application/json; charset=UTF-8']);
    for (const values of Object.values(headers)) {
      expect(Array.isArray(values)).toBe(true);
    }
  });

  it('sends Stage, Path, QueryParameters and Headers given as maps of lists, from input paths', async () => {
    const scope = uniqueName('request-shape');
    const definition = invokeMachine({
      Path: 'v2/markets/orders',
      'QueryParameters.$': 'States.StringToJson($.query)',
      Headers: { 'X-Trace-Tag': ['a', 'b'] },
    });

    const result = await execute(definition, {
      query: JSON.stringify({ page: ['3'], scope: [scope] }),
    });

    expect(result.status).toBe('SUCCEEDED');
    const [received] = await upstreamRequests(aws, scope);
    expect(received?.path).toBe('/v2/markets/orders');
    expect(received?.query).toEqual({ page: '3', scope });
    expect(received?.headers['x-trace-tag']).toBe('a, b');
    const output = result.parsedOutput as { Headers: Record<string, string[]> };
    expect(output.Headers['X-Pages']).toEqual(['3']);
  });

  it('sends RequestBody as JSON', async () => {
    const result = await execute(
      invokeMachine({ Method: 'POST', Path: '/v2/echo', RequestBody: { hello: 'world' } }),
    );

    expect(result.status).toBe('SUCCEEDED');
    expect((result.parsedOutput as { ResponseBody: unknown }).ResponseBody).toEqual({
      method: 'POST',
      body: { hello: 'world' },
    });
  });

  it('returns a body that is not JSON as a string', async () => {
    const result = await execute(invokeMachine({ Path: '/v2/ping' }));

    expect(result.status).toBe('SUCCEEDED');
    expect((result.parsedOutput as { ResponseBody: unknown }).ResponseBody).toBe('pong');
  });

  it('reaches the REST API through the AWS form of ApiEndpoint too', async () => {
    const result = await execute(
      invokeMachine({
        ApiEndpoint: `${api.restApiId}.execute-api.${aws.region}.amazonaws.com`,
        Path: '/v2/status',
      }),
    );

    expect(result.status).toBe('SUCCEEDED');
  });

  it('fails with ApiGateway.503 and the response body as cause when the upstream answers 503', async () => {
    const scope = uniqueName('always-503');
    await controlUpstream(aws, scope, { failStatus: 503 });

    const result = await execute(
      invokeMachine({ Path: '/v2/status', QueryParameters: { scope: [scope] } }),
    );

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('ApiGateway.503');
    expect(JSON.parse(result.cause!)).toEqual({ error: 'failing on purpose with 503' });
  });

  it('succeeds through a Retry on ApiGateway.503 when only the first call fails', async () => {
    const scope = uniqueName('once-503');
    await controlUpstream(aws, scope, { failStatus: 503, failCount: 1 });

    const result = await execute(
      invokeMachine(
        { Path: '/v2/status', QueryParameters: { scope: [scope] } },
        { Retry: [{ ErrorEquals: ['ApiGateway.503'], IntervalSeconds: 1, MaxAttempts: 2 }] },
      ),
    );

    expect(result.status).toBe('SUCCEEDED');
    expect(await upstreamRequests(aws, scope)).toHaveLength(2);
  });

  it('lets a Catch on the status error take over', async () => {
    const result = await execute(
      invokeMachine(
        { Path: '/v2/no-such-thing' },
        { Catch: [{ ErrorEquals: ['ApiGateway.404'], Next: 'Caught', ResultPath: '$.error' }] },
      ),
    );

    expect(result.status).toBe('SUCCEEDED');
    expect(result.parsedOutput).toEqual({
      error: { Error: 'ApiGateway.404', Cause: JSON.stringify({ error: 'Not found' }) },
    });
  });

  it('refuses an Authorization header, which Step Functions forbids', async () => {
    const result = await execute(
      invokeMachine({ Path: '/v2/status', Headers: { Authorization: ['Bearer x'] } }),
    );

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('States.Runtime');
    expect(result.cause).toContain('Authorization');
  });

  it('fails with States.DataLimitExceeded when the response exceeds 256 KiB', async () => {
    const scope = uniqueName('big');
    await controlUpstream(aws, scope, { bodyBytes: 300_000 });

    const result = await execute(
      invokeMachine({ Path: '/v2/status', QueryParameters: { scope: [scope] } }),
    );

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('States.DataLimitExceeded');
  });
});

describe('executions started without a name', () => {
  it('get a UUID name, as on AWS', async () => {
    const stateMachineArn = await createStateMachine(
      clients.sfn,
      invokeMachine({ Path: '/v2/status' }),
    );

    const started = await clients.sfn.send(new StartExecutionCommand({ stateMachineArn }));

    expect(started.executionArn).toMatch(
      /:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );
    const execution = await waitForExecution(clients.sfn, started.executionArn!);
    expect(execution.status).toBe('SUCCEEDED');
  });
});

describe('the dynamodb:putItem task', () => {
  it('writes Item values from .$ paths and States.Format with their DynamoDB types', async () => {
    const { CreateTableCommand, GetItemCommand } = await import('@aws-sdk/client-dynamodb');
    const tableName = uniqueName('Items');
    await clients.ddb.send(
      new CreateTableCommand({
        TableName: tableName,
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    const definition = {
      StartAt: 'Put',
      States: {
        Put: {
          Type: 'Task',
          Resource: 'arn:aws:states:::dynamodb:putItem',
          Parameters: {
            TableName: tableName,
            Item: {
              pk: { 'S.$': '$.key' },
              count: { 'N.$': "States.Format('{}', $.body.players)" },
              label: { 'S.$': "States.Format('{} online', $.body.players)" },
              fixed: { BOOL: true },
            },
          },
          End: true,
        },
      },
    };

    const result = await execute(definition, { key: 'k1', body: { players: 24449 } });

    expect(result.status).toBe('SUCCEEDED');
    const item = await clients.ddb.send(
      new GetItemCommand({ TableName: tableName, Key: { pk: { S: 'k1' } } }),
    );
    expect(item.Item).toEqual({
      pk: { S: 'k1' },
      count: { N: '24449' },
      label: { S: '24449 online' },
      fixed: { BOOL: true },
    });
  });
});
