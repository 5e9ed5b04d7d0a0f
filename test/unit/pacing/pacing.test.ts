import { Readable } from 'node:stream';
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import {
  AWS_DEFAULT_RATE_LIMITS,
  AwsPacer,
  PACING_RATE_FACTOR,
  RateLimitsError,
  TokenBucket,
  parseRateLimits,
  type RateLimits,
} from '../../../src/aws/pacing.js';
import { FakeClock, flush } from './fake-clock.js';

/** Starts `count` acquires of one operation and records when each got its tokens. */
function startCalls(
  pacer: AwsPacer,
  clock: FakeClock,
  service: string,
  operation: string,
  count: number,
  log: Array<{ call: string; at: number }> = [],
) {
  const done = Array.from({ length: count }, (_, i) =>
    pacer.acquire(service, operation).then(() => {
      log.push({ call: `${operation}#${i}`, at: clock.now() });
    }),
  );
  return { log, done: Promise.all(done) };
}

const exact = (limits: RateLimits, clock: FakeClock) =>
  new AwsPacer(limits, { clock, rateFactor: 1 });

describe('TokenBucket', () => {
  it('lets a burst through at once, then one call per refill interval', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 40 }, clock);
    const times: number[] = [];
    for (let i = 0; i < 43; i++) void bucket.take().then(() => times.push(clock.now()));
    await flush();
    expect(times).toHaveLength(40);
    expect(new Set(times)).toEqual(new Set([0]));

    await clock.advance(99);
    expect(times).toHaveLength(40);
    await clock.advance(1);
    expect(times.slice(40)).toEqual([100]);
    await clock.advance(200);
    expect(times.slice(40)).toEqual([100, 200, 300]);
  });

  it('refills to the burst and no further while idle', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ ratePerSecond: 1, burst: 3 }, clock);
    for (let i = 0; i < 3; i++) await bucket.take();
    await clock.advance(60_000);
    const times: number[] = [];
    for (let i = 0; i < 4; i++) void bucket.take().then(() => times.push(clock.now()));
    await flush();
    expect(times).toEqual([60_000, 60_000, 60_000]);
    await clock.advance(1_000);
    expect(times).toEqual([60_000, 60_000, 60_000, 61_000]);
  });

  it('serves waiting callers first come, first served, a late caller never overtaking', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ ratePerSecond: 1, burst: 1 }, clock);
    const order: string[] = [];
    for (const name of ['a', 'b', 'c']) void bucket.take().then(() => order.push(name));
    await clock.advance(1_500);
    // A token is half refilled; the newcomer queues behind c instead of taking it.
    void bucket.take().then(() => order.push('d'));
    await clock.advance(5_000);
    expect(order).toEqual(['a', 'b', 'c', 'd']);
  });
});

describe('AwsPacer', () => {
  it('paces CreateRestApi at one call every 3 s, as the API Gateway quota allows', async () => {
    const clock = new FakeClock();
    const pacer = exact(AWS_DEFAULT_RATE_LIMITS, clock);
    const { log } = startCalls(pacer, clock, 'apigateway', 'CreateRestApi', 4);
    await clock.advance(10_000);
    expect(log.map((e) => e.at)).toEqual([0, 3_000, 6_000, 9_000]);
  });

  it('paces at PACING_RATE_FACTOR of the quota by default, leaving room for network jitter', async () => {
    const clock = new FakeClock();
    const pacer = new AwsPacer(AWS_DEFAULT_RATE_LIMITS, { clock });
    const { log } = startCalls(pacer, clock, 'apigateway', 'CreateDeployment', 2);
    await clock.advance(6_000);
    expect(PACING_RATE_FACTOR).toBeLessThan(1);
    expect(log.map((e) => e.at)).toEqual([0, Math.ceil(5_000 / PACING_RATE_FACTOR)]);
  });

  it('lets the Step Functions bucket of 100 through at once, then refills ListExecutions at 2/s', async () => {
    const clock = new FakeClock();
    const pacer = exact(AWS_DEFAULT_RATE_LIMITS, clock);
    const { log } = startCalls(pacer, clock, 'states', 'ListExecutions', 104);
    await flush();
    expect(log).toHaveLength(100);
    await clock.advance(2_000);
    expect(log.slice(100).map((e) => e.at)).toEqual([500, 1_000, 1_500, 2_000]);
  });

  it('does not hold DescribeTable or other API Gateway calls behind callers waiting on CreateRestApi', async () => {
    const clock = new FakeClock();
    const pacer = exact(AWS_DEFAULT_RATE_LIMITS, clock);
    const slow = startCalls(pacer, clock, 'apigateway', 'CreateRestApi', 5);
    await flush();
    expect(pacer.waiting('apigateway:CreateRestApi')).toBe(4);

    const log: Array<{ call: string; at: number }> = [];
    startCalls(pacer, clock, 'dynamodb', 'DescribeTable', 3, log);
    startCalls(pacer, clock, 'apigateway', 'GetStage', 3, log);
    await flush();
    expect(log.map((e) => e.at)).toEqual([0, 0, 0, 0, 0, 0]);
    // The waiting CreateRestApi callers hold no place in the shared API Gateway queue.
    expect(pacer.waiting('apigateway:*')).toBe(0);

    await clock.advance(12_000);
    expect(slow.log.map((e) => e.at)).toEqual([0, 3_000, 6_000, 9_000, 12_000]);
  });

  it('takes every API Gateway call from the shared 10/s bucket as well as its own', async () => {
    const clock = new FakeClock();
    const pacer = exact(AWS_DEFAULT_RATE_LIMITS, clock);
    const reads = startCalls(pacer, clock, 'apigateway', 'GetStage', 40);
    await flush();
    expect(reads.log).toHaveLength(40);

    // The shared bucket is empty: even the first CreateRestApi, whose own bucket is full, waits
    // for the next shared token, and the GetStage call queued before it goes first.
    const log: Array<{ call: string; at: number }> = [];
    startCalls(pacer, clock, 'apigateway', 'GetStage', 1, log);
    await flush();
    startCalls(pacer, clock, 'apigateway', 'CreateRestApi', 1, log);
    await clock.advance(250);
    expect(log).toEqual([
      { call: 'GetStage#0', at: 100 },
      { call: 'CreateRestApi#0', at: 200 },
    ]);
  });

  it('lets unlisted services through without waiting or reporting', async () => {
    const clock = new FakeClock();
    const waits: string[] = [];
    const pacer = new AwsPacer(AWS_DEFAULT_RATE_LIMITS, {
      clock,
      onWait: (service, operation) => waits.push(`${service}:${operation}`),
    });
    const { log } = startCalls(pacer, clock, 'sts', 'GetCallerIdentity', 500);
    await flush();
    expect(log).toHaveLength(500);
    expect(waits).toEqual([]);
  });

  it('reports each paced call with the time it waited', async () => {
    const clock = new FakeClock();
    const waits: Array<[string, string, number]> = [];
    const pacer = new AwsPacer(AWS_DEFAULT_RATE_LIMITS, {
      clock,
      rateFactor: 1,
      onWait: (service, operation, ms) => waits.push([service, operation, ms]),
    });
    startCalls(pacer, clock, 'apigateway', 'DeleteRestApi', 2);
    await clock.advance(30_000);
    expect(waits).toEqual([
      ['apigateway', 'DeleteRestApi', 0],
      ['apigateway', 'DeleteRestApi', 30_000],
    ]);
  });

  it('does nothing when pacing is off', () => {
    const pacer = new AwsPacer(parseRateLimits('off'));
    const added: unknown[] = [];
    pacer.instrument({ middlewareStack: { addRelativeTo: (...args) => added.push(args) } }, 'iam');
    expect(pacer.off).toBe(true);
    expect(added).toEqual([]);
  });
});

describe('AwsPacer.instrument', () => {
  /** An SFN client whose transport answers from `answers` in turn and logs each request. */
  function sfnClient(answers: Array<{ status: number; body: unknown }>, sent: string[]) {
    let n = 0;
    return new SFNClient({
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 3,
      requestHandler: {
        handle: async (request: { headers: Record<string, string> }) => {
          const answer = answers[Math.min(n++, answers.length - 1)]!;
          sent.push(request.headers['x-amz-target'] ?? '');
          return {
            response: {
              statusCode: answer.status,
              headers: { 'content-type': 'application/x-amz-json-1.0' },
              body: Readable.from([Buffer.from(JSON.stringify(answer.body))]),
            },
          };
        },
      },
    });
  }

  it('makes each attempt of an SDK call wait for its token, retries included', async () => {
    const clock = new FakeClock();
    const waits: Array<[string, string]> = [];
    const pacer = new AwsPacer(
      { 'states:ListExecutions': { ratePerSecond: 1, burst: 1 } },
      { clock, rateFactor: 1, onWait: (service, operation) => waits.push([service, operation]) },
    );
    const sent: string[] = [];
    const client = sfnClient(
      [
        { status: 400, body: { __type: 'ThrottlingException', message: 'Rate exceeded' } },
        { status: 200, body: { executions: [] } },
      ],
      sent,
    );
    pacer.instrument(client, 'states');

    const call = client.send(new ListExecutionsCommand({ stateMachineArn: 'arn:x' }));
    let settled = false;
    void call.then(() => (settled = true));
    // The first attempt goes at once and is throttled; the SDK's retry then waits for the next
    // token, which the fake clock holds back until it moves (the SDK's own backoff before the
    // retry is real time, so wait for the retry to reach the bucket).
    const deadline = Date.now() + 20_000;
    while (pacer.waiting('states:ListExecutions') === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(sent).toEqual(['AWSStepFunctions.ListExecutions']);
    expect(pacer.waiting('states:ListExecutions')).toBe(1);

    await clock.advance(1_000);
    const out = await call;
    expect(settled).toBe(true);
    expect(out.$metadata.attempts).toBe(2);
    expect(sent).toHaveLength(2);
    expect(waits).toEqual([
      ['states', 'ListExecutions'],
      ['states', 'ListExecutions'],
    ]);
    client.destroy();
  }, 30_000);
});

describe('parseRateLimits', () => {
  it('uses the documented AWS quotas when unset or "default", and none when "off"', () => {
    expect(parseRateLimits(undefined)).toBe(AWS_DEFAULT_RATE_LIMITS);
    expect(parseRateLimits(' default ')).toBe(AWS_DEFAULT_RATE_LIMITS);
    expect(parseRateLimits('off')).toEqual({});
    expect(AWS_DEFAULT_RATE_LIMITS['apigateway:CreateRestApi']).toEqual({
      ratePerSecond: 1 / 3,
      burst: 1,
    });
    expect(AWS_DEFAULT_RATE_LIMITS['states:ListExecutions']).toEqual({
      ratePerSecond: 2,
      burst: 100,
    });
  });

  it('changes, adds and removes limits over the defaults from a comma-separated list', () => {
    const limits = parseRateLimits(
      'apigateway:CreateRestApi=0.5/2, states:*=20/200,iam:*=off,dynamodb:DescribeTable=100/100',
    );
    expect(limits['apigateway:CreateRestApi']).toEqual({ ratePerSecond: 0.5, burst: 2 });
    expect(limits['states:*']).toEqual({ ratePerSecond: 20, burst: 200 });
    expect(limits['dynamodb:DescribeTable']).toEqual({ ratePerSecond: 100, burst: 100 });
    expect(limits['iam:*']).toBeUndefined();
    expect(limits['apigateway:CreateDeployment']).toEqual(
      AWS_DEFAULT_RATE_LIMITS['apigateway:CreateDeployment'],
    );
  });

  it('reads inline JSON and JSON files, with "rate/burst", objects and "off"', () => {
    const inline = parseRateLimits('{"iam:*": "20/40", "apigateway:*": "off"}');
    expect(inline['iam:*']).toEqual({ ratePerSecond: 20, burst: 40 });
    expect(inline['apigateway:*']).toBeUndefined();

    const files: Record<string, string> = {
      '/etc/limits.json': '{"states:ListExecutions": {"ratePerSecond": 5, "burst": 200}}',
    };
    const fromFile = parseRateLimits('/etc/limits.json', (path) => files[path] ?? '');
    expect(fromFile['states:ListExecutions']).toEqual({ ratePerSecond: 5, burst: 200 });
  });

  it.each([
    ['apigateway=1/1', /service:Operation/],
    ['apigateway:createRestApi=1/1', /service:Operation/],
    ['apigateway:CreateRestApi=0/1', /rate must be a positive/],
    ['apigateway:CreateRestApi=1/0.5', /burst must be at least 1/],
    ['apigateway:CreateRestApi=fast', /not rate\/burst/],
    ['{"iam:*": 3}', /give "rate\/burst"/],
    ['{not json', /not JSON/],
  ])('refuses %s, saying what is wrong', (setting, message) => {
    expect(() => parseRateLimits(setting)).toThrow(RateLimitsError);
    expect(() => parseRateLimits(setting)).toThrow(message);
  });

  it('names a file it cannot read', () => {
    expect(() =>
      parseRateLimits('/missing.json', () => {
        throw new Error('ENOENT');
      }),
    ).toThrow(/cannot read the rate limits file \/missing.json/);
  });
});
