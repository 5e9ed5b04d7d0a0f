import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { APIGatewayClient, GetRestApisCommand } from '@aws-sdk/client-api-gateway';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { GetScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { ListStateMachinesCommand, SFNClient } from '@aws-sdk/client-sfn';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import {
  awsErrorKind,
  isAccessDenied,
  isThrottling,
  isTransient,
} from '../../../src/aws/errors.js';
import { classifyFailure } from '../../../src/controller/failure.js';
import { AwsFaultProxy, classifyRequest, type FaultKind } from '../../faults/aws-fault-proxy.js';

/**
 * The fault proxy's answers must be the errors AWS sends, as the SDK parses them: otherwise the
 * reliability tests would test our imitation rather than the operator. Each service's client
 * talks to the proxy, which forwards to a stub standing in for moto.
 */

let stub: http.Server;
let stubUrl: string;
let stubRequests = 0;

beforeAll(async () => {
  stub = http.createServer((req, res) => {
    stubRequests += 1;
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
  stubUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => stub.close(() => resolve()));
});

const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

/** One cheap read per service, as the operator's clients send it. */
function calls(endpoint: string, maxAttempts: number) {
  const config = { endpoint, region: 'us-east-1', credentials, maxAttempts };
  return {
    dynamodb: () => new DynamoDBClient(config).send(new DescribeTableCommand({ TableName: 't' })),
    states: () => new SFNClient(config).send(new ListStateMachinesCommand({})),
    apigateway: () => new APIGatewayClient(config).send(new GetRestApisCommand({})),
    scheduler: () => new SchedulerClient(config).send(new GetScheduleCommand({ Name: 's' })),
    iam: () => new IAMClient(config).send(new GetRoleCommand({ RoleName: 'r' })),
    sts: () => new STSClient(config).send(new GetCallerIdentityCommand({})),
  };
}

type Service = keyof ReturnType<typeof calls>;
const SERVICES: Service[] = ['dynamodb', 'states', 'apigateway', 'scheduler', 'iam', 'sts'];

const EXPECTED_NAMES: Record<Service, Partial<Record<FaultKind, string>>> = {
  dynamodb: {
    throttle: 'ThrottlingException',
    error500: 'InternalServerError',
    accessDenied: 'AccessDeniedException',
  },
  states: { throttle: 'ThrottlingException', accessDenied: 'AccessDeniedException' },
  apigateway: { throttle: 'TooManyRequestsException', accessDenied: 'AccessDeniedException' },
  scheduler: {
    throttle: 'ThrottlingException',
    error500: 'InternalServerException',
    accessDenied: 'AccessDeniedException',
  },
  iam: {
    throttle: 'Throttling',
    error500: 'ServiceFailureException',
    accessDenied: 'AccessDenied',
  },
  sts: { throttle: 'Throttling', accessDenied: 'AccessDenied' },
};

async function failureOf(call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call();
  } catch (err) {
    return err;
  }
  throw new Error('the call succeeded');
}

describe(AwsFaultProxy.name, () => {
  let proxy: AwsFaultProxy;

  afterEach(async () => {
    await proxy?.close();
  });

  describe.each(SERVICES)('for %s', (service) => {
    it('answers throttling that the SDK and the operator classify as throttling (AwsThrottled)', async () => {
      proxy = await AwsFaultProxy.start({ target: stubUrl, seed: 1 });
      proxy.addRule({ service, fault: 'throttle' });
      const err = await failureOf(calls(proxy.url, 1)[service]);
      expect((err as Error).name).toBe(EXPECTED_NAMES[service].throttle);
      expect(isThrottling(err)).toBe(true);
      expect(classifyFailure(err).reason).toBe('AwsThrottled');
    });

    it.each(['error500', 'error503'] as const)(
      'answers %s that the operator retries as a server fault (AwsError)',
      async (fault) => {
        proxy = await AwsFaultProxy.start({ target: stubUrl, seed: 1 });
        proxy.addRule({ service, fault });
        const err = await failureOf(calls(proxy.url, 1)[service]);
        const expected = fault === 'error500' ? EXPECTED_NAMES[service].error500 : undefined;
        if (expected) expect((err as Error).name).toBe(expected);
        expect(isTransient(err)).toBe(true);
        expect(isThrottling(err)).toBe(false);
        expect(classifyFailure(err).reason).toBe('AwsError');
      },
    );

    it('answers access denied that the operator reports as AccessDenied', async () => {
      proxy = await AwsFaultProxy.start({ target: stubUrl, seed: 1 });
      proxy.addRule({ service, fault: 'accessDenied' });
      const err = await failureOf(calls(proxy.url, 1)[service]);
      expect((err as Error).name).toBe(EXPECTED_NAMES[service].accessDenied);
      expect(isAccessDenied(err)).toBe(true);
      expect(classifyFailure(err).reason).toBe('AccessDenied');
    });
  });

  it('lets the SDK retry throttling itself: three attempts by default, one request each', async () => {
    proxy = await AwsFaultProxy.start({ target: stubUrl, seed: 1 });
    proxy.addRule({ service: 'dynamodb', fault: 'throttle' });
    const err = await failureOf(calls(proxy.url, 3).dynamodb);
    expect(awsErrorKind(err)).toBe('throttling');
    expect((err as { $metadata: { attempts: number } }).$metadata.attempts).toBe(3);
    expect(proxy.serviceStats().dynamodb?.faults.throttle).toBe(3);
  });

  it('hides a fault from the caller when a retry of the SDK succeeds', async () => {
    proxy = await AwsFaultProxy.start({ target: stubUrl, seed: 1 });
    proxy.addRule({ service: 'dynamodb', fault: 'throttle', times: 2 });
    await expect(calls(proxy.url, 3).dynamodb()).resolves.toBeDefined();
    expect(proxy.serviceStats().dynamodb).toMatchObject({ requests: 3, forwarded: 1 });
  });

  it('resets a connection before the request reaches the target, or after it was processed', async () => {
    proxy = await AwsFaultProxy.start({ target: stubUrl, seed: 1 });
    const before = stubRequests;
    proxy.addRule({ service: 'sts', fault: 'resetBefore', times: 1 });
    // Under Jest's VM modules, Node's socket errors come from another realm and the SDK wraps
    // them ("AWS SDK error wrapper for TimeoutError"), losing the code: only the text is checked
    // here. In the operator's own process the error keeps name TimeoutError and code ECONNRESET,
    // which isTransient retries.
    expect(String(await failureOf(calls(proxy.url, 1).sts))).toContain('socket hang up');
    expect(stubRequests).toBe(before);

    proxy.addRule({ service: 'sts', fault: 'resetAfter', times: 1 });
    expect(String(await failureOf(calls(proxy.url, 1).sts))).toContain('socket hang up');
    expect(stubRequests).toBe(before + 1);
    expect(proxy.creates()).toEqual([]);
  });

  it('matches rules on the body, so one table can be denied while others are not', async () => {
    proxy = await AwsFaultProxy.start({ target: stubUrl, seed: 1 });
    proxy.addRule({ service: 'dynamodb', bodyIncludes: '"Forbidden"', fault: 'accessDenied' });
    const config = { endpoint: proxy.url, region: 'us-east-1', credentials, maxAttempts: 1 };
    const client = new DynamoDBClient(config);
    await expect(client.send(new DescribeTableCommand({ TableName: 'Allowed' }))).resolves.toEqual(
      expect.anything(),
    );
    const err = await failureOf(() =>
      client.send(new DescribeTableCommand({ TableName: 'Forbidden' })),
    );
    expect(isAccessDenied(err)).toBe(true);
  });

  it('injects random faults at the asked rate, the same ones for the same seed', async () => {
    const run = async (seed: number) => {
      proxy = await AwsFaultProxy.start({
        target: stubUrl,
        seed,
        rate: 0.3,
        kinds: { throttle: 1, error503: 1 },
      });
      const outcomes: string[] = [];
      for (let i = 0; i < 60; i++) {
        const err = await calls(proxy.url, 1)
          .states()
          .then(
            () => 'ok',
            (e: unknown) => (e as Error).name,
          );
        outcomes.push(err);
      }
      await proxy.close();
      return outcomes;
    };
    const first = await run(42);
    expect(await run(42)).toEqual(first);
    const faults = first.filter((o) => o !== 'ok').length;
    expect(faults).toBeGreaterThan(6);
    expect(faults).toBeLessThan(30);
  });
});

describe(classifyRequest.name, () => {
  const signed = (service: string) => ({
    authorization: `AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=0`,
  });

  it('names the operation and the created resource of each protocol', () => {
    expect(
      classifyRequest(
        'POST',
        '/',
        { ...signed('dynamodb'), 'x-amz-target': 'DynamoDB_20120810.CreateTable' },
        '{"TableName":"T1"}',
      ),
    ).toMatchObject({ service: 'dynamodb', operation: 'CreateTable', resourceName: 'T1' });
    expect(
      classifyRequest('POST', '/', signed('iam'), 'Action=CreateRole&RoleName=dl-a&Version=x'),
    ).toMatchObject({
      service: 'iam',
      protocol: 'query',
      operation: 'CreateRole',
      resourceName: 'dl-a',
    });
    expect(
      classifyRequest('POST', '/restapis', signed('apigateway'), '{"name":"p"}'),
    ).toMatchObject({ operation: 'CreateRestApi', resourceName: 'p' });
    expect(classifyRequest('POST', '/schedules/dl-x', signed('scheduler'), '{}')).toMatchObject({
      operation: 'CreateSchedule',
      resourceName: 'dl-x',
    });
  });

  it('never faults the data path of a deployed REST API unless asked', () => {
    expect(
      classifyRequest('GET', '/restapis/abc/prod/_user_request_/v2/status', {}, ''),
    ).toMatchObject({ passThrough: true });
    expect(classifyRequest('GET', '/restapis/abc', signed('apigateway'), '')).toMatchObject({
      passThrough: false,
      operation: 'GetRestApi',
    });
  });
});
