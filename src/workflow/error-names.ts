/**
 * Error names the generated state machine retries on and the operator classifies. Step Functions
 * matches ErrorEquals by exact, case-sensitive name; only `States.ALL` and `States.TaskFailed`
 * act as wildcards, so every other name is listed here in full.
 */

/**
 * Built-in error names (docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
 * `TaskFailed` in a retrier matches every error except `States.Timeout`, ApiGateway.4xx
 * included. `Runtime` and `DataLimitExceeded` are terminal: no retrier or catcher applies.
 */
export const STATES_ERRORS = {
  all: 'States.ALL',
  timeout: 'States.Timeout',
  taskFailed: 'States.TaskFailed',
  permissions: 'States.Permissions',
  runtime: 'States.Runtime',
  dataLimitExceeded: 'States.DataLimitExceeded',
} as const;

/**
 * Prefix of the errors of the `apigateway:invoke` integration. AWS documents ("Call API Gateway
 * with Step Functions", Error handling, docs.aws.amazon.com/step-functions/latest/dg/
 * connect-api-gateway.html) that a non-2XX answer fails the task with `ApiGateway.<HTTP status
 * code>` (for example `ApiGateway.403`, the cause being the response body as a string), and a
 * failure without a status with `ApiGateway.<Exception>`. The exception names are not documented.
 */
export const API_GATEWAY_ERROR_PREFIX = 'ApiGateway.';

/** The error name the invoke task reports for an answer with this HTTP status. */
export function apiGatewayStatusError(status: number): string {
  return `${API_GATEWAY_ERROR_PREFIX}${status}`;
}

/** The HTTP status of an `ApiGateway.<status>` error name, or undefined for other names. */
export function statusOfApiGatewayError(error: string): number | undefined {
  const match = /^ApiGateway\.([1-9][0-9]{2})$/.exec(error);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/**
 * Prefix of the errors of the HTTP Task (`http:invoke`). AWS documents ("Call HTTPS APIs in Step
 * Functions workflows", docs.aws.amazon.com/step-functions/latest/dg/call-https-apis.html) that
 * a non-2XX answer fails the task with `States.Http.StatusCode.<HTTP status code>`, and a
 * request that gets no answer in time with `States.Http.Socket`.
 */
export const HTTP_TASK_STATUS_ERROR_PREFIX = 'States.Http.StatusCode.';
/** The HTTP Task's error for a request that got no answer (socket timeout, connection reset). */
export const HTTP_TASK_SOCKET_ERROR = 'States.Http.Socket';
/**
 * Prefix of the errors the HTTP Task reports when its EventBridge connection cannot be used
 * (deauthorized, being updated, its secret unreadable).
 */
export const CONNECTION_ERROR_PREFIX = 'Events.ConnectionResource.';

/** The error name the HTTP Task reports for an answer with this HTTP status. */
export function httpTaskStatusError(status: number): string {
  return `${HTTP_TASK_STATUS_ERROR_PREFIX}${status}`;
}

/** The HTTP status of a `States.Http.StatusCode.<status>` error name, or undefined. */
export function statusOfHttpTaskError(error: string): number | undefined {
  const match = /^States\.Http\.StatusCode\.([1-9][0-9]{2})$/.exec(error);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** Source answers worth retrying after a longer wait: the source asked us to slow down. */
export const SOURCE_THROTTLED_STATUSES: readonly number[] = [429];

/**
 * Source (or proxy) answers that are usually transient. 502 and 504 also come from API Gateway
 * itself when the source cannot be reached or takes longer than the integration timeout.
 */
export const SOURCE_TRANSIENT_STATUSES: readonly number[] = [500, 502, 503, 504];

const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, index) => from + index);

/**
 * Non-2XX statuses that retrying cannot fix: the registered redirects (the proxy does not follow
 * them), every 4xx but 429, and the 5xx that say the request itself is unsupported. They are
 * listed with MaxAttempts 0 ahead of the `States.TaskFailed` retrier, which would otherwise match
 * them. Unregistered 5xx (such as a CDN's 52x) are left to that bounded retrier.
 */
export const SOURCE_PERMANENT_STATUSES: readonly number[] = [
  ...[300, 301, 302, 303, 304, 305, 307, 308],
  ...range(400, 499).filter((status) => !SOURCE_THROTTLED_STATUSES.includes(status)),
  ...[501, 505, 506, 507, 508, 510, 511],
];

/**
 * Errors of the optimized `dynamodb:*` integrations: `DynamoDB.` (upper-case DB) followed by the
 * DynamoDB exception name (docs.aws.amazon.com/step-functions/latest/dg/connect-ddb.html,
 * "Exception prefix differences"). Exception names from the DynamoDB service model
 * (@aws-sdk/client-dynamodb) and "Error handling with DynamoDB" in the DynamoDB developer guide.
 */
export const DYNAMODB_ERRORS = {
  provisionedThroughputExceeded: 'DynamoDB.ProvisionedThroughputExceededException',
  throttling: 'DynamoDB.ThrottlingException',
  requestLimitExceeded: 'DynamoDB.RequestLimitExceeded',
  /** HTTP 500. The exception is named InternalServerError, without "Exception". */
  internalServerError: 'DynamoDB.InternalServerError',
  /** HTTP 503, AWS's common error code for a temporarily unavailable service. */
  serviceUnavailable: 'DynamoDB.ServiceUnavailable',
  validation: 'DynamoDB.ValidationException',
  accessDenied: 'DynamoDB.AccessDeniedException',
  resourceNotFound: 'DynamoDB.ResourceNotFoundException',
  /**
   * The SDK's base exception, reported for errors without a modelled name (such as a malformed
   * attribute value). The local cloud (moto) also reports a failed item path this way.
   */
  generic: 'DynamoDB.AmazonDynamoDBException',
} as const;

/** DynamoDB errors the put-item task retries: throttling and server-side failures. */
export const DYNAMODB_RETRYABLE_ERRORS: readonly string[] = [
  DYNAMODB_ERRORS.provisionedThroughputExceeded,
  DYNAMODB_ERRORS.throttling,
  DYNAMODB_ERRORS.requestLimitExceeded,
  DYNAMODB_ERRORS.internalServerError,
  DYNAMODB_ERRORS.serviceUnavailable,
];
