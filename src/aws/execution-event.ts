import type { ExecutionSummary } from '../api/downloader-status.js';
import { capText } from './executions.js';

/**
 * Step Functions' "Execution Status Change" events, as EventBridge delivers them to an SQS queue
 * (the message body is the event itself). Step Functions puts one on the default bus when an
 * execution of a STANDARD state machine starts and when it ends; EXPRESS workflows emit none.
 * Delivery is at least once and in no guaranteed order, so a consumer must tolerate duplicates
 * and an older status arriving after a newer one.
 */

/** Source and detail-type of the events; the rule's pattern matches on both. */
export const EXECUTION_STATUS_CHANGE = {
  source: 'aws.states',
  detailType: 'Step Functions Execution Status Change',
} as const;

/** One execution status change, read from an event. */
export interface ExecutionStatusEvent {
  /** The event id: EventBridge may deliver the same id more than once. */
  id: string;
  stateMachineArn: string;
  /** The execution as the Downloader's status shows it (cause cut to CAUSE_MAX_CHARS). */
  execution: ExecutionSummary;
}

/** What parseExecutionEvent made of a message body. */
export type ParsedExecutionEvent =
  { ok: true; event: ExecutionStatusEvent } | { ok: false; problem: string };

/** Statuses an execution can have (ExecutionStatus of the Step Functions API). */
const STATUSES: ReadonlySet<string> = new Set([
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'ABORTED',
  'PENDING_REDRIVE',
]);

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const optionalText = (value: unknown): string | undefined =>
  typeof value === 'string' && value.length > 0 ? value : undefined;

function isoFromEpochMs(value: unknown): string | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/**
 * Reads an SQS message body holding an execution status change event. Anything else (another
 * event, a malformed body, a detail missing the execution's ARN, name, status or start) is
 * reported with the problem, never thrown: a consumer drops such messages.
 */
export function parseExecutionEvent(body: string): ParsedExecutionEvent {
  let event: unknown;
  try {
    event = JSON.parse(body);
  } catch {
    return { ok: false, problem: 'the message body is not JSON' };
  }
  if (!isObject(event)) return { ok: false, problem: 'the message body is not an event object' };
  if (
    event.source !== EXECUTION_STATUS_CHANGE.source ||
    event['detail-type'] !== EXECUTION_STATUS_CHANGE.detailType
  ) {
    return { ok: false, problem: 'not a Step Functions execution status change event' };
  }

  const detail = event.detail;
  if (!isObject(detail)) return { ok: false, problem: 'the event has no detail' };
  const { executionArn, stateMachineArn, name, status } = detail;
  const startTime = isoFromEpochMs(detail.startDate);
  if (typeof executionArn !== 'string' || typeof stateMachineArn !== 'string') {
    return { ok: false, problem: 'the detail has no executionArn or stateMachineArn' };
  }
  if (typeof name !== 'string' || typeof status !== 'string' || !STATUSES.has(status)) {
    return { ok: false, problem: 'the detail has no name or a status that is not known' };
  }
  if (!startTime) return { ok: false, problem: 'the detail has no startDate' };

  const stopTime = status === 'RUNNING' ? undefined : isoFromEpochMs(detail.stopDate);
  const error = optionalText(detail.error);
  const cause = optionalText(detail.cause);
  return {
    ok: true,
    event: {
      id: typeof event.id === 'string' ? event.id : '',
      stateMachineArn,
      execution: {
        name,
        arn: executionArn,
        status,
        startTime,
        ...(stopTime ? { stopTime } : {}),
        ...(error ? { error } : {}),
        ...(cause ? { cause: capText(cause) } : {}),
      },
    },
  };
}
