import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  StartExecutionCommand,
  type ExecutionListItem,
  type ExecutionStatus,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import type { Logger } from 'pino';
import type { ExecutionSummary } from '../api/downloader-status.js';
import { awsErrorName, isNotFound, traced } from './errors.js';

/**
 * Reads and starts executions of a Downloader's state machine, for its status (last run, last
 * success) and the run-now annotation.
 *
 * Express workflows keep no execution history that ListExecutions can read (Step Functions
 * answers StateMachineTypeNotSupported): for them, latest and lastSuccess return undefined.
 * TODO(status of EXPRESS workflows): read their executions from the CloudWatch Logs log group
 * of the state machine's logging configuration.
 */

/** Longest failure cause kept in status; causes can be whole stack traces or response bodies. */
export const CAUSE_MAX_CHARS = 1024;

/** Statuses whose execution has an error and a cause worth reading. */
const FAILED_STATUSES: ReadonlySet<ExecutionStatus> = new Set<ExecutionStatus>([
  'FAILED',
  'TIMED_OUT',
  'ABORTED',
]);

/** What start did. */
export interface StartResult {
  executionArn: string;
  /** False when an execution of that name already existed: run-now acted upon before. */
  started: boolean;
}

/** Cuts `text` to `max` characters, marking the cut. */
export function capText(text: string, max = CAUSE_MAX_CHARS): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The ARN of execution `name` of a state machine. */
export function executionArn(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
}

function summary(item: ExecutionListItem): ExecutionSummary {
  return {
    name: item.name ?? '',
    ...(item.executionArn ? { arn: item.executionArn } : {}),
    status: item.status ?? 'UNKNOWN',
    startTime: (item.startDate ?? new Date(0)).toISOString(),
    ...(item.stopDate ? { stopTime: item.stopDate.toISOString() } : {}),
  };
}

/** Reads and starts executions of state machines; one instance serves every Downloader. */
export class ExecutionReader {
  private readonly logger: Logger | undefined;

  constructor(
    private readonly sfn: SFNClient,
    options: { logger?: Logger } = {},
  ) {
    this.logger = options.logger;
  }

  /**
   * The most recent execution, with error and cause (cut to CAUSE_MAX_CHARS) when it failed,
   * timed out or was aborted; undefined if there is none or it cannot be listed.
   */
  async latest(stateMachineArn: string): Promise<ExecutionSummary | undefined> {
    const item = await this.newest(stateMachineArn);
    if (!item) return undefined;

    const result = summary(item);
    if (!item.executionArn || !item.status || !FAILED_STATUSES.has(item.status)) return result;

    const arn = item.executionArn;
    try {
      const described = await traced(this.logger, 'DescribeExecution', () =>
        this.sfn.send(new DescribeExecutionCommand({ executionArn: arn })),
      );
      return {
        ...result,
        ...(described.error ? { error: described.error } : {}),
        ...(described.cause ? { cause: capText(described.cause) } : {}),
      };
    } catch (err) {
      // Execution history expires (90 days after closing): keep what the list said.
      if (isNotFound(err)) return result;
      throw err;
    }
  }

  /**
   * When the most recent successful execution ended (ISO 8601): the Downloader's last success.
   * Undefined if none succeeded (or the history cannot be listed).
   */
  async lastSuccess(stateMachineArn: string): Promise<string | undefined> {
    const item = await this.newest(stateMachineArn, 'SUCCEEDED');
    return (item?.stopDate ?? item?.startDate)?.toISOString();
  }

  /**
   * Starts execution `name`. Names are unique per state machine, so a name derived from the
   * run-now annotation's value makes this idempotent: ExecutionAlreadyExists means it was
   * started before, and is reported as `started: false`.
   */
  async start(stateMachineArn: string, name: string, input: string): Promise<StartResult> {
    try {
      const out = await traced(this.logger, 'StartExecution', () =>
        this.sfn.send(new StartExecutionCommand({ stateMachineArn, name, input })),
      );
      return {
        executionArn: out.executionArn ?? executionArn(stateMachineArn, name),
        started: true,
      };
    } catch (err) {
      if (awsErrorName(err) === 'ExecutionAlreadyExists') {
        return { executionArn: executionArn(stateMachineArn, name), started: false };
      }
      throw err;
    }
  }

  /** The newest execution (optionally of one status); ListExecutions lists newest first. */
  private async newest(
    stateMachineArn: string,
    statusFilter?: ExecutionStatus,
  ): Promise<ExecutionListItem | undefined> {
    try {
      const out = await traced(this.logger, 'ListExecutions', () =>
        this.sfn.send(
          new ListExecutionsCommand({
            stateMachineArn,
            maxResults: 1,
            ...(statusFilter ? { statusFilter } : {}),
          }),
        ),
      );
      return out.executions?.[0];
    } catch (err) {
      if (isNotFound(err) || awsErrorName(err) === 'StateMachineTypeNotSupported') return undefined;
      throw err;
    }
  }
}
