import { DOWNLOAD_STATE } from './definition.js';
import { MULTI_REQUEST_ERRORS, MULTI_REQUEST_STATES } from './multi-request.js';
import {
  API_GATEWAY_ERROR_PREFIX,
  CONNECTION_ERROR_PREFIX,
  DYNAMODB_ERRORS,
  HTTP_TASK_SOCKET_ERROR,
  STATES_ERRORS,
  statusOfApiGatewayError,
  statusOfHttpTaskError,
} from './error-names.js';

/**
 * Turns the error and cause of a failed execution into a stable reason for the Downloader's
 * conditions and events, so users see "SourceUnauthorized" rather than "ApiGateway.401".
 */

/** Reasons for failed executions. Stable CamelCase words: users and alerts match on them. */
export const EXECUTION_FAILURE_REASONS = {
  /** The source answered 401 or 403: the credential is missing, wrong or not allowed. */
  sourceUnauthorized: 'SourceUnauthorized',
  /** The source answered 404: the path does not exist there. */
  sourceNotFound: 'SourceNotFound',
  /** The source answered 429 until the retries ran out. */
  sourceThrottled: 'SourceThrottled',
  /** The source (or API Gateway, for 502/504) answered 5xx until the retries ran out. */
  sourceServerError: 'SourceServerError',
  /** The source refused the request with another 4xx: method, query or headers are wrong. */
  sourceRejectedRequest: 'SourceRejectedRequest',
  /** The source answered a status the download cannot use, such as a redirect. */
  sourceUnexpectedStatus: 'SourceUnexpectedStatus',
  /** The call failed without an HTTP answer (connection, DNS, TLS). */
  sourceUnreachable: 'SourceUnreachable',
  /** API Gateway had no deployed route for the call: the proxy is missing or not deployed. */
  proxyNotDeployed: 'ProxyNotDeployed',
  /** API Gateway refused the state machine's role (IAM_ROLE auth without execute-api:Invoke). */
  proxyAccessDenied: 'ProxyAccessDenied',
  /**
   * The HTTP Task could not use its EventBridge connection: deauthorized, being updated, or its
   * credentials unreadable by the state machine's role.
   */
  connectionUnavailable: 'ConnectionUnavailable',
  /** A spec.select path names a field the download result lacks. */
  selectPathMismatch: 'SelectPathMismatch',
  /** A spec.item path names a field the download (or selected) result lacks. */
  itemPathMismatch: 'ItemPathMismatch',
  /** spec.itemsPath names no list in the download result. */
  itemsPathMismatch: 'ItemsPathMismatch',
  /** The first page has no page count at pageCountHeader or pageCountPath, or not a number. */
  pageCountUnreadable: 'PageCountUnreadable',
  /** A next link (NextLink without cursorParameter) is not a path without query string. */
  nextLinkUnsupported: 'NextLinkUnsupported',
  /** DynamoDB refused the item: wrong key types, an empty key, a value of the wrong type... */
  itemInvalid: 'ItemInvalid',
  /** The download result exceeds the 256 KiB Step Functions payload limit. */
  resultTooLarge: 'ResultTooLarge',
  /** The state machine's role may not write to the table. */
  tableAccessDenied: 'TableAccessDenied',
  /** The table does not exist (deleted, or not yet ACTIVE). */
  tableNotFound: 'TableNotFound',
  /** DynamoDB throttled or failed the write until the retries ran out. */
  tableUnavailable: 'TableUnavailable',
  /** The state machine's role lacks a permission Step Functions checked itself. */
  permissionDenied: 'PermissionDenied',
  /** A task or the execution ran out of time. */
  timedOut: 'TimedOut',
  /** Someone stopped the execution (StopExecution, or a redrive policy). */
  executionAborted: 'ExecutionAborted',
  /** Any other failure; the message carries the error name. */
  executionFailed: 'ExecutionFailed',
} as const;

export type ExecutionFailureReason =
  (typeof EXECUTION_FAILURE_REASONS)[keyof typeof EXECUTION_FAILURE_REASONS];

/** A failed execution, explained. */
export interface ExecutionFailure {
  reason: ExecutionFailureReason;
  message: string;
}

/** Options of `classifyExecutionError`. */
export interface ClassifyOptions {
  /**
   * Strings to mask in the message, typically the current credential: the cause of a source
   * error is the source's response body, and a source may echo request headers back.
   */
  redact?: readonly string[];
  /** Longest cause kept in the message, in characters. Default 512. */
  maxCauseLength?: number;
}

const DEFAULT_MAX_CAUSE_LENGTH = 512;

/**
 * Texts API Gateway itself puts in the body of its 403 answers. `ApiGateway.403` alone cannot
 * tell API Gateway's refusal from the source's, and the remedy differs (deploy or grant vs fix
 * the credential), so for this one name the cause is read.
 */
const MISSING_ROUTE_MESSAGE = 'Missing Authentication Token';
const IAM_DENIAL_MESSAGE = 'is not authorized to perform';

/**
 * The cause of a States.Runtime error names the state it happened in ("An error occurred while
 * executing the state 'Download' ..."). The name alone cannot tell a bad select path from a bad
 * item path, and they are fixed in different fields, so the cause is read for the state name.
 */
const RUNTIME_IN_DOWNLOAD = `state '${DOWNLOAD_STATE}'`;

/** States whose runtime errors mean the page count could not be read (or used). */
const PAGE_COUNT_STATES = [
  MULTI_REQUEST_STATES.readPageCount,
  MULTI_REQUEST_STATES.parsePageCount,
  MULTI_REQUEST_STATES.listPages,
].map((name) => `state '${name}'`);

/** States whose runtime errors mean spec.itemsPath is not a list in the download result. */
const ITEMS_STATES = [
  MULTI_REQUEST_STATES.writeItems,
  MULTI_REQUEST_STATES.writeFirstPageItems,
  MULTI_REQUEST_STATES.writePageItems,
].map((name) => `state '${name}'`);

/**
 * The error moto's interpreter (the local cloud) reports for a Map whose ItemsPath is not an
 * array; AWS reports States.Runtime.
 */
const QUERY_EVALUATION_ERROR = 'States.QueryEvaluationError';

/**
 * `DynamoDB.AmazonDynamoDBException` names no cause. Step Functions on AWS reports a missing item
 * path as States.Runtime, but the local cloud's interpreter (moto) reports it under this name with
 * this text, and the remedy (fix the path, not the value) differs, so the cause is read.
 */
const PATH_NOT_FOUND_MESSAGE = 'could not be found in the input';

function describe(cause: string | undefined, options: ClassifyOptions): string {
  if (!cause) return '';
  let text = cause;
  for (const secret of options.redact ?? []) {
    if (secret.length > 0) text = text.split(secret).join('[redacted]');
  }
  const max = options.maxCauseLength ?? DEFAULT_MAX_CAUSE_LENGTH;
  if (text.length > max) text = `${text.slice(0, max)}...`;
  return `: ${text}`;
}

function classifySourceStatus(status: number, cause: string | undefined): ExecutionFailureReason {
  if (status === 403 && cause?.includes(MISSING_ROUTE_MESSAGE)) {
    return EXECUTION_FAILURE_REASONS.proxyNotDeployed;
  }
  if (status === 403 && cause?.includes(IAM_DENIAL_MESSAGE)) {
    return EXECUTION_FAILURE_REASONS.proxyAccessDenied;
  }
  if (status === 401 || status === 403) return EXECUTION_FAILURE_REASONS.sourceUnauthorized;
  if (status === 404) return EXECUTION_FAILURE_REASONS.sourceNotFound;
  if (status === 429) return EXECUTION_FAILURE_REASONS.sourceThrottled;
  if (status >= 500) return EXECUTION_FAILURE_REASONS.sourceServerError;
  if (status >= 400) return EXECUTION_FAILURE_REASONS.sourceRejectedRequest;
  return EXECUTION_FAILURE_REASONS.sourceUnexpectedStatus;
}

const DYNAMODB_REASONS: Record<string, ExecutionFailureReason> = {
  [DYNAMODB_ERRORS.validation]: EXECUTION_FAILURE_REASONS.itemInvalid,
  [DYNAMODB_ERRORS.accessDenied]: EXECUTION_FAILURE_REASONS.tableAccessDenied,
  [DYNAMODB_ERRORS.resourceNotFound]: EXECUTION_FAILURE_REASONS.tableNotFound,
  [DYNAMODB_ERRORS.provisionedThroughputExceeded]: EXECUTION_FAILURE_REASONS.tableUnavailable,
  [DYNAMODB_ERRORS.throttling]: EXECUTION_FAILURE_REASONS.tableUnavailable,
  [DYNAMODB_ERRORS.requestLimitExceeded]: EXECUTION_FAILURE_REASONS.tableUnavailable,
  [DYNAMODB_ERRORS.internalServerError]: EXECUTION_FAILURE_REASONS.tableUnavailable,
  [DYNAMODB_ERRORS.serviceUnavailable]: EXECUTION_FAILURE_REASONS.tableUnavailable,
};

const STATES_REASONS: Record<string, ExecutionFailureReason> = {
  [STATES_ERRORS.dataLimitExceeded]: EXECUTION_FAILURE_REASONS.resultTooLarge,
  [STATES_ERRORS.timeout]: EXECUTION_FAILURE_REASONS.timedOut,
  [STATES_ERRORS.permissions]: EXECUTION_FAILURE_REASONS.permissionDenied,
  // Execution statuses that end a run without an error name; callers may pass them instead.
  TIMED_OUT: EXECUTION_FAILURE_REASONS.timedOut,
  ABORTED: EXECUTION_FAILURE_REASONS.executionAborted,
};

function reasonOf(error: string, cause: string | undefined): ExecutionFailureReason {
  const status = statusOfApiGatewayError(error);
  if (status !== undefined) return classifySourceStatus(status, cause);
  // The HTTP Task calls the source itself: every status is the source's own answer.
  const httpStatus = statusOfHttpTaskError(error);
  if (httpStatus !== undefined) return classifySourceStatus(httpStatus, undefined);
  if (error === HTTP_TASK_SOCKET_ERROR) return EXECUTION_FAILURE_REASONS.sourceUnreachable;
  if (error.startsWith(CONNECTION_ERROR_PREFIX)) {
    return EXECUTION_FAILURE_REASONS.connectionUnavailable;
  }
  if (error.startsWith(API_GATEWAY_ERROR_PREFIX))
    return EXECUTION_FAILURE_REASONS.sourceUnreachable;
  if (error === DYNAMODB_ERRORS.generic) {
    return cause?.includes(PATH_NOT_FOUND_MESSAGE)
      ? EXECUTION_FAILURE_REASONS.itemPathMismatch
      : EXECUTION_FAILURE_REASONS.itemInvalid;
  }
  if (error === MULTI_REQUEST_ERRORS.pageCountUnreadable) {
    return EXECUTION_FAILURE_REASONS.pageCountUnreadable;
  }
  if (error === MULTI_REQUEST_ERRORS.nextLinkUnsupported) {
    return EXECUTION_FAILURE_REASONS.nextLinkUnsupported;
  }
  if (error === STATES_ERRORS.runtime || error === QUERY_EVALUATION_ERROR) {
    if (PAGE_COUNT_STATES.some((state) => cause?.includes(state))) {
      return EXECUTION_FAILURE_REASONS.pageCountUnreadable;
    }
    if (ITEMS_STATES.some((state) => cause?.includes(state))) {
      return EXECUTION_FAILURE_REASONS.itemsPathMismatch;
    }
    return cause?.includes(RUNTIME_IN_DOWNLOAD)
      ? EXECUTION_FAILURE_REASONS.selectPathMismatch
      : EXECUTION_FAILURE_REASONS.itemPathMismatch;
  }
  return (
    DYNAMODB_REASONS[error] ?? STATES_REASONS[error] ?? EXECUTION_FAILURE_REASONS.executionFailed
  );
}

/**
 * The reason and message for a failed execution's error and cause, or undefined when there is no
 * error (the execution did not fail). Classifies by error name (`ApiGateway.<status>` and the
 * HTTP Task's `States.Http.StatusCode.<status>` alike); the cause is read only for
 * `ApiGateway.403`, `States.Runtime` (for the state it names) and
 * `DynamoDB.AmazonDynamoDBException`, whose names cover
 * cases with different remedies. Unknown names give ExecutionFailed. The execution statuses
 * TIMED_OUT and ABORTED, which carry no error name, are accepted in place of one. The message is
 * "<error>: <cause>", the cause redacted and shortened per `options`.
 */
export function classifyExecutionError(
  error: string | undefined,
  cause: string | undefined,
  options: ClassifyOptions = {},
): ExecutionFailure | undefined {
  if (!error) return undefined;
  return { reason: reasonOf(error, cause), message: `${error}${describe(cause, options)}` };
}
