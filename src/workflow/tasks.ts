import type { DownloaderSpec } from '../api/downloader-spec.js';
import type { PayloadTemplate, Retrier } from './asl.js';
import {
  DYNAMODB_RETRYABLE_ERRORS,
  SOURCE_PERMANENT_STATUSES,
  SOURCE_THROTTLED_STATUSES,
  SOURCE_TRANSIENT_STATUSES,
  STATES_ERRORS,
  apiGatewayStatusError,
  HTTP_TASK_SOCKET_ERROR,
  httpTaskStatusError,
} from './error-names.js';
import { DEFINITION_ERROR_REASONS, DefinitionError } from './definition-error.js';
import { headerLists, splitPath } from './source-request.js';

/**
 * What every generated state machine shares: the input of `buildDefinition`, the parameters of
 * the download (`apigateway:invoke`) task, and the retries and timeouts of the download and
 * put-item tasks, whichever states they sit in.
 */

/** Name of the state that calls the source through the API Gateway proxy. */
export const DOWNLOAD_STATE = 'Download';
/** Name of the state that writes the item to DynamoDB. */
export const PERSIST_STATE = 'Persist';

/** Marks definitions the operator owns, in their top-level Comment. */
export const MANAGED_BY_COMMENT = 'managed by downloader-operator';

/**
 * Upper bound of one download attempt. API Gateway ends a REST integration after 29 s by default
 * (and answers 504), so this only fires when the invocation itself hangs.
 */
export const DOWNLOAD_TIMEOUT_SECONDS = 60;
/** Upper bound of one put-item attempt; a healthy PutItem takes milliseconds. */
export const PERSIST_TIMEOUT_SECONDS = 20;

/** How the invoke task authenticates to the proxy (SigV4 with the state machine role, or not). */
export type InvokeAuthType = 'NO_AUTH' | 'IAM_ROLE';

/** What `buildDefinition` needs besides the spec: where things are in AWS. */
export interface DefinitionInput {
  /** Namespace and name of the Downloader, for the Comment. */
  namespace: string;
  name: string;
  spec: DownloaderSpec;
  /**
   * The ApiEndpoint of the invoke task: host[:port][/prefix], already resolved from the
   * configured template with the REST API id (for example
   * `abc123.execute-api.us-east-1.amazonaws.com`).
   */
  apiEndpoint: string;
  /** Stage of the proxy's deployment. */
  stage: string;
  /**
   * Path the proxy's integration does not add, put before every path the task requests: the
   * path of `source.url` (`/api/v1` for `https://host/api/v1`) when the proxy is shared by
   * Downloaders of one origin and forwards to the origin alone. Empty or absent for a proxy
   * that forwards to the whole `source.url`. No trailing "/".
   */
  pathPrefix?: string;
  /** The DynamoDB table written to (spec.table.name, or the adopted table's name). */
  tableName: string;
  /** AWS partition of the region, for the service integration ARNs. Default `aws`. */
  partition?: string;
  /**
   * AuthType of the invoke task. Default NO_AUTH, as in the seed article. IAM_ROLE signs the call
   * with the state machine's role, which the proxy can then require (authorization AWS_IAM) so
   * that only this role, granted `execute-api:Invoke` by `stateMachinePolicy`, can use it.
   */
  authType?: InvokeAuthType;
  /**
   * Call the source directly with the HTTP Task (`http:invoke`) instead of through the proxy:
   * `apiEndpoint`, `stage` and `authType` are then unused.
   */
  httpTask?: HttpTaskTarget;
}

/** Where an HTTP Task sends its requests, and the connection that authenticates them. */
export interface HttpTaskTarget {
  /** `spec.source.url` without a trailing slash: the request path is appended to it. */
  sourceUrl: string;
  /** ARN of the EventBridge connection (Authentication.ConnectionArn). */
  connectionArn: string;
}

const statusErrors = (statuses: readonly number[]): string[] => statuses.map(apiGatewayStatusError);

/**
 * Retriers of the download task, in the order Step Functions tries them (first match wins):
 * 1. 429 from the source: longer waits, as the source asked us to slow down.
 * 2. 5xx that are usually transient, and a hung attempt (States.Timeout).
 * 3. Statuses retrying cannot fix (every other 4xx, redirects, 501...): MaxAttempts 0. They are
 *    listed because the next retrier would otherwise match them:
 * 4. States.TaskFailed, for failures without an HTTP status (`ApiGateway.<Exception>`, names AWS
 *    does not document, such as a connection reset). It matches every error but States.Timeout.
 * Retries use exponential backoff with full jitter and bounded attempts.
 */
export const DOWNLOAD_RETRY: readonly Retrier[] = [
  {
    ErrorEquals: statusErrors(SOURCE_THROTTLED_STATUSES),
    IntervalSeconds: 5,
    MaxAttempts: 3,
    BackoffRate: 2,
    MaxDelaySeconds: 30,
    JitterStrategy: 'FULL',
  },
  {
    ErrorEquals: [...statusErrors(SOURCE_TRANSIENT_STATUSES), STATES_ERRORS.timeout],
    IntervalSeconds: 2,
    MaxAttempts: 3,
    BackoffRate: 2,
    MaxDelaySeconds: 20,
    JitterStrategy: 'FULL',
  },
  {
    ErrorEquals: statusErrors(SOURCE_PERMANENT_STATUSES),
    MaxAttempts: 0,
  },
  {
    ErrorEquals: [STATES_ERRORS.taskFailed],
    IntervalSeconds: 2,
    MaxAttempts: 2,
    BackoffRate: 2,
    MaxDelaySeconds: 10,
    JitterStrategy: 'FULL',
  },
];

/**
 * Retriers of the HTTP Task, the same policy as DOWNLOAD_RETRY under the HTTP Task's error names:
 * `States.Http.StatusCode.<status>` for answers, States.Http.Socket (no answer) among the
 * transient ones.
 */
export const HTTP_DOWNLOAD_RETRY: readonly Retrier[] = DOWNLOAD_RETRY.map((retrier) => ({
  ...retrier,
  ErrorEquals: retrier.ErrorEquals.flatMap((name) => {
    const status = /^ApiGateway\.([0-9]{3})$/.exec(name)?.[1];
    if (status !== undefined) return [httpTaskStatusError(Number(status))];
    return name === STATES_ERRORS.timeout ? [HTTP_TASK_SOCKET_ERROR, name] : [name];
  }),
}));

/**
 * Retriers of the put-item task: DynamoDB throttling and server errors, and a hung attempt.
 * Validation, access and missing-table errors are not retried: waiting does not fix them.
 * PutItem of the same item is idempotent, so a retry after an unknown outcome is safe.
 */
export const PERSIST_RETRY: readonly Retrier[] = [
  {
    ErrorEquals: [...DYNAMODB_RETRYABLE_ERRORS, STATES_ERRORS.timeout],
    IntervalSeconds: 1,
    MaxAttempts: 5,
    BackoffRate: 2,
    MaxDelaySeconds: 20,
    JitterStrategy: 'FULL',
  },
];

/** A deep copy of retriers, so that definitions never share (and mutate) the constants. */
export function copyRetriers(retriers: readonly Retrier[]): Retrier[] {
  return retriers.map((retrier) => ({ ...retrier, ErrorEquals: [...retrier.ErrorEquals] }));
}

/**
 * A JSONPath `Path.$` value for a path read from the state at `statePath`, with `prefix` put
 * before it: the state path itself without a prefix, else a States.Format whose literal part
 * escapes what intrinsic function strings reserve (`'`, `{`, `}` and `\`).
 */
export function prefixedPathValue(prefix: string | undefined, statePath: string): string {
  if (!prefix) return statePath;
  const literal = prefix.replace(/[\\'{}]/g, (c) => `\\${c}`);
  return `States.Format('${literal}{}', ${statePath})`;
}

/** The invoke task's parameters for `spec.source` as it is: its path, query and headers. */
export function downloadParameters(input: DefinitionInput): PayloadTemplate {
  const { source } = input.spec;
  const { path, query } = splitPath(source.path);
  const headers = headerLists(source.headers);

  const parameters: PayloadTemplate = {
    ApiEndpoint: input.apiEndpoint,
    Method: source.method,
    Stage: input.stage,
    Path: `${input.pathPrefix ?? ''}${path}`,
  };
  if (Object.keys(query).length > 0) parameters.QueryParameters = query;
  if (Object.keys(headers).length > 0) parameters.Headers = headers;
  parameters.AuthType = input.authType ?? 'NO_AUTH';
  return parameters;
}

/** The download task's resource ARN: `apigateway:invoke`, or `http:invoke` for the HTTP Task. */
export function downloadResource(input: DefinitionInput): string {
  const partition = input.partition ?? 'aws';
  return `arn:${partition}:states:::${input.httpTask ? 'http' : 'apigateway'}:invoke`;
}

/** The download task's retriers for the transport of `input`. */
export function downloadRetry(input: DefinitionInput): Retrier[] {
  return copyRetriers(input.httpTask ? HTTP_DOWNLOAD_RETRY : DOWNLOAD_RETRY);
}

/** Escapes text for the template of States.Format, where ', {, } and \\ are special. */
function formatTemplate(text: string): string {
  return text.replace(/[\\'{}]/g, (c) => `\\${c}`);
}

/**
 * The download task's parameters for the transport of `input`, from the `apigateway:invoke`
 * parameters the generator builds (`downloadParameters`, then adjusted per page or fan-out
 * request). For the HTTP Task:
 * - `ApiEndpoint` is the full URL: the source URL and `Path`, or, for a `Path.$` chosen at run
 *   time, `ApiEndpoint.$` formatted from the source URL and that path;
 * - `QueryParameters` and `Headers` take one string per name where apigateway:invoke takes
 *   lists: a list of several values is refused (DefinitionError), and `States.Array(x)`
 *   expressions become `x`;
 * - `Authentication.ConnectionArn` names the connection, which adds the credential;
 * - `Stage` and `AuthType` go.
 * Parameters for API Gateway are returned unchanged.
 */
export function transportParameters(
  input: DefinitionInput,
  parameters: PayloadTemplate,
): PayloadTemplate {
  const target = input.httpTask;
  if (!target) return parameters;

  const result: PayloadTemplate = {};
  const pathExpression = parameters['Path.$'];
  if (typeof pathExpression === 'string') {
    result['ApiEndpoint.$'] =
      `States.Format('${formatTemplate(target.sourceUrl)}{}', ${pathExpression})`;
  } else {
    const path = typeof parameters.Path === 'string' ? parameters.Path : '';
    result.ApiEndpoint = `${target.sourceUrl}${path}`;
  }
  result.Method = parameters.Method ?? 'GET';
  result.Authentication = { ConnectionArn: target.connectionArn };
  const query = singleValues('source.path query parameter', parameters.QueryParameters);
  if (query) result.QueryParameters = query;
  const headers = singleValues('source.headers', parameters.Headers);
  if (headers) result.Headers = headers;
  return result;
}

/** A map of value lists (or `States.Array(...)` expressions) as a map of single values. */
function singleValues(what: string, lists: unknown): PayloadTemplate | undefined {
  if (lists === undefined || lists === null || typeof lists !== 'object') return undefined;
  const result: PayloadTemplate = {};
  for (const [key, value] of Object.entries(lists as Record<string, unknown>)) {
    if (key.endsWith('.$') && typeof value === 'string') {
      const inner = /^States\.Array\((.*)\)$/.exec(value)?.[1];
      result[key] = inner ?? value;
      continue;
    }
    const values = Array.isArray(value) ? value : [value];
    if (values.length !== 1) {
      throw new DefinitionError(
        DEFINITION_ERROR_REASONS.repeatedQueryParameter,
        `${what} ${key}: the HTTP Task sends one value per name; ${values.length} given`,
      );
    }
    result[key] = values[0] as PayloadTemplate[string];
  }
  return Object.keys(result).length > 0 ? result : undefined;
}
