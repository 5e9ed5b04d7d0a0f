import type { DownloaderSpec } from '../api/downloader-spec.js';
import type { JsonValue, PayloadTemplate, Retrier, StateMachineDefinition } from './asl.js';
import {
  DYNAMODB_RETRYABLE_ERRORS,
  SOURCE_PERMANENT_STATUSES,
  SOURCE_THROTTLED_STATUSES,
  SOURCE_TRANSIENT_STATUSES,
  STATES_ERRORS,
  apiGatewayStatusError,
} from './error-names.js';
import { itemTemplate, selectTemplate } from './item-mapping.js';
import { headerLists, splitPath } from './source-request.js';

/**
 * The state machine of a Downloader, generated from its spec: the article's two Task states,
 * "download" (`apigateway:invoke` through the proxy, optionally narrowed by a ResultSelector)
 * and "persist" (`dynamodb:putItem`), plus retries, timeouts and a Comment naming the owner.
 *
 * STANDARD and EXPRESS workflows get the same definition: the type is a CreateStateMachine
 * parameter, not part of ASL, and both types support everything used here.
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

function copyRetriers(retriers: readonly Retrier[]): Retrier[] {
  return retriers.map((retrier) => ({ ...retrier, ErrorEquals: [...retrier.ErrorEquals] }));
}

function downloadParameters(input: DefinitionInput): PayloadTemplate {
  const { source } = input.spec;
  const { path, query } = splitPath(source.path);
  const headers = headerLists(source.headers);

  const parameters: PayloadTemplate = {
    ApiEndpoint: input.apiEndpoint,
    Method: source.method,
    Stage: input.stage,
    Path: path,
  };
  if (Object.keys(query).length > 0) parameters.QueryParameters = query;
  if (Object.keys(headers).length > 0) parameters.Headers = headers;
  parameters.AuthType = input.authType ?? 'NO_AUTH';
  return parameters;
}

/**
 * The state machine definition for a Downloader. Pure: the same input always gives the same
 * definition (user maps are sorted), so `renderDefinition` of it can be compared with what is
 * deployed. Nothing from `spec.source.auth` is used: the proxy adds the credential.
 *
 * Throws DefinitionError (terminal) when the spec cannot be expressed, for example a header that
 * Step Functions refuses to send.
 *
 * Item paths that name a field the download result lacks are not detectable here; they fail at
 * run time with States.Runtime, which `classifyExecutionError` reports as ItemPathMismatch.
 */
export function buildDefinition(input: DefinitionInput): StateMachineDefinition {
  const { spec } = input;
  const partition = input.partition ?? 'aws';

  const download = {
    Type: 'Task' as const,
    Resource: `arn:${partition}:states:::apigateway:invoke`,
    Parameters: downloadParameters(input),
    ...(spec.select ? { ResultSelector: selectTemplate(spec.select) } : {}),
    TimeoutSeconds: DOWNLOAD_TIMEOUT_SECONDS,
    Retry: copyRetriers(DOWNLOAD_RETRY),
    Next: PERSIST_STATE,
  };
  const persist = {
    Type: 'Task' as const,
    Resource: `arn:${partition}:states:::dynamodb:putItem`,
    Parameters: { TableName: input.tableName, Item: itemTemplate(spec.item) },
    // The PutItem response (HTTP metadata) is of no use; keep the downloaded data as output.
    ResultPath: null,
    TimeoutSeconds: PERSIST_TIMEOUT_SECONDS,
    Retry: copyRetriers(PERSIST_RETRY),
    End: true as const,
  };

  return {
    Comment: `Downloader ${input.namespace}/${input.name}, ${MANAGED_BY_COMMENT}`,
    StartAt: DOWNLOAD_STATE,
    States: { [DOWNLOAD_STATE]: download, [PERSIST_STATE]: persist },
  };
}

/**
 * Order of ASL keywords in rendered definitions, so they read as in the AWS documentation; other
 * keys (user attribute names, header names) follow in code-point order.
 */
const KEY_ORDER = [
  'Comment',
  'StartAt',
  'States',
  'Type',
  'Resource',
  'Parameters',
  'ApiEndpoint',
  'Method',
  'Stage',
  'Path',
  'QueryParameters',
  'Headers',
  'RequestBody',
  'AuthType',
  'TableName',
  'Item',
  'ResultSelector',
  'ResultPath',
  'TimeoutSeconds',
  'Retry',
  'ErrorEquals',
  'IntervalSeconds',
  'MaxAttempts',
  'BackoffRate',
  'MaxDelaySeconds',
  'JitterStrategy',
  'Next',
  'End',
];
const KEY_RANK = new Map(KEY_ORDER.map((key, index) => [key, index]));

function compareKeys(a: string, b: string): number {
  const rankA = KEY_RANK.get(a) ?? KEY_ORDER.length;
  const rankB = KEY_RANK.get(b) ?? KEY_ORDER.length;
  if (rankA !== rankB) return rankA - rankB;
  return a < b ? -1 : a > b ? 1 : 0;
}

function canonical(value: unknown): JsonValue {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    const result: Record<string, JsonValue> = {};
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record).sort(compareKeys)) {
      if (record[key] !== undefined) result[key] = canonical(record[key]);
    }
    return result;
  }
  return value as JsonValue;
}

/**
 * The definition as CreateStateMachine/UpdateStateMachine take it: JSON with a fixed key order
 * (ASL keywords first, in documentation order, then other keys sorted) and two-space indents,
 * so the same definition always renders to the same string.
 */
export function renderDefinition(definition: StateMachineDefinition): string {
  return JSON.stringify(canonical(definition), null, 2);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, index) => deepEqual(item, b[index]));
  }
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  const recordA = a as Record<string, unknown>;
  const recordB = b as Record<string, unknown>;
  const keysA = Object.keys(recordA);
  if (keysA.length !== Object.keys(recordB).length) return false;
  return keysA.every((key) => Object.hasOwn(recordB, key) && deepEqual(recordA[key], recordB[key]));
}

/**
 * Whether two definition strings describe the same state machine: both are parsed and compared
 * as JSON values, so whitespace and key order (which AWS may change when it stores a definition)
 * do not count; array order does. A string that is not JSON equals nothing.
 */
export function definitionsEqual(a: string, b: string): boolean {
  try {
    return deepEqual(JSON.parse(a), JSON.parse(b));
  } catch {
    return false;
  }
}
