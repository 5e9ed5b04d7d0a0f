import {
  DescribeRuleCommand,
  ListTagsForResourceCommand,
  ListTargetsByRuleCommand,
  PutRuleCommand,
  PutTargetsCommand,
  TagResourceCommand,
  type EventBridgeClient,
} from '@aws-sdk/client-eventbridge';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueueTagsCommand,
  ReceiveMessageCommand,
  SetQueueAttributesCommand,
  TagQueueCommand,
  type QueueAttributeName,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Logger } from 'pino';
import type { AwsContext } from './context.js';
import { awsErrorName, isNotFound, traced } from './errors.js';
import { EXECUTION_STATUS_CHANGE } from './execution-event.js';
import { MANAGED_BY, TAG_KEYS } from './owner.js';

/**
 * The AWS side of execution status events: one SQS queue and one EventBridge rule on the default
 * bus that sends Step Functions' "Execution Status Change" events of the operator's state
 * machines (names starting `dl-`) to it, with a queue policy that lets only that rule send.
 * They are shared by every Downloader, belong to the operator installation rather than to a
 * Downloader, and are both named from configuration (--execution-events-queue): two
 * installations in one account and Region need two names, so each gets every event.
 *
 * Like the per-Downloader modules, `ensure` is level-based and idempotent: it reads what exists,
 * changes only what differs (attributes, policy, pattern, target, tags), and creates what is
 * missing, so running it at every start and on every resync is cheap and corrects drift.
 */

/** Attributes the operator sets on the queue; others are left as AWS or a person set them. */
export const QUEUE_ATTRIBUTES = {
  /** Older events are no use: the resync's ListExecutions has read their result by then. */
  MessageRetentionPeriod: String(24 * 3600),
  /** Long polling by default, for any consumer. */
  ReceiveMessageWaitTimeSeconds: '20',
  /** A batch's status writes take well under a second; a crashed consumer's batch comes back. */
  VisibilityTimeout: '30',
} as const;

/** Longest wait of one ReceiveMessage, the most SQS allows. */
export const RECEIVE_WAIT_SECONDS = 20;

/** Most messages one ReceiveMessage returns, the most SQS allows. */
export const RECEIVE_MAX_MESSAGES = 10;

/** Id of the rule's target; other targets someone adds to the rule are left alone. */
export const RULE_TARGET_ID = 'downloader-operator-queue';

/** Tags on the queue and the rule: operator-wide, so no Downloader's namespace, name or UID. */
export const EXECUTION_EVENTS_TAGS: Readonly<Record<string, string>> = {
  [TAG_KEYS.managedBy]: MANAGED_BY,
  'downloader.dev/component': 'execution-events',
};

const QUEUE_MISSING = new Set(['QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue']);

/** True when `err` says the queue does not exist (deleted, or never made). */
export function isQueueMissing(err: unknown): boolean {
  return QUEUE_MISSING.has(awsErrorName(err) ?? '');
}

/** What ensure made sure of. */
export interface ExecutionEventsChannel {
  queueUrl: string;
  queueArn: string;
  ruleName: string;
  ruleArn: string;
}

/** The ARN a queue of this name has in the operator's account and Region. */
export function queueArnOf(location: AwsContext, queueName: string): string {
  return `arn:${location.partition}:sqs:${location.region}:${location.accountId}:${queueName}`;
}

/** The ARN a rule of this name has on the default bus. */
export function ruleArnOf(location: AwsContext, ruleName: string): string {
  return `arn:${location.partition}:events:${location.region}:${location.accountId}:rule/${ruleName}`;
}

/**
 * The rule's event pattern: status changes of state machines the operator names (`dl-...`, see
 * resourceName) in this account and Region, whatever the status.
 */
export function executionEventPattern(location: AwsContext): Record<string, unknown> {
  const prefix = `arn:${location.partition}:states:${location.region}:${location.accountId}:stateMachine:dl-`;
  return {
    source: [EXECUTION_STATUS_CHANGE.source],
    'detail-type': [EXECUTION_STATUS_CHANGE.detailType],
    detail: { stateMachineArn: [{ prefix }] },
  };
}

/** The queue policy: EventBridge may send messages to the queue, for this rule only. */
export function queuePolicy(queueArn: string, ruleArn: string): Record<string, unknown> {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'ExecutionEventsFromEventBridge',
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: queueArn,
        Condition: { ArnEquals: { 'aws:SourceArn': ruleArn } },
      },
    ],
  };
}

/** JSON with object keys sorted, so that two documents differing only in key order compare equal. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );
}

function sameJson(text: string | undefined, wanted: unknown): boolean {
  if (!text) return false;
  try {
    return canonicalJson(JSON.parse(text)) === canonicalJson(wanted);
  } catch {
    return false;
  }
}

/** Makes sure the queue, its policy, the rule and its target exist as they should. */
export class ExecutionEventsInfrastructure {
  private readonly logger: Logger | undefined;

  constructor(
    private readonly sqs: SQSClient,
    private readonly events: EventBridgeClient,
    private readonly location: AwsContext,
    private readonly name: string,
    options: { logger?: Logger } = {},
  ) {
    this.logger = options.logger;
  }

  /**
   * Creates or corrects the queue (attributes, policy, tags), then the rule (pattern, state,
   * tags), then the rule's target. The queue comes first so that no event is sent to a queue
   * that does not exist yet; its policy names the rule's ARN, which is known before the rule is.
   */
  async ensure(): Promise<ExecutionEventsChannel> {
    const queueArn = queueArnOf(this.location, this.name);
    const ruleArn = ruleArnOf(this.location, this.name);
    const queueUrl = await this.ensureQueue(queueArn, ruleArn);
    await this.ensureRule(ruleArn);
    await this.ensureTarget(queueArn);
    return { queueUrl, queueArn, ruleName: this.name, ruleArn };
  }

  private async ensureQueue(queueArn: string, ruleArn: string): Promise<string> {
    const wanted: Record<string, string> = {
      ...QUEUE_ATTRIBUTES,
      Policy: JSON.stringify(queuePolicy(queueArn, ruleArn)),
    };
    const existing = await this.queueUrl();
    if (!existing) {
      const created = await traced(this.logger, 'CreateQueue', () =>
        this.sqs.send(
          new CreateQueueCommand({
            QueueName: this.name,
            Attributes: wanted,
            tags: { ...EXECUTION_EVENTS_TAGS },
          }),
        ),
      );
      this.logger?.info({ queue: this.name }, 'created execution events queue');
      return created.QueueUrl ?? '';
    }

    const { Attributes: attributes = {} } = await traced(this.logger, 'GetQueueAttributes', () =>
      this.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: existing,
          AttributeNames: Object.keys(wanted) as QueueAttributeName[],
        }),
      ),
    );
    const current: Record<string, string | undefined> = attributes;
    const changed = Object.entries(wanted).filter(([key, value]) =>
      key === 'Policy' ? !sameJson(current.Policy, JSON.parse(value)) : current[key] !== value,
    );
    if (changed.length > 0) {
      await traced(this.logger, 'SetQueueAttributes', () =>
        this.sqs.send(
          new SetQueueAttributesCommand({
            QueueUrl: existing,
            Attributes: Object.fromEntries(changed),
          }),
        ),
      );
      this.logger?.info(
        { queue: this.name, fields: changed.map(([key]) => key) },
        'updated execution events queue',
      );
    }

    const { Tags: tags = {} } = await traced(this.logger, 'ListQueueTags', () =>
      this.sqs.send(new ListQueueTagsCommand({ QueueUrl: existing })),
    );
    if (Object.entries(EXECUTION_EVENTS_TAGS).some(([key, value]) => tags[key] !== value)) {
      await traced(this.logger, 'TagQueue', () =>
        this.sqs.send(new TagQueueCommand({ QueueUrl: existing, Tags: EXECUTION_EVENTS_TAGS })),
      );
    }
    return existing;
  }

  private async queueUrl(): Promise<string | undefined> {
    try {
      const out = await traced(this.logger, 'GetQueueUrl', () =>
        this.sqs.send(new GetQueueUrlCommand({ QueueName: this.name })),
      );
      return out.QueueUrl;
    } catch (err) {
      if (isQueueMissing(err)) return undefined;
      throw err;
    }
  }

  private async ensureRule(ruleArn: string): Promise<void> {
    const pattern = executionEventPattern(this.location);
    const description = 'Step Functions execution status changes for downloader-operator';
    const current = await this.describeRule();
    const tagList = Object.entries(EXECUTION_EVENTS_TAGS).map(([Key, Value]) => ({ Key, Value }));
    if (
      !current ||
      !sameJson(current.EventPattern, pattern) ||
      current.State !== 'ENABLED' ||
      current.Description !== description
    ) {
      await traced(this.logger, 'PutRule', () =>
        this.events.send(
          new PutRuleCommand({
            Name: this.name,
            EventPattern: JSON.stringify(pattern),
            State: 'ENABLED',
            Description: description,
            // Tags apply only when the rule is created; an existing rule is tagged below.
            ...(current ? {} : { Tags: tagList }),
          }),
        ),
      );
      this.logger?.info(
        { rule: this.name },
        current ? 'updated execution events rule' : 'created execution events rule',
      );
      if (!current) return;
    }

    const { Tags: tags = [] } = await traced(this.logger, 'ListTagsForResource', () =>
      this.events.send(new ListTagsForResourceCommand({ ResourceARN: ruleArn })),
    );
    const has = new Map(tags.map((t) => [t.Key, t.Value]));
    if (tagList.some((t) => has.get(t.Key) !== t.Value)) {
      await traced(this.logger, 'TagResource', () =>
        this.events.send(new TagResourceCommand({ ResourceARN: ruleArn, Tags: tagList })),
      );
    }
  }

  private async describeRule() {
    try {
      return await traced(this.logger, 'DescribeRule', () =>
        this.events.send(new DescribeRuleCommand({ Name: this.name })),
      );
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async ensureTarget(queueArn: string): Promise<void> {
    const { Targets: targets = [] } = await traced(this.logger, 'ListTargetsByRule', () =>
      this.events.send(new ListTargetsByRuleCommand({ Rule: this.name })),
    );
    const ours = targets.find((t) => t.Id === RULE_TARGET_ID);
    if (ours?.Arn === queueArn && !ours.Input && !ours.InputPath && !ours.InputTransformer) {
      return;
    }
    const out = await traced(this.logger, 'PutTargets', () =>
      this.events.send(
        new PutTargetsCommand({
          Rule: this.name,
          Targets: [{ Id: RULE_TARGET_ID, Arn: queueArn }],
        }),
      ),
    );
    if (out.FailedEntryCount) {
      const failed = out.FailedEntries?.[0];
      throw Object.assign(new Error(`PutTargets failed: ${failed?.ErrorCode ?? 'unknown'}`), {
        name: failed?.ErrorCode ?? 'PutTargetsFailed',
      });
    }
    this.logger?.info(
      { rule: this.name, queue: queueArn },
      'pointed execution events rule at queue',
    );
  }
}

/** A message taken from the queue. */
export interface ReceivedMessage {
  body: string;
  receiptHandle: string;
  /** How many times it was received, this time included. */
  receiveCount: number;
}

/** Receives and deletes messages of the execution events queue. */
export class ExecutionEventQueue {
  private readonly logger: Logger | undefined;

  constructor(
    private readonly sqs: SQSClient,
    readonly queueUrl: string,
    options: { logger?: Logger } = {},
  ) {
    this.logger = options.logger;
  }

  /**
   * Long-polls for up to RECEIVE_MAX_MESSAGES messages, waiting up to RECEIVE_WAIT_SECONDS when
   * there are none. `signal` aborts the wait (on shutdown).
   */
  async receive(signal?: AbortSignal): Promise<ReceivedMessage[]> {
    const out = await this.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.queueUrl,
        MaxNumberOfMessages: RECEIVE_MAX_MESSAGES,
        WaitTimeSeconds: RECEIVE_WAIT_SECONDS,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
      signal ? { abortSignal: signal } : {},
    );
    return (out.Messages ?? []).flatMap((m) =>
      m.ReceiptHandle
        ? [
            {
              body: m.Body ?? '',
              receiptHandle: m.ReceiptHandle,
              receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? '1'),
            },
          ]
        : [],
    );
  }

  /**
   * Deletes messages (at most RECEIVE_MAX_MESSAGES, one batch call). Returns how many SQS
   * refused; those come back after the visibility timeout, which the consumer tolerates.
   */
  async delete(receiptHandles: readonly string[]): Promise<number> {
    if (receiptHandles.length === 0) return 0;
    const out = await traced(this.logger, 'DeleteMessageBatch', () =>
      this.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: receiptHandles.map((handle, i) => ({ Id: String(i), ReceiptHandle: handle })),
        }),
      ),
    );
    return out.Failed?.length ?? 0;
  }
}
