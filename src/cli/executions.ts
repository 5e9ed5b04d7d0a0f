import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SFNClient,
  type ExecutionListItem,
} from '@aws-sdk/client-sfn';
import { awsErrorName, isNotFound } from '../aws/errors.js';

/** One execution as the plugin shows it. */
export interface ExecutionRecord {
  name: string;
  arn: string;
  status: string;
  startTime: Date;
  stopTime?: Date;
  /** Error name and cause, for executions that did not succeed (DescribeExecution only). */
  error?: string;
  cause?: string;
}

/** What the plugin reads of Step Functions. */
export interface ExecutionApi {
  /** Up to `limit` executions of a STANDARD state machine, newest first, without error/cause. */
  recent(stateMachineArn: string, limit: number): Promise<ExecutionRecord[]>;
  /** One execution with its error and cause, or undefined when it does not exist (yet). */
  describe(executionArn: string): Promise<ExecutionRecord | undefined>;
  /** Closes the connections. */
  close(): void;
}

/** Most executions one ListExecutions call returns. */
const LIST_PAGE_MAX = 1000;

/** Statuses of an execution that is over. */
export const FINAL_STATUSES: ReadonlySet<string> = new Set([
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'ABORTED',
]);

/** Whether an execution ended without success. */
export const isFailedStatus = (status: string) =>
  FINAL_STATUSES.has(status) && status !== 'SUCCEEDED';

/** The region of a Step Functions ARN (arn:aws:states:REGION:ACCOUNT:...). */
export function regionOfArn(arn: string): string | undefined {
  return arn.split(':')[3] || undefined;
}

/**
 * Step Functions through the AWS SDK's default configuration (AWS_PROFILE, AWS_ENDPOINT_URL and
 * the rest), with one client per region: each state machine is read in the region its ARN names,
 * whatever the user's default region is.
 */
export function awsExecutions(): ExecutionApi {
  // The SDK warns on every start under Node.js 20 that its 2027 releases will need Node.js 22: a
  // fact for whoever pins the SDK (README, Limitations), noise on every kubectl command.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const clients = new Map<string, SFNClient>();
  const clientFor = (arn: string) => {
    const region = regionOfArn(arn) ?? '';
    let client = clients.get(region);
    if (!client) {
      client = new SFNClient(region ? { region } : {});
      clients.set(region, client);
    }
    return client;
  };

  return {
    async recent(stateMachineArn, limit) {
      const records: ExecutionRecord[] = [];
      let nextToken: string | undefined;
      do {
        const out = await clientFor(stateMachineArn).send(
          new ListExecutionsCommand({
            stateMachineArn,
            maxResults: Math.min(limit - records.length, LIST_PAGE_MAX),
            nextToken,
          }),
        );
        records.push(...(out.executions ?? []).map(recordOf));
        nextToken = out.nextToken;
      } while (nextToken && records.length < limit);
      return records.slice(0, limit);
    },

    async describe(executionArn) {
      try {
        const out = await clientFor(executionArn).send(
          new DescribeExecutionCommand({ executionArn }),
        );
        return {
          ...recordOf({ ...out, name: out.name ?? executionArn.split(':').pop() }),
          ...(out.error ? { error: out.error } : {}),
          ...(out.cause ? { cause: out.cause } : {}),
        };
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },

    close() {
      for (const client of clients.values()) client.destroy();
    },
  };
}

function recordOf(item: ExecutionListItem): ExecutionRecord {
  return {
    name: item.name ?? '',
    arn: item.executionArn ?? '',
    status: item.status ?? 'UNKNOWN',
    startTime: item.startDate ?? new Date(0),
    ...(item.stopDate ? { stopTime: item.stopDate } : {}),
  };
}

/** A short description of an AWS error for a warning line: its name and message. */
export function describeAwsError(err: unknown): string {
  const name = awsErrorName(err) ?? (err instanceof Error ? err.name : 'Error');
  const message = err instanceof Error ? err.message : String(err);
  return message && message !== name ? `${name}: ${message}` : name;
}
