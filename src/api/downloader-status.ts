import { Type, type Static } from '@sinclair/typebox';
import { StringEnum, Timestamp } from './schema-kit.js';

/** The schema of `Downloader.status`, written only by the operator. */

const Condition = Type.Object(
  {
    type: Type.String({ description: 'Condition type, for example Ready.', maxLength: 316 }),
    status: StringEnum(['True', 'False', 'Unknown'] as const, {
      description: 'True, False or Unknown.',
    }),
    reason: Type.String({
      description: 'Stable CamelCase word saying why, for example TableKeyMismatch.',
      maxLength: 1024,
    }),
    message: Type.String({ description: 'What happened and what to do.', maxLength: 32768 }),
    observedGeneration: Type.Optional(
      Type.Integer({
        description: 'Generation of the spec the condition was set for.',
        minimum: 0,
      }),
    ),
    lastTransitionTime: Timestamp({ description: 'When the status last changed.' }),
  },
  { description: 'A metav1.Condition.' },
);

const Resources = Type.Object(
  {
    restApiId: Type.Optional(Type.String({ description: 'API Gateway REST API id of the proxy.' })),
    stageName: Type.Optional(Type.String({ description: 'Stage the state machine invokes.' })),
    connectionArn: Type.Optional(
      Type.String({
        description: 'ARN of the EventBridge connection the HTTP Task authenticates with.',
      }),
    ),
    tableArn: Type.Optional(Type.String({ description: 'ARN of the DynamoDB table.' })),
    stateMachineArn: Type.Optional(Type.String({ description: 'ARN of the state machine.' })),
    scheduleArn: Type.Optional(Type.String({ description: 'ARN of the schedule.' })),
    stateMachineRoleArn: Type.Optional(
      Type.String({ description: 'Role the state machine runs as.' }),
    ),
    schedulerRoleArn: Type.Optional(
      Type.String({ description: 'Role the schedule starts executions with.' }),
    ),
  },
  { description: 'Identifiers of the AWS resources that make up the pipeline.' },
);

const Execution = Type.Object(
  {
    name: Type.String({ description: 'Execution name.' }),
    arn: Type.Optional(Type.String({ description: 'Execution ARN.' })),
    status: Type.String({
      description: 'RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED.',
    }),
    startTime: Timestamp({ description: 'When it started.' }),
    stopTime: Type.Optional(Timestamp({ description: 'When it ended.' })),
    error: Type.Optional(Type.String({ description: 'Error name of a failed execution.' })),
    cause: Type.Optional(Type.String({ description: 'Cause of a failed execution.' })),
  },
  { description: 'The most recent execution of the state machine.' },
);

const Usd = (description: string) =>
  Type.String({ description: `${description}, in USD per month.`, pattern: '^[0-9]+\\.[0-9]{2}$' });

const CostEstimate = Type.Object(
  {
    monthlyUsd: Usd('The whole pipeline'),
    runsPerMonth: Type.Integer({ description: 'Executions a month the schedule makes.' }),
    breakdown: Type.Object(
      {
        stepFunctions: Usd('State transitions (STANDARD) or requests and duration (EXPRESS)'),
        apiGateway: Usd('Requests through the proxy (0 with HttpTask)'),
        dynamodb: Usd('Item writes (on-demand)'),
        scheduler: Usd('Schedule invocations'),
        connection: Type.Optional(
          Usd('The Secrets Manager secret behind the EventBridge connection (HttpTask)'),
        ),
      },
      { description: 'The estimate by service.' },
    ),
  },
  {
    description:
      'Estimated monthly cost of one request a run, from the schedule and the workflow type, ' +
      "at the operator's configured prices (default: us-east-1 list prices, no free tier).",
  },
);

/** `Downloader.status` as a schema. */
export const DownloaderStatusSchema = Type.Object(
  {
    observedGeneration: Type.Optional(
      Type.Integer({ description: 'Generation of the spec last reconciled.', minimum: 0 }),
    ),
    conditions: Type.Optional(
      Type.Array(Condition, {
        description:
          'ProxyReady, TableReady, StateMachineReady, ScheduleReady and Ready, the summary.',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      }),
    ),
    resources: Type.Optional(Resources),
    lastExecution: Type.Optional(Execution),
    lastSuccessTime: Type.Optional(
      Timestamp({ description: 'When the last successful execution ended.' }),
    ),
    estimatedMonthlyCost: Type.Optional(CostEstimate),
    lastRunNow: Type.Optional(
      Type.String({
        description: 'Value of the downloader.dev/run-now annotation last acted upon.',
      }),
    ),
  },
  { description: 'What the operator observed and did.' },
);

export type DownloaderStatus = Static<typeof DownloaderStatusSchema>;
export type Condition = Static<typeof Condition>;
export type ExecutionSummary = Static<typeof Execution>;
