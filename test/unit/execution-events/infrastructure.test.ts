import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SQSClient } from '@aws-sdk/client-sqs';
import {
  executionEventPattern,
  ExecutionEventsInfrastructure,
  queuePolicy,
  QUEUE_ATTRIBUTES,
  RULE_TARGET_ID,
} from '../../../src/aws/execution-events.js';
import { awsError, fakeClient, type Handler } from '../aws/fake-client.js';
import { LOCATION } from './fixtures.js';

const NAME = 'downloader-operator-executions';
const QUEUE_URL = `https://sqs.eu-west-1.amazonaws.com/123456789012/${NAME}`;
const QUEUE_ARN = `arn:aws:sqs:eu-west-1:123456789012:${NAME}`;
const RULE_ARN = `arn:aws:events:eu-west-1:123456789012:rule/${NAME}`;
const TAGS = {
  'downloader.dev/managed-by': 'downloader-operator',
  'downloader.dev/component': 'execution-events',
};

/** What AWS holds when everything is as the operator wants it. */
function steadyState(): { sqs: Record<string, Handler>; events: Record<string, Handler> } {
  return {
    sqs: {
      GetQueueUrl: () => ({ QueueUrl: QUEUE_URL }),
      GetQueueAttributes: () => ({
        Attributes: {
          ...QUEUE_ATTRIBUTES,
          // AWS gives the policy back with its own key order.
          Policy: JSON.stringify({
            Statement: (queuePolicy(QUEUE_ARN, RULE_ARN) as { Statement: unknown[] }).Statement,
            Version: '2012-10-17',
          }),
        },
      }),
      ListQueueTags: () => ({ Tags: { ...TAGS, team: 'data' } }),
    },
    events: {
      DescribeRule: () => ({
        Name: NAME,
        Arn: RULE_ARN,
        EventPattern: JSON.stringify(executionEventPattern(LOCATION)),
        State: 'ENABLED',
        Description: 'Step Functions execution status changes for downloader-operator',
      }),
      ListTagsForResource: () => ({
        Tags: Object.entries(TAGS).map(([Key, Value]) => ({ Key, Value })),
      }),
      ListTargetsByRule: () => ({
        Targets: [
          { Id: RULE_TARGET_ID, Arn: QUEUE_ARN },
          { Id: 'archive', Arn: 'arn:aws:events:eu-west-1:123456789012:event-bus/x' },
        ],
      }),
    },
  };
}

function infrastructure(sqs: Record<string, Handler>, events: Record<string, Handler>) {
  const sqsClient = fakeClient(sqs);
  const eventsClient = fakeClient(events);
  return {
    sqs: sqsClient,
    events: eventsClient,
    subject: new ExecutionEventsInfrastructure(
      sqsClient as unknown as SQSClient,
      eventsClient as unknown as EventBridgeClient,
      LOCATION,
      NAME,
    ),
  };
}

describe(ExecutionEventsInfrastructure.name, () => {
  it('creates the queue with its policy and tags, then the rule, then its target', async () => {
    const inputs: Record<string, Record<string, unknown>> = {};
    const record = (operation: string, out: unknown) => (input: Record<string, unknown>) => {
      inputs[operation] = input;
      return out;
    };
    const { subject, sqs, events } = infrastructure(
      {
        GetQueueUrl: () => {
          throw awsError('QueueDoesNotExist');
        },
        CreateQueue: record('CreateQueue', { QueueUrl: QUEUE_URL }),
      },
      {
        DescribeRule: () => {
          throw awsError('ResourceNotFoundException');
        },
        PutRule: record('PutRule', { RuleArn: RULE_ARN }),
        ListTargetsByRule: () => ({ Targets: [] }),
        PutTargets: record('PutTargets', { FailedEntryCount: 0 }),
      },
    );

    await expect(subject.ensure()).resolves.toEqual({
      queueUrl: QUEUE_URL,
      queueArn: QUEUE_ARN,
      ruleName: NAME,
      ruleArn: RULE_ARN,
    });
    expect(sqs.calls).toEqual(['GetQueueUrl', 'CreateQueue']);
    expect(events.calls).toEqual(['DescribeRule', 'PutRule', 'ListTargetsByRule', 'PutTargets']);

    const attributes = inputs.CreateQueue?.Attributes as Record<string, string>;
    expect(JSON.parse(attributes.Policy ?? '')).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'ExecutionEventsFromEventBridge',
          Effect: 'Allow',
          Principal: { Service: 'events.amazonaws.com' },
          Action: 'sqs:SendMessage',
          Resource: QUEUE_ARN,
          Condition: { ArnEquals: { 'aws:SourceArn': RULE_ARN } },
        },
      ],
    });
    expect(inputs.CreateQueue?.tags).toEqual(TAGS);
    expect(JSON.parse(String(inputs.PutRule?.EventPattern))).toEqual({
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: {
        stateMachineArn: [{ prefix: 'arn:aws:states:eu-west-1:123456789012:stateMachine:dl-' }],
      },
    });
    expect(inputs.PutRule).toMatchObject({ State: 'ENABLED', Tags: expect.any(Array) });
    expect(inputs.PutTargets?.Targets).toEqual([{ Id: RULE_TARGET_ID, Arn: QUEUE_ARN }]);
  });

  it('makes no mutating call when everything is in place (other tags and targets stay)', async () => {
    const { sqs, events } = steadyState();
    const { subject, sqs: sqsClient, events: eventsClient } = infrastructure(sqs, events);
    await subject.ensure();
    expect(sqsClient.calls).toEqual(['GetQueueUrl', 'GetQueueAttributes', 'ListQueueTags']);
    expect(eventsClient.calls).toEqual([
      'DescribeRule',
      'ListTagsForResource',
      'ListTargetsByRule',
    ]);
  });

  it('puts back a changed policy, a disabled rule and a target moved elsewhere', async () => {
    const { sqs, events } = steadyState();
    const inputs: Record<string, unknown> = {};
    sqs.GetQueueAttributes = () => ({
      Attributes: { ...QUEUE_ATTRIBUTES, Policy: '{"Version":"2012-10-17","Statement":[]}' },
    });
    sqs.SetQueueAttributes = (input) => (inputs.SetQueueAttributes = input);
    const describe = events.DescribeRule!;
    events.DescribeRule = (input) => ({ ...(describe(input) as object), State: 'DISABLED' });
    events.PutRule = (input) => (inputs.PutRule = input);
    events.ListTargetsByRule = () => ({
      Targets: [{ Id: RULE_TARGET_ID, Arn: 'arn:aws:sqs:eu-west-1:123456789012:elsewhere' }],
    });
    events.PutTargets = () => ({ FailedEntryCount: 0 });
    const { subject, events: eventsClient } = infrastructure(sqs, events);

    await subject.ensure();
    expect(Object.keys((inputs.SetQueueAttributes as { Attributes: object }).Attributes)).toEqual([
      'Policy',
    ]);
    expect(inputs.PutRule).toMatchObject({ State: 'ENABLED' });
    expect(inputs.PutRule).not.toHaveProperty('Tags');
    expect(eventsClient.calls).toContain('PutTargets');
  });

  it('fails when EventBridge refuses the target, so that the consumer retries', async () => {
    const { sqs, events } = steadyState();
    events.ListTargetsByRule = () => ({ Targets: [] });
    events.PutTargets = () => ({
      FailedEntryCount: 1,
      FailedEntries: [{ ErrorCode: 'AccessDeniedException' }],
    });
    const { subject } = infrastructure(sqs, events);
    await expect(subject.ensure()).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });
});
