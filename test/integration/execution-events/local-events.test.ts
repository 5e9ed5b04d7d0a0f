import { randomBytes } from 'node:crypto';
import {
  DeleteRuleCommand,
  DisableRuleCommand,
  EventBridgeClient,
  PutRuleCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import {
  CreateStateMachineCommand,
  DeleteStateMachineCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
  type StateMachineType,
} from '@aws-sdk/client-sfn';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { useLocalAws, type LocalAws } from '../aws/local-aws.js';

/**
 * The local AWS's Step Functions status change events (test/env/aws/moto_patches/
 * stepfunctions_events.py): what AWS puts on the default bus for each STANDARD execution, as a
 * rule with an SQS target receives it.
 */

const ROLE = 'arn:aws:iam::123456789012:role/local-events-test';

interface StatusEvent {
  version: string;
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown> & { status: string; executionArn: string };
}

describe('Step Functions execution status change events on the local AWS', () => {
  let aws: LocalAws;
  let sqs: SQSClient;
  let events: EventBridgeClient;
  let sfn: SFNClient;
  const suffix = randomBytes(3).toString('hex');
  const prefix = `dl-evtest-${suffix}`;
  const rules: string[] = [];
  const queues: string[] = [];
  const machines: string[] = [];

  beforeAll(async () => {
    aws = await useLocalAws();
    const config = { endpoint: aws.endpoint, region: aws.region, credentials: aws.credentials };
    sqs = new SQSClient(config);
    events = new EventBridgeClient(config);
    sfn = new SFNClient(config);
  });

  afterAll(async () => {
    for (const rule of rules) {
      await events.send(new RemoveTargetsCommand({ Rule: rule, Ids: ['q'] })).catch(() => {});
      await events.send(new DeleteRuleCommand({ Name: rule })).catch(() => {});
    }
    for (const url of queues) await sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
    for (const arn of machines) {
      await sfn.send(new DeleteStateMachineCommand({ stateMachineArn: arn })).catch(() => {});
    }
    for (const client of [sqs, events, sfn]) client?.destroy();
    await aws?.stop();
  });

  /** A queue fed by a rule matching status changes of state machines named `<namePrefix>...`. */
  async function ruleToQueue(name: string, namePrefix = prefix): Promise<string> {
    const queue = await sqs.send(new CreateQueueCommand({ QueueName: name }));
    const queueUrl = queue.QueueUrl ?? '';
    queues.push(queueUrl);
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
    );
    await events.send(
      new PutRuleCommand({
        Name: name,
        EventPattern: JSON.stringify({
          source: ['aws.states'],
          'detail-type': ['Step Functions Execution Status Change'],
          detail: {
            stateMachineArn: [
              { prefix: `arn:aws:states:${aws.region}:123456789012:stateMachine:${namePrefix}` },
            ],
          },
        }),
      }),
    );
    rules.push(name);
    await events.send(
      new PutTargetsCommand({ Rule: name, Targets: [{ Id: 'q', Arn: Attributes?.QueueArn }] }),
    );
    return queueUrl;
  }

  async function stateMachine(
    name: string,
    states: Record<string, unknown>,
    type: StateMachineType = 'STANDARD',
    extra: Record<string, unknown> = {},
  ): Promise<string> {
    const definition = JSON.stringify({
      StartAt: Object.keys(states)[0],
      States: states,
      ...extra,
    });
    const out = await sfn.send(
      new CreateStateMachineCommand({ name, definition, roleArn: ROLE, type }),
    );
    machines.push(out.stateMachineArn ?? '');
    return out.stateMachineArn ?? '';
  }

  /** Receives until `count` events arrived or `waitMs` passed. */
  async function receive(queueUrl: string, count: number, waitMs = 10_000) {
    const got: StatusEvent[] = [];
    const deadline = Date.now() + waitMs;
    while (got.length < count && Date.now() < deadline) {
      const out = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
        }),
      );
      for (const m of out.Messages ?? []) got.push(JSON.parse(m.Body ?? '{}') as StatusEvent);
    }
    return got;
  }

  it('puts RUNNING then SUCCEEDED for a STANDARD execution, shaped as AWS documents them', async () => {
    const queueUrl = await ruleToQueue(`evtest-ok-${suffix}`);
    const arn = await stateMachine(`${prefix}-ok`, { Done: { Type: 'Pass', End: true } });
    const started = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: arn, name: 'run-1', input: '{"a":1}' }),
    );

    const [running, succeeded] = await receive(queueUrl, 2);
    expect(running).toEqual({
      version: '0',
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      'detail-type': 'Step Functions Execution Status Change',
      source: 'aws.states',
      account: '123456789012',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      region: aws.region,
      resources: [started.executionArn],
      detail: {
        executionArn: started.executionArn,
        stateMachineArn: arn,
        name: 'run-1',
        status: 'RUNNING',
        startDate: started.startDate?.getTime(),
        stopDate: null,
        input: '{"a":1}',
        output: null,
        inputDetails: { included: true },
        outputDetails: null,
        error: null,
        cause: null,
      },
    });
    expect(succeeded?.detail).toMatchObject({
      status: 'SUCCEEDED',
      startDate: started.startDate?.getTime(),
      stopDate: expect.any(Number),
      output: '{"a":1}',
      outputDetails: { included: true },
    });
    expect(Number(succeeded?.detail.stopDate)).toBeGreaterThanOrEqual(
      Number(running?.detail.startDate),
    );
  });

  it('puts FAILED with error and cause, TIMED_OUT and ABORTED', async () => {
    const queueUrl = await ruleToQueue(`evtest-end-${suffix}`);
    const failing = await stateMachine(`${prefix}-fail`, {
      Boom: { Type: 'Fail', Error: 'Source.Broken', Cause: 'it <time> broke' },
    });
    const slow = await stateMachine(
      `${prefix}-slow`,
      { Nap: { Type: 'Wait', Seconds: 5, End: true } },
      'STANDARD',
      { TimeoutSeconds: 1 },
    );
    const long = await stateMachine(`${prefix}-long`, {
      Nap: { Type: 'Wait', Seconds: 60, End: true },
    });
    await sfn.send(new StartExecutionCommand({ stateMachineArn: failing, name: 'f' }));
    await sfn.send(new StartExecutionCommand({ stateMachineArn: slow, name: 't' }));
    const aborted = await sfn.send(new StartExecutionCommand({ stateMachineArn: long, name: 'a' }));
    await sfn.send(new StopExecutionCommand({ executionArn: aborted.executionArn }));

    const got = await receive(queueUrl, 6, 15_000);
    const final = Object.fromEntries(
      got.filter((e) => e.detail.status !== 'RUNNING').map((e) => [e.detail.name, e.detail]),
    );
    expect(got.filter((e) => e.detail.status === 'RUNNING')).toHaveLength(3);
    expect(final.f).toMatchObject({
      status: 'FAILED',
      error: 'Source.Broken',
      cause: 'it <time> broke',
      output: null,
    });
    expect(final.t).toMatchObject({ status: 'TIMED_OUT', stopDate: expect.any(Number) });
    expect(final.a).toMatchObject({ status: 'ABORTED', stopDate: expect.any(Number) });
  });

  it('puts nothing for an EXPRESS execution, as AWS', async () => {
    const queueUrl = await ruleToQueue(`evtest-express-${suffix}`, `${prefix}-express`);
    const arn = await stateMachine(
      `${prefix}-express`,
      { Done: { Type: 'Pass', End: true } },
      'EXPRESS',
    );
    await sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name: 'x' }));
    expect(await receive(queueUrl, 1, 3_000)).toEqual([]);
  });

  it('delivers only what the pattern matches, and nothing through a disabled rule', async () => {
    const matching = await ruleToQueue(`evtest-match-${suffix}`, `${prefix}-match`);
    const disabled = await ruleToQueue(`evtest-off-${suffix}`, `${prefix}-match`);
    await events.send(new DisableRuleCommand({ Name: `evtest-off-${suffix}` }));
    const other = await stateMachine(`other-${suffix}`, { Done: { Type: 'Pass', End: true } });
    const arn = await stateMachine(`${prefix}-match`, { Done: { Type: 'Pass', End: true } });
    await sfn.send(new StartExecutionCommand({ stateMachineArn: other, name: 'o' }));
    await sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name: 'm' }));

    const got = await receive(matching, 2);
    expect(got.map((e) => [e.detail.name, e.detail.status])).toEqual([
      ['m', 'RUNNING'],
      ['m', 'SUCCEEDED'],
    ]);
    expect(await receive(disabled, 1, 2_000)).toEqual([]);
  });
});
